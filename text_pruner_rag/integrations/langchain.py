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

:class:`TextPrunerCrossEncoder` is a ``langchain_core.cross_encoders.BaseCrossEncoder`` for code that
already uses LangChain's ``CrossEncoderReranker``:

    >>> from langchain_classic.retrievers.document_compressors import CrossEncoderReranker
    >>> reranker = CrossEncoderReranker(model=TextPrunerCrossEncoder(), top_n=3)

Only ``langchain-core`` is needed to import this module; ``ContextualCompressionRetriever``,
``CrossEncoderReranker`` and ``DocumentCompressorPipeline`` live in ``langchain-classic``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import TYPE_CHECKING, Any, Optional, Sequence, Union

try:
    from langchain_core.callbacks import AsyncCallbackManager, CallbackManager, Callbacks
    from langchain_core.cross_encoders import BaseCrossEncoder
    from langchain_core.documents import BaseDocumentCompressor, Document
except ImportError as exc:
    raise ImportError(
        'TextPrunerCompressor needs langchain-core: pip install "text-pruner-rag[langchain]"'
    ) from exc

from text_pruner_rag.integrations.settings import PrunerSettings, check_query

if TYPE_CHECKING:
    from text_pruner_rag import TextPruner

__all__ = ["TextPrunerCompressor", "TextPrunerCrossEncoder"]

logger = logging.getLogger(__name__)
_LOAD_LOCK = threading.Lock()


class TextPrunerCompressor(PrunerSettings, BaseDocumentCompressor):
    """Reranks documents for a query and removes their irrelevant sentences, in one batched pass.

    Every returned document is a copy made with ``Document.model_copy`` (so ``Document.id`` is kept)
    whose ``page_content`` holds only the kept sentences, in their original order and byte-for-byte.
    The input documents are never modified. Metadata of each copy (a new dict holding the input's
    values, not copies of them, so locks and API clients in metadata are fine):

    - ``relevance_score`` (float): the reranking score (higher is more relevant). Overwrites
      the key if an earlier reranker set it. ``-inf`` for a document with no text.
    - ``compression_rate`` (float): fraction in [0, 1] of the document's characters removed.
    - ``original_page_content`` (str, only with ``keep_original=True``): the unpruned text. If the
      input already has this key (an earlier compression step), the earlier, more original value is kept.

    Selection runs in this order: prune, ``on_empty``, ``score_threshold``, ``top_n``, then ordering
    (``reorder``); see :mod:`text_pruner_rag.integrations.settings`. With ``on_empty="drop"`` (the default) and
    nothing relevant retrieved, the result can be ``[]``; use ``on_empty="best_sentence"`` or
    ``min_sentences=1`` to always get something back for every document.

    Each call is reported to the LangChain callbacks it is given (inside a
    ``ContextualCompressionRetriever``, the retriever's child run manager) as a chain run named
    ``TextPrunerCompressor``, with inputs ``{"query", "documents"}`` and outputs ``{"documents"}``; an
    exception is reported with ``on_chain_error`` and re-raised. So the compression step shows up in
    LangSmith or any tracer under the retriever run.

    ``model_dump()`` records ``model`` (the path or hub id, also when built from ``pruner=``), so
    ``TextPrunerCompressor(**compressor.model_dump())`` reloads the same model; it raises
    ``ValueError`` when the pruner was built in memory (``pruner.name_or_path is None``).

    With ``on_error="passthrough"``, a failure to load or run the model returns the input documents
    unchanged (the same objects, all of them, in input order) after one logged warning; see
    :mod:`text_pruner_rag.integrations.settings`.

    Args:
        model (str, optional): pruner name or path, loaded on first use. Defaults to the embedded model.
        pruner (Pruner, optional): an already loaded pruner (a :class:`~text_pruner_rag.TextPruner` or any
            :class:`~text_pruner_rag.protocols.Pruner`) instead of ``model``; it can be shared by many
            compressors and LlamaIndex postprocessors.
        policy (PruningPolicy, optional): every pruning option at once.
        threshold, min_sentences, keep_first, keep_ratio, context_token_budget, token_budget, always_select_title: the
            :class:`~text_pruner_rag.policy.PruningPolicy` options, replacing the policy's fields
            when not None.
        title_key (str | None): the metadata key of each document's title (default ``"title"``); see
            :mod:`text_pruner_rag.integrations.settings`. None: titles are not read.
        prune, on_empty, score_threshold, top_n, reorder, keep_original, batch_size, device, on_error: see the
            field descriptions.

    Raises:
        ValueError: when ``pruner`` is given together with ``model`` or ``device``.
        TypeError: ``pruner`` is not a loaded pruner (no ``prune_many``).
        pydantic.ValidationError: for an unknown option, a value PruningPolicy (or a field bound)
            refuses, a bool where a number belongs, or a device that does not exist here.
    """

    def compress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Optional[Callbacks] = None
    ) -> list[Document]:
        """Rerank and prune ``documents`` for ``query``.

        Args:
            documents (Sequence[Document]): the retrieved documents; may be empty.
            query (str): the user query.
            callbacks: LangChain callbacks or callback manager; the call is reported to them as a
                chain run (see the class docstring).

        Returns:
            list[Document]: pruned copies, chosen and ordered as described in the class docstring
            (with ``on_error="passthrough"`` after a model failure: the input documents, unchanged).

        Raises:
            TypeError, ValueError: ``query`` is not a non-empty str (in every ``on_error`` mode).
            Exception: whatever loading or running the model raised, with ``on_error="raise"``.
        """
        manager = CallbackManager.configure(inheritable_callbacks=callbacks, local_metadata=self._run_metadata())
        run = manager.on_chain_start(None, {"query": query, "documents": list(documents)}, name=type(self).__name__)
        try:
            output = self._compress(documents, query)
        except BaseException as exc:
            run.on_chain_error(exc)
            raise
        run.on_chain_end({"documents": output})
        return output

    def _compress(self, documents: Sequence[Document], query: str) -> list[Document]:
        if not documents:
            return []
        check_query(query, type(self).__name__)
        texts = [doc.page_content for doc in documents]
        titles = self._titles([doc.metadata for doc in documents])
        return self._to_documents(documents, self._run(query, texts, titles))

    def _run_metadata(self) -> dict[str, Any]:
        policy = self.pruning_policy
        return {"top_n": self.top_n, "token_budget": policy.token_budget, "threshold": policy.threshold}

    async def acompress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Optional[Callbacks] = None
    ) -> list[Document]:
        """Async :meth:`compress_documents`.

        The batched forward pass is blocking, compute-bound torch code (and the first call also
        loads the model), so it runs in a worker thread with :func:`asyncio.to_thread`: the event
        loop keeps serving other coroutines meanwhile (torch releases the GIL inside its kernels),
        and ``to_thread`` carries the current ``contextvars`` (LangChain tracing context) into the
        thread. Selecting and copying the documents is cheap and runs on the loop. Callbacks are
        reported as in :meth:`compress_documents`, through an ``AsyncCallbackManager``.
        """
        manager = AsyncCallbackManager.configure(inheritable_callbacks=callbacks, local_metadata=self._run_metadata())
        run = await manager.on_chain_start(
            None, {"query": query, "documents": list(documents)}, name=type(self).__name__
        )
        try:
            if documents:
                check_query(query, type(self).__name__)
                texts = [doc.page_content for doc in documents]
                titles = self._titles([doc.metadata for doc in documents])
                output = self._to_documents(documents, await asyncio.to_thread(self._run, query, texts, titles))
            else:
                output = []
        except BaseException as exc:
            await run.on_chain_error(exc)
            raise
        await run.on_chain_end({"documents": output})
        return output

    def _to_documents(self, documents: Sequence[Document], chosen: Optional[list]) -> list[Document]:
        if chosen is None:  # on_error="passthrough" after a failure
            return list(documents)
        output = []
        for kept in chosen:
            doc = documents[kept.index]
            metadata = dict(doc.metadata)  # shallow on purpose: metadata may hold locks or clients
            metadata["relevance_score"] = kept.score
            metadata["compression_rate"] = kept.compression_rate
            if self.keep_original:
                metadata.setdefault("original_page_content", doc.page_content)
            output.append(doc.model_copy(update={"page_content": kept.text, "metadata": metadata}))
        return output


class TextPrunerCrossEncoder(BaseCrossEncoder):
    """A LangChain ``BaseCrossEncoder`` backed by a :class:`~text_pruner_rag.TextPruner` (reranking only).

    For code built on LangChain's ``CrossEncoderReranker`` (langchain-classic), which needs a
    ``BaseCrossEncoder`` with ``score(text_pairs)``; the documents are reordered, not pruned (use
    :class:`TextPrunerCompressor` to also prune them). All pairs of a call are scored in one batched
    :meth:`TextPruner.predict <text_pruner_rag.TextPruner.predict>` pass.

    Example:
        >>> from langchain_classic.retrievers import ContextualCompressionRetriever
        >>> from langchain_classic.retrievers.document_compressors import CrossEncoderReranker
        >>> reranker = CrossEncoderReranker(model=TextPrunerCrossEncoder(), top_n=3)
        >>> retriever = ContextualCompressionRetriever(base_compressor=reranker, base_retriever=base)

    Args:
        model (str | PathLike, optional): pruner path or hub id, loaded on first use; None = the
            embedded default model. Not allowed with ``pruner``.
        pruner (TextPruner, optional): an already loaded pruner (may be shared with other adapters).
        device (str, optional): device to load ``model`` on. None: picked by TextPruner.
        batch_size (int, optional): token windows per forward pass. None: the pruner's own.

    Raises:
        ValueError: ``pruner`` together with ``model`` or ``device``, ``batch_size < 1``, or a device
            that does not exist here.
        TypeError: ``pruner`` is not a loaded pruner (no ``predict``).
    """

    def __init__(
        self,
        model: Optional[Union[str, "os.PathLike[str]"]] = None,
        *,
        pruner: Optional["TextPruner"] = None,
        device: Optional[str] = None,
        batch_size: Optional[int] = None,
    ) -> None:
        if pruner is not None and (model is not None or device is not None):
            raise ValueError("TextPrunerCrossEncoder takes either `pruner` or `model`/`device`, not both.")
        from text_pruner_rag.options import check_optional_count

        try:
            check_optional_count(batch_size, "batch_size", minimum=1)
        except TypeError as exc:
            raise ValueError(str(exc)) from None
        if pruner is not None and not callable(getattr(pruner, "predict", None)):
            raise TypeError(
                f"`pruner` must be a loaded TextPruner (an object with predict), got {type(pruner).__name__}; "
                "to load a checkpoint by name or path, pass model=... instead"
            )
        if device is not None:  # checked now, not at the first query
            from text_pruner_rag.loading import resolve_device

            resolve_device(device)
        self.model = None if model is None else str(model)
        self.device = device
        self.batch_size = batch_size
        self._pruner = pruner

    @property
    def pruner(self) -> "TextPruner":
        """The :class:`~text_pruner_rag.TextPruner`, loaded from ``model`` on first access."""
        if self._pruner is None:
            with _LOAD_LOCK:
                if self._pruner is None:
                    from text_pruner_rag import TextPruner

                    logger.info("Loading pruner %s", self.model or "(embedded default model)")
                    self._pruner = TextPruner.from_pretrained(self.model, device=self.device)
        return self._pruner

    def score(self, text_pairs: list[tuple[str, str]]) -> list[float]:
        """Reranking score of each ``(query, document)`` pair (higher = more relevant).

        Args:
            text_pairs (list[tuple[str, str]]): the pairs; may be empty.

        Returns:
            list[float]: one score per pair, in order; ``-inf`` for a document with no text.

        Raises:
            TypeError, ValueError: a malformed pair or an empty query (see ``TextPruner.predict``).
        """
        pairs = list(text_pairs)
        if not pairs:
            return []
        scores = self.pruner.predict(pairs, batch_size=self.batch_size, show_progress_bar=False)
        return [float(x) for x in scores]

    def __repr__(self) -> str:
        source = self.model if self._pruner is None else getattr(self._pruner, "name_or_path", None)
        return f"TextPrunerCrossEncoder(model={source!r})"
