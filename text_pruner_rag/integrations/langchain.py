"""LangChain document compressor: rerank and prune retrieved documents with a TextPruner.

Example:
    >>> from langchain_classic.retrievers import ContextualCompressionRetriever
    >>> from text_pruner_rag.integrations.langchain import TextPrunerCompressor
    >>> retriever = ContextualCompressionRetriever(
    ...     base_compressor=TextPrunerCompressor(top_n=3),
    ...     base_retriever=vector_store.as_retriever(search_kwargs={"k": 10}),
    ... )
    >>> docs = retriever.invoke("Who did Tesla partner with in 1886?")
    >>> [(d.id, d.metadata["relevance_score"], d.metadata["compression_rate"]) for d in docs]

Only ``langchain-core`` is needed to import this module; ``ContextualCompressionRetriever`` and
``DocumentCompressorPipeline`` live in ``langchain-classic``.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Optional, Sequence

try:
    from langchain_core.callbacks import Callbacks
    from langchain_core.documents import BaseDocumentCompressor, Document
except ImportError as exc:
    raise ImportError(
        'TextPrunerCompressor needs langchain-core: pip install "text-pruner-rag[langchain]"'
    ) from exc

from text_pruner_rag.integrations import PrunerSettings

__all__ = ["TextPrunerCompressor"]


class TextPrunerCompressor(PrunerSettings, BaseDocumentCompressor):
    """Reranks documents for a query and removes their irrelevant sentences, in one batched pass.

    Every returned document is a copy made with ``Document.model_copy`` (so ``Document.id`` is kept)
    whose ``page_content`` holds only the kept sentences, in their original order and byte-for-byte.
    The input documents are never modified. Metadata of each copy (a deep copy of the input's):

    - ``relevance_score`` (float | None): the reranking score (higher is more relevant). Overwrites
      the key if an earlier reranker set it. None for a document with no text.
    - ``compression_rate`` (float): fraction in [0, 1] of the document's characters removed.
    - ``original_page_content`` (str, only with ``keep_original=True``): the unpruned text. If the
      input already has this key (an earlier compression step), the earlier, more original value is kept.

    Selection runs in this order: prune, ``on_empty``, ``score_threshold``, ``top_n``, then ordering
    (``reorder``); see :mod:`text_pruner_rag.integrations`. With ``on_empty="drop"`` (the default) and
    nothing relevant retrieved, the result can be ``[]``; use ``on_empty="best_sentence"`` or
    ``min_sentences=1`` to always get something back for every document.

    Args:
        model (str, optional): pruner name or path, loaded on first use. Defaults to the embedded model.
        pruner (TextPruner, optional): an already loaded pruner instead of ``model``; it can be shared
            by many compressors and LlamaIndex postprocessors.
        threshold, min_sentences, keep_first, on_empty, score_threshold, top_n, reorder,
        keep_original, batch_size, device: see the field descriptions.

    Raises:
        ValueError: when ``pruner`` is given together with ``model`` or ``device``.
        pydantic.ValidationError: for an unknown option or an out-of-range value.
    """

    def compress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Optional[Callbacks] = None
    ) -> list[Document]:
        """Rerank and prune ``documents`` for ``query``.

        Args:
            documents (Sequence[Document]): the retrieved documents; may be empty.
            query (str): the user query.
            callbacks: accepted for the LangChain interface; unused (no LLM or tool is called).

        Returns:
            list[Document]: pruned copies, chosen and ordered as described in the class docstring.
        """
        if not documents:
            return []
        texts = [doc.page_content for doc in documents]
        return self._to_documents(documents, texts, self._prune(query, texts))

    async def acompress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Optional[Callbacks] = None
    ) -> list[Document]:
        """Async :meth:`compress_documents`.

        The batched forward pass is blocking, compute-bound torch code (and the first call also
        loads the model), so it runs in a worker thread with :func:`asyncio.to_thread`: the event
        loop keeps serving other coroutines meanwhile (torch releases the GIL inside its kernels),
        and ``to_thread`` carries the current ``contextvars`` (LangChain tracing context) into the
        thread. Selecting and copying the documents is cheap and runs on the loop.
        """
        if not documents:
            return []
        texts = [doc.page_content for doc in documents]
        results = await asyncio.to_thread(self._prune, query, texts)
        return self._to_documents(documents, texts, results)

    def _to_documents(self, documents: Sequence[Document], texts: list[str], results: list) -> list[Document]:
        output = []
        for kept in self._select(texts, results):
            doc = documents[kept.index]
            metadata = copy.deepcopy(doc.metadata)
            metadata["relevance_score"] = kept.score
            metadata["compression_rate"] = kept.compression_rate
            if self.keep_original:
                metadata.setdefault("original_page_content", doc.page_content)
            output.append(doc.model_copy(update={"page_content": kept.text, "metadata": metadata}))
        return output
