"""Both adapters inside real framework pipelines, over real TextPruners.

Each test runs twice: with the tiny random pruner of ``tests/conftest.py`` (skipped if that fixture
is unavailable) and with the embedded default model (skipped when the package has no embedded model).
The random model's choices are arbitrary, so the shared tests check structure and invariants; the
default model is also checked for ranking the answering paragraph first.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.vectorstores import InMemoryVectorStore
from llama_index.core import VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import TextNode
from text_pruner_rag.integrations.langchain import TextPrunerCompressor
from text_pruner_rag.integrations.llama_index import TextPrunerPostprocessor

QUESTION = "In what year did Marie Curie win her second Nobel Prize?"
ANSWER_ID = "curie"
CORPUS = {
    "curie": "Marie Curie was a physicist and chemist born in Warsaw. She shared the 1903 Nobel Prize in "
    "Physics with Pierre Curie and Henri Becquerel. In 1911 she won her second Nobel Prize, in Chemistry. "
    "She founded the Curie Institutes in Paris and in Warsaw.",
    "rhine": "The Rhine rises in the Swiss Alps. It flows north through Basel and along the border of "
    "France and Germany. It reaches the North Sea in the Netherlands.",
    "oxygen": "Oxygen is a chemical element with symbol O. It was discovered by Carl Wilhelm Scheele and "
    "by Joseph Priestley in the 1770s. It makes up about a fifth of the air.",
    "apollo": "The Apollo program landed the first humans on the Moon in 1969. Neil Armstrong and Buzz "
    "Aldrin walked on the surface. Michael Collins stayed in lunar orbit.",
    "primes": "A prime number is a natural number greater than 1 with no divisors other than 1 and itself. "
    "There are infinitely many primes. The twin prime conjecture is still open.",
}
K, TOP_N = 4, 3


def embedded_model_installed() -> bool:
    import text_pruner_rag

    pretrained = Path(text_pruner_rag.__file__).parent / "pretrained"
    return any(pretrained.glob("*/config.json"))


@functools.lru_cache(maxsize=1)
def load_default_pruner():
    from text_pruner_rag import TextPruner

    return TextPruner.from_pretrained(device="cpu")


@pytest.fixture(params=["tiny", "default"])
def real_pruner(request):
    if request.param == "default":
        if not embedded_model_installed():
            pytest.skip("no embedded default model in text_pruner_rag/pretrained")
        return load_default_pruner()
    try:
        return request.getfixturevalue("tiny_pruner")
    except pytest.skip.Exception:
        raise
    except Exception as exc:  # the fixture is missing or cannot build its model yet
        pytest.skip(f"tiny_pruner fixture unavailable: {exc!r}")


def is_made_of_spans(pruned: str, original: str) -> bool:
    """True when ``pruned`` is ``original`` with some characters removed (order kept)."""
    position = 0
    for char in pruned:
        position = original.find(char, position)
        if position < 0:
            return False
        position += 1
    return True


def check_scores_and_texts(items: list[tuple[str, str, float]]) -> None:
    """items: (id, pruned text, reranking score) as returned, best first."""
    assert 1 <= len(items) <= TOP_N
    scores = [score for _, _, score in items]
    assert all(isinstance(score, float) for score in scores)
    assert scores == sorted(scores, reverse=True)
    for doc_id, text, _ in items:
        assert text.strip() and is_made_of_spans(text, CORPUS[doc_id])


# -- LangChain ------------------------------------------------------------------------------------
def langchain_pipeline(pruner):
    store = InMemoryVectorStore(DeterministicFakeEmbedding(size=32))
    store.add_documents([Document(page_content=text, id=i, metadata={"topic": i}) for i, text in CORPUS.items()])
    compressor = TextPrunerCompressor(pruner=pruner, top_n=TOP_N, on_empty="best_sentence", keep_original=True)
    retriever = ContextualCompressionRetriever(
        base_compressor=compressor, base_retriever=store.as_retriever(search_kwargs={"k": K})
    )
    return store, retriever


def check_langchain_output(docs: list[Document], store: InMemoryVectorStore) -> None:
    check_scores_and_texts([(d.id, d.page_content, d.metadata["relevance_score"]) for d in docs])
    for doc in docs:
        assert doc.metadata["topic"] == doc.id
        assert doc.metadata["original_page_content"] == CORPUS[doc.id]
        assert 0.0 <= doc.metadata["compression_rate"] <= 1.0
    assert [d.page_content for d in store.get_by_ids(list(CORPUS))] == list(CORPUS.values())


def test_contextual_compression_retriever_invoke(real_pruner):
    store, retriever = langchain_pipeline(real_pruner)
    check_langchain_output(retriever.invoke(QUESTION), store)


async def test_contextual_compression_retriever_ainvoke(real_pruner):
    store, retriever = langchain_pipeline(real_pruner)
    docs = await retriever.ainvoke(QUESTION)
    check_langchain_output(docs, store)
    sync_docs = retriever.invoke(QUESTION)
    assert [(d.id, d.page_content) for d in docs] == [(d.id, d.page_content) for d in sync_docs]


# -- LlamaIndex -----------------------------------------------------------------------------------
def llama_index_pipeline(pruner):
    nodes = [TextNode(text=text, id_=i, metadata={"topic": i}) for i, text in CORPUS.items()]
    index = VectorStoreIndex(nodes, embed_model=MockEmbedding(embed_dim=8))
    postprocessor = TextPrunerPostprocessor(pruner=pruner, top_n=TOP_N, on_empty="best_sentence", keep_original=True)
    engine = RetrieverQueryEngine.from_args(
        index.as_retriever(similarity_top_k=K), llm=MockLLM(), node_postprocessors=[postprocessor]
    )
    return index, engine


def check_llama_index_response(response, index: VectorStoreIndex) -> None:
    nodes = response.source_nodes
    check_scores_and_texts([(n.node.node_id, n.node.get_content(), n.score) for n in nodes])
    for node in nodes:
        assert node.node.metadata["original_text"] == CORPUS[node.node.node_id]
        assert isinstance(node.node.metadata["retrieval_score"], float)
    prompt = str(response)  # MockLLM echoes the prompt it was given
    assert "topic: " in prompt
    assert "original_text" not in prompt and "retrieval_score" not in prompt and "compression_rate" not in prompt
    for node_id, text in CORPUS.items():
        assert index.docstore.get_node(node_id).get_content() == text


def test_retriever_query_engine_query(real_pruner):
    index, engine = llama_index_pipeline(real_pruner)
    check_llama_index_response(engine.query(QUESTION), index)


async def test_retriever_query_engine_aquery(real_pruner):
    index, engine = llama_index_pipeline(real_pruner)
    response = await engine.aquery(QUESTION)
    check_llama_index_response(response, index)
    sync_nodes = engine.query(QUESTION).source_nodes
    assert [n.node.get_content() for n in response.source_nodes] == [n.node.get_content() for n in sync_nodes]


# -- Embedded default model only: it should find the answer -------------------------------------------
def test_default_model_ranks_the_answer_first():
    if not embedded_model_installed():
        pytest.skip("no embedded default model in text_pruner_rag/pretrained")
    documents = [Document(page_content=text, id=i) for i, text in CORPUS.items()]
    docs = TextPrunerCompressor(pruner=load_default_pruner()).compress_documents(documents, QUESTION)
    assert docs[0].id == ANSWER_ID
    assert "1911" in docs[0].page_content
    # Unrelated documents lose sentences, and at least one is dropped whole (on_empty="drop").
    assert len(docs) < len(CORPUS)
    assert all(d.metadata["compression_rate"] > 0.0 for d in docs[1:])
