"""LangChain retriever: a base retriever whose documents are reranked and pruned by a TextPruner.

:class:`TextPrunerRetriever` is the small ``BaseRetriever`` that LangChain's partner packages provide
(``k`` = how many documents to return, in the constructor or per call), so it passes the
``langchain-tests`` standard suite ``RetrieversIntegrationTests``. It does what
``ContextualCompressionRetriever(base_compressor=TextPrunerCompressor(...), base_retriever=...)``
does, without ``langchain-classic``, and with a ``k`` that the reranking applies (in
``ContextualCompressionRetriever`` an ``invoke(query, k=...)`` reaches the base retriever instead).

Example:
    >>> from text_pruner_rag.integrations.langchain import TextPrunerCompressor
    >>> from text_pruner_rag.integrations.langchain_retriever import TextPrunerRetriever
    >>> retriever = TextPrunerRetriever(
    ...     base_retriever=vector_store.as_retriever(search_kwargs={"k": 20}),
    ...     compressor=TextPrunerCompressor(),
    ...     k=4,
    ... )
    >>> docs = retriever.invoke("Who did Tesla partner with in 1886?")          # at most 4
    >>> docs = retriever.invoke("Who did Tesla partner with in 1886?", k=2)     # at most 2
"""

from __future__ import annotations

from typing import Optional

try:
    from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
except ImportError as exc:
    raise ImportError(
        'TextPrunerRetriever needs langchain-core: pip install "text-pruner-rag[langchain]"'
    ) from exc
from pydantic import ConfigDict, Field

from text_pruner_rag.integrations.langchain import TextPrunerCompressor

__all__ = ["TextPrunerRetriever"]


class TextPrunerRetriever(BaseRetriever):
    """Retrieve with ``base_retriever``, then rerank and prune with ``compressor``; return at most ``k``.

    **What ``k`` counts.** ``k`` is the most documents returned: the ``k`` with the highest
    reranking score (``metadata["relevance_score"]``) among the documents the compressor returns,
    in the compressor's order (best first by default; retrieval order with ``reorder=False``). A
    document pruned to nothing is not counted: with the compressor's default ``on_empty="drop"`` it
    is dropped before the ``k`` best are taken, so fewer than ``k`` come back when fewer than ``k``
    retrieved documents keep a sentence (an emptied document never pads the result). For exactly
    ``min(k, retrieved)`` documents, give the compressor ``on_empty="best_sentence"`` (each emptied
    document keeps its most probable sentence) or ``on_empty="keep"``. The compressor's own
    ``top_n`` and ``score_threshold`` apply first, so the result is at most ``min(k, top_n)``.

    The base retriever decides how many documents are read (e.g. ``search_kwargs={"k": 20}``); read
    more than ``k`` so the reranking has a choice. ``invoke(query, k=2)`` overrides ``k`` for one call.

    Args:
        base_retriever (BaseRetriever): the first-stage retriever (vector store, BM25, ...).
        compressor (TextPrunerCompressor): reranks and prunes the retrieved documents; its options
            (model, threshold, ``on_empty``, ``top_n``, ``reorder``, ...) apply. Defaults to
            ``TextPrunerCompressor()`` (the embedded default model, loaded on first use).
        k (int): the most documents returned, >= 1. Defaults to 4 (LangChain's usual default).

    Raises:
        pydantic.ValidationError: ``k`` < 1 or not an int, or an unknown option.
        ValueError: at call time, a per-call ``k`` < 1 (or not an int).
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    base_retriever: BaseRetriever = Field(description="The first-stage retriever whose documents are pruned.")
    compressor: TextPrunerCompressor = Field(
        default_factory=TextPrunerCompressor,
        description="Reranks and prunes the retrieved documents (TextPrunerCompressor).",
    )
    k: int = Field(default=4, ge=1, strict=True, description="The most documents returned (after pruning).")

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: Optional[int] = None
    ) -> list[Document]:
        limit = self._limit(k)
        documents = self.base_retriever.invoke(query, config={"callbacks": run_manager.get_child()})
        pruned = self.compressor.compress_documents(documents, query, callbacks=run_manager.get_child())
        return _best(pruned, limit)

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, k: Optional[int] = None
    ) -> list[Document]:
        limit = self._limit(k)
        documents = await self.base_retriever.ainvoke(query, config={"callbacks": run_manager.get_child()})
        pruned = await self.compressor.acompress_documents(documents, query, callbacks=run_manager.get_child())
        return _best(pruned, limit)

    def _limit(self, k: Optional[int]) -> int:
        if k is None:
            return self.k
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"`k` must be an int >= 1, got {k!r}")
        return k


def _best(documents: list[Document], k: int) -> list[Document]:
    """The ``k`` documents with the highest ``relevance_score`` (None lowest, ties: earlier first), in
    their given order."""

    def score(i: int) -> float:
        value = documents[i].metadata.get("relevance_score")
        return float("-inf") if value is None else float(value)

    chosen = sorted(range(len(documents)), key=lambda i: (-score(i), i))[:k]
    return [documents[i] for i in sorted(chosen)]
