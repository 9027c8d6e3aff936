"""TextPrunerRetriever: LangChain's standard retriever suite on the embedded default model, and what
``k`` means when documents are pruned to nothing (with the fake pruner)."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("langchain_core")
pytest.importorskip("langchain_tests")

from fake_pruner import QUERY, TEXTS, FakePruner  # noqa: E402
from langchain_core.documents import Document  # noqa: E402
from langchain_core.embeddings import DeterministicFakeEmbedding  # noqa: E402
from langchain_core.retrievers import BaseRetriever  # noqa: E402
from langchain_core.vectorstores import InMemoryVectorStore  # noqa: E402
from langchain_tests.integration_tests import RetrieversIntegrationTests  # noqa: E402

from text_pruner_rag.integrations.langchain import TextPrunerCompressor  # noqa: E402
from text_pruner_rag.integrations.langchain_retriever import TextPrunerRetriever  # noqa: E402

EIFFEL = [
    "The Eiffel Tower was designed by the engineering company of Gustave Eiffel. It opened in 1889.",
    "Maurice Koechlin and Emile Nouguier, engineers of Eiffel's company, drew the first design of the tower.",
    "Stephen Sauvestre, an architect, added the arches at the base of the Eiffel Tower.",
    "Gustave Eiffel also designed the internal frame of the Statue of Liberty.",
    "The tower is 330 metres tall and was the tallest structure in the world until 1930.",
    "Paris is the capital of France. The Seine flows through the city.",
]
_PRUNER: list[Any] = []


def _pruner():
    """The embedded default model, loaded once for the whole module."""
    if not _PRUNER:
        from text_pruner_rag import TextPruner

        _PRUNER.append(TextPruner.from_pretrained(device="cpu"))
    return _PRUNER[0]


def _vector_store_retriever(texts: list[str], fetch: int) -> BaseRetriever:
    store = InMemoryVectorStore(embedding=DeterministicFakeEmbedding(size=32))
    store.add_documents([Document(page_content=t, id=str(i)) for i, t in enumerate(texts)])
    return store.as_retriever(search_kwargs={"k": fetch})


class TestTextPrunerRetrieverStandard(RetrieversIntegrationTests):
    """langchain-tests' ``RetrieversIntegrationTests``: ``k`` in the constructor and in ``invoke``,
    documents from ``invoke`` and ``ainvoke``."""

    @property
    def retriever_constructor(self) -> type[TextPrunerRetriever]:
        return TextPrunerRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {
            "base_retriever": _vector_store_retriever(EIFFEL, fetch=len(EIFFEL)),
            "compressor": TextPrunerCompressor(pruner=_pruner()),
            "k": 4,
        }

    @property
    def retriever_query_example(self) -> str:
        return "Who designed the Eiffel Tower?"


class _ListRetriever(BaseRetriever):
    """Returns its documents in their order, whatever the query (a retrieval order the tests know)."""

    documents: list[Document]

    def _get_relevant_documents(self, query: str, *, run_manager: Any) -> list[Document]:
        return list(self.documents)


def _fake_retriever(**options) -> TextPrunerRetriever:
    compressor = TextPrunerCompressor(pruner=FakePruner(), **options.pop("compressor", {}))
    base = _ListRetriever(documents=[Document(page_content=t, id=str(i)) for i, t in enumerate(TEXTS)])
    return TextPrunerRetriever(base_retriever=base, compressor=compressor, **options)


def test_k_counts_documents_that_keep_a_sentence_and_emptied_ones_never_pad():
    # the fake pruner empties documents 1 and 2 of TEXTS; 0 (score 1.0) and 3 (2/3) keep a sentence
    docs = _fake_retriever(k=3).invoke(QUERY)
    assert [d.id for d in docs] == ["0", "3"] and all(d.page_content for d in docs)
    assert [d.id for d in _fake_retriever(k=3).invoke(QUERY, k=1)] == ["0"]


def test_with_on_empty_best_sentence_k_documents_come_back():
    docs = _fake_retriever(k=3, compressor={"on_empty": "best_sentence"}).invoke(QUERY)
    assert [d.id for d in docs] == ["0", "3", "2"]  # best first; document 2 by its best sentence (1/3)
    assert docs[2].page_content == "New buildings rise there."


def test_k_keeps_the_best_scored_in_the_compressors_order():
    docs = _fake_retriever(k=2, compressor={"on_empty": "keep", "reorder": False}).invoke(QUERY)
    assert [d.id for d in docs] == ["0", "3"]  # retrieval order of the two best
    docs = _fake_retriever(k=4, compressor={"on_empty": "keep", "reorder": False, "top_n": 2}).invoke(QUERY)
    assert [d.id for d in docs] == ["0", "3"]  # the compressor's top_n applies first


async def test_ainvoke_applies_k_like_invoke():
    retriever = _fake_retriever(k=3, compressor={"on_empty": "keep"})
    assert [d.id for d in await retriever.ainvoke(QUERY, k=2)] == [d.id for d in retriever.invoke(QUERY, k=2)]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "3"])
def test_a_bad_k_is_refused(bad):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        _fake_retriever(k=bad)
    with pytest.raises(ValueError, match=r"`k` must be an int >= 1"):
        _fake_retriever().invoke(QUERY, k=bad)


def test_the_real_model_returns_pruned_copies_with_scores():
    docs = TextPrunerRetriever(
        base_retriever=_vector_store_retriever(EIFFEL, fetch=len(EIFFEL)),
        compressor=TextPrunerCompressor(pruner=_pruner(), threshold=0.3), k=2,
    ).invoke("Who designed the Eiffel Tower?")
    assert 1 <= len(docs) <= 2
    for doc in docs:
        original = EIFFEL[int(doc.id)]
        assert doc.page_content and doc.page_content in original  # original sentences, in order
        assert isinstance(doc.metadata["relevance_score"], float) and 0.0 <= doc.metadata["compression_rate"] <= 1.0
    scores = [d.metadata["relevance_score"] for d in docs]
    assert scores == sorted(scores, reverse=True)
