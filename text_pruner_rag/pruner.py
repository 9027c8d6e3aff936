"""`TextPruner`: the public API. It checks arguments, builds the policy once per call, picks the model
that reads the call (:mod:`~text_pruner_rag.routing`) and hands the call to :mod:`~text_pruner_rag.engine`.

The empty-context score: a context with no text (empty or whitespace-only) scores ``-inf``
(:data:`~text_pruner_rag.results.NO_TEXT_SCORE`) in ``prune``, ``prune_many``, ``rerank``, ``predict``
and ``rank`` alike, so it ranks last; JSON output writes it as ``null``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch

from . import engine, registry
from .backends import BatchRunner, check_backend
from .chunking import SUPPORTED_LANGUAGES
from .encoding import WindowEncoder
from .engine import PreparedContext
from .loading import (  # noqa: F401  (re-exported: old import paths keep working)
    DEFAULT_MODEL_NAME,
    EMBEDDED_MODELS,
    JAPANESE_MODEL_NAME,
    PRETRAINED_DIR,
    default_model_path,
    embedded_model_dir,
    load_checkpoint,
    resolve_device,
    resolve_dtype,
)
from .modeling import TextPrunerModel
from .options import (  # noqa: F401  (pairs_of re-exported)
    pairs_of,
    check_batch_titles,
    check_bool,
    check_context,
    check_count,
    check_language,
    check_optional_count,
    check_query,
    check_texts,
    check_unicode,
    check_titles,
    context_list,
)
from .policy import PruningPolicy
from .results import NO_TEXT_SCORE, PruningResult, RankedContext, format_scores  # noqa: F401
from .routing import LanguageRouter, Route, group_pairs, group_queries

__all__ = ["PreparedContext", "TextPruner", "default_model_path", "NO_TEXT_SCORE"]

Context = Union[str, Sequence[str]]
Title = Union[None, str, Sequence[Optional[str]]]
FALLBACK_THRESHOLD = 0.1
_Route = Route  # old private names, kept importable
_resolve_device, _resolve_dtype = resolve_device, resolve_dtype


def _check_batch_size(batch_size: Any) -> Optional[int]:
    return check_optional_count(batch_size, "batch_size", minimum=1)


def _check_context(context: Any) -> None:
    """One context of ``prune``: a str or a list of str, valid Unicode."""
    check_context(context, "context")


def _text_of(context: Any) -> str:
    return context if isinstance(context, str) else "".join(context)


class TextPruner:
    """Query-dependent context pruner and reranker (Provence method).

    One forward pass per token window gives a reranking score for the context and a keep
    probability for each token; sentences whose mean keep probability exceeds the threshold are
    kept, in order, exactly as written.

    Args:
        model (TextPrunerModel): the model (moved to ``device``).
        tokenizer: its fast tokenizer.
        device (str, optional): ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or ``"auto"``/None (first available).
        dtype (str | torch.dtype, optional): ``"float32"``, ``"bfloat16"``, ``"float16"``; None keeps the weights' dtype
            on GPU and uses float32 on CPU.
        max_length (int, optional): window size in tokens; defaults to the checkpoint's ``max_length``.
        batch_size (int): windows per forward pass. Defaults to 32.
        language (str): ``"auto"`` (per context), ``"en"`` or ``"ja"`` for sentence splitting (and, for a
            pruner with :attr:`routes`, which model reads a call). Defaults to ``"auto"``.
        backend (str): ``"torch"`` (default) runs :attr:`model` in PyTorch; ``"onnx"`` runs the same model
            exported to ONNX with ONNX Runtime on CPU (both heads; see :mod:`text_pruner_rag.backends.onnx`
            for where the exported file is cached). Needs the ``onnx`` extra.
        quantize (str, optional): with ``backend="onnx"``: None (fp32, same probabilities as torch within
            1e-3) or ``"int8"`` (dynamic int8 quantization: faster, a few sentence decisions may change).

    Raises:
        ValueError: bad ``language``, ``batch_size``, ``device``, ``dtype``, ``backend`` or ``quantize``;
            ``backend="onnx"`` with a non-CPU device or a dtype other than float32.
        ImportError: ``backend="onnx"`` without ``onnx``/``onnxruntime`` installed.
        OnnxExportError: the model cannot be exported to ONNX faithfully (use ``backend="torch"``).

    Example (the embedded English model, default threshold 0.03; output as printed, checked by
    ``tests/test_docs.py``):
        >>> pruner = TextPruner.from_pretrained()
        >>> query = "Who designed the Eiffel Tower?"
        >>> context = ("The Eiffel Tower is a wrought-iron lattice tower in Paris. It was designed by "
        ...            "Gustave Eiffel's company and built from 1887 to 1889. Bananas are rich in "
        ...            "potassium. The tower is 330 metres tall.")
        >>> r = pruner.prune(query, context)
        >>> [(f"{s.probability:.2f}", s.kept) for s in r.sentences]
        [('0.48', True), ('0.47', True), ('0.13', True), ('0.18', True)]
        >>> r.pruned_text == context  # the default favours recall: short passages are often kept whole
        True
        >>> pruner.prune(query, context, threshold=0.3).pruned_text
        "The Eiffel Tower is a wrought-iron lattice tower in Paris. It was designed by Gustave Eiffel's company and built from 1887 to 1889. "
        >>> r = pruner.prune("Who wrote Hamlet?", "Hamlet is a tragedy. It was written by Shakespeare. Paris is in France.")
        >>> [f"{s.probability:.2f}" for s in r.sentences]  # a short off-topic sentence can score high
        ['0.70', '0.72', '0.69']
        >>> pruner.prune("Who wrote Hamlet?", r.context, threshold=0.7).pruned_text
        'Hamlet is a tragedy. It was written by Shakespeare. '
    """

    def __init__(
        self,
        model: TextPrunerModel,
        tokenizer: Any,
        *,
        device: Optional[str] = None,
        dtype: Any = None,
        max_length: Optional[int] = None,
        batch_size: int = 32,
        language: str = "auto",
        backend: str = "torch",
        quantize: Optional[str] = None,
    ) -> None:
        check_backend(backend, quantize)
        check_language(language)
        batch_size = check_count(batch_size, "batch_size", minimum=1)
        self.device = resolve_device(device)
        torch_dtype = resolve_dtype(dtype)
        if torch_dtype is None and self.device.type == "cpu":
            torch_dtype = torch.float32
        self.model = model.to(device=self.device, dtype=torch_dtype) if torch_dtype else model.to(self.device)
        self.model.eval()
        self.tokenizer = tokenizer
        self.max_length = int(max_length or model.config.max_length)
        model_limit = getattr(model.backbone_config, "max_position_embeddings", None)
        if model_limit and self.max_length > model_limit:
            raise ValueError(f"max_length={self.max_length} exceeds the backbone's {model_limit} positions")
        self.batch_size = int(batch_size)
        self.language = language
        self.encoder = WindowEncoder(tokenizer, self.max_length)
        self.name_or_path: Optional[str] = None
        """What the pruner was loaded from: the path or hub id given to :meth:`from_pretrained`, or
        ``"text-pruner-minilm-l6-en"`` for the embedded default model; None for a pruner built
        directly from a model object (it cannot be reloaded by name, e.g. by a serialized adapter)."""
        self._runner: Optional[BatchRunner] = None
        self._unread: dict[str, str] = {}  # languages no installed model reads -> the pip command (warned once)
        self.router: Optional[LanguageRouter] = None
        """The :class:`~text_pruner_rag.routing.LanguageRouter` that picks the model of each call
        (:meth:`model_for`); None when this model reads everything (see :attr:`routes`)."""
        if backend == "onnx":
            self._use_onnx(quantize, checkpoint_folder=None)

    def _use_onnx(self, quantize: Optional[str], checkpoint_folder: Optional[Path]) -> None:
        if self.device.type != "cpu":
            raise ValueError(f"backend='onnx' runs on CPU only; got device={str(self.device)!r}")
        if self.model.dtype != torch.float32:
            raise ValueError(f"backend='onnx' exports float32 weights; got dtype={self.model.dtype}")
        from .backends.onnx import load_runner

        self._runner = load_runner(self.model, quantize=quantize, checkpoint_folder=checkpoint_folder)

    # -- loading ---------------------------------------------------------------------------------
    @classmethod
    def from_pretrained(
        cls,
        name_or_path: Optional[Union[str, os.PathLike]] = None,
        *,
        device: Optional[str] = None,
        dtype: Any = None,
        max_length: Optional[int] = None,
        batch_size: int = 32,
        language: str = "auto",
        backend: str = "torch",
        quantize: Optional[str] = None,
        allow_pickle: bool = False,
        revision: Optional[str] = None,
        token: Union[str, bool, None] = None,
        cache_dir: Optional[Union[str, os.PathLike]] = None,
        local_files_only: bool = False,
        language_routing: bool = True,
    ) -> "TextPruner":
        """Load a pruner: the embedded default (no argument), a local folder, or a hub id.

        Supports our checkpoints and OpenProvence, naver Provence and XProvence checkpoints, loaded
        natively (never with ``trust_remote_code``).

        Args:
            name_or_path (str | PathLike, optional): checkpoint folder or hub id; None (or
                ``"text-pruner-minilm-l6-en"`` when no local folder has that name) = the embedded
                default model (works offline): the English MiniLM model, which sends Japanese inputs
                to the embedded bilingual model ``"text-pruner-e5-small-ja-en"`` (see
                ``language_routing``). ``"text-pruner-e5-small-ja-en"`` loads the bilingual model
                alone. Recorded in :attr:`name_or_path`.
            device, dtype, max_length, batch_size, language, backend, quantize: see :class:`TextPruner`.
                With ``backend="onnx"``, a matching ``onnx/model.onnx`` (``onnx/model_int8.onnx``) in the
                checkpoint folder is used as is; otherwise the model is exported once into the user
                cache (``~/.cache/text-pruner-rag/onnx``, or ``$TEXT_PRUNER_RAG_CACHE/onnx``).
            allow_pickle (bool): accept ``pytorch_model.bin`` weights (read with ``weights_only=True``).
                Defaults to False.
            revision, token, cache_dir, local_files_only: hub download options, passed to
                ``huggingface_hub.snapshot_download`` (unused for a local folder).
            language_routing (bool): only for the embedded default model. True (default): a call whose
                query or any context is Japanese (:func:`~text_pruner_rag.chunking.detect_language`, or
                ``language="ja"``) is run whole by the bilingual model, loaded on first use with the
                same options; English calls use the English model (see :attr:`routes`). False: the
                English model reads everything (it cannot read Japanese). Ignored for other models.

        Raises:
            TypeError: an unknown keyword argument (Python's own check; nothing is silently ignored).
            ValueError: bad option values (see :class:`TextPruner`).
            FileNotFoundError: the path does not exist and the hub cannot be reached.
            CheckpointError: the checkpoint is malformed (message says what is wrong).
        """
        check_backend(backend, quantize)
        check_bool(language_routing, "language_routing")
        model, tokenizer, folder, embedded = load_checkpoint(
            name_or_path, allow_pickle=allow_pickle, revision=revision, token=token, cache_dir=cache_dir,
            local_files_only=local_files_only or None)
        pruner = cls(model, tokenizer, device=device, dtype=dtype, max_length=max_length,
                     batch_size=batch_size, language=language)
        pruner.name_or_path = embedded or str(name_or_path)
        if backend == "onnx":
            pruner._use_onnx(quantize, checkpoint_folder=folder)
        if embedded == DEFAULT_MODEL_NAME and language_routing:
            options = dict(device=device, dtype=dtype, max_length=max_length, batch_size=batch_size,
                           language=language, backend=backend, quantize=quantize)
            routes, pruner._unread = registry.routes_for(embedded, SUPPORTED_LANGUAGES)
            if routes:
                pruner.router = LanguageRouter(pruner, {
                    lang: Route(name, lambda name=name: cls.from_pretrained(name, **options))
                    for lang, name in routes.items()})
        return pruner

    def save_pretrained(
        self, path: Union[str, os.PathLike], *, backend: Optional[str] = None, quantize: Optional[str] = None
    ) -> None:
        """Write config.json, model.safetensors and the tokenizer files to ``path``.

        Only this model is written: :attr:`routes` are not (the embedded default re-creates its Japanese
        route when loaded with ``from_pretrained()``; a saved copy loaded from a folder has none).

        Args:
            path (str | PathLike): the checkpoint folder (created if missing).
            backend (str, optional): ``"onnx"`` also writes the exported graph, ``onnx/model.onnx`` (fp32)
                or ``onnx/model_int8.onnx`` (``quantize="int8"``), plus ``onnx/export.json``, which
                ``from_pretrained(path, backend="onnx", quantize=...)`` then loads without exporting.
                None/``"torch"``: the PyTorch files only.
            quantize (str, optional): None or ``"int8"``; only with ``backend="onnx"``.

        Raises:
            ValueError: bad ``backend``/``quantize``.
            OnnxExportError: the model cannot be exported to ONNX faithfully.
        """
        check_backend(backend or "torch", quantize)
        self.model.save_pretrained(str(path))
        self.tokenizer.save_pretrained(str(path))
        if backend == "onnx":
            from .backends.onnx import save_onnx

            save_onnx(self.model, path, quantize=quantize)

    @property
    def backend(self) -> str:
        """The inference backend in use: ``"torch"`` or ``"onnx"``."""
        return "torch" if self._runner is None else "onnx"

    @property
    def quantize(self) -> Optional[str]:
        """The quantization of the ONNX graph in use (``"int8"``), None for fp32 or the torch backend."""
        return getattr(self._runner, "quantize", None)

    @property
    def default_threshold(self) -> float:
        """The checkpoint's calibrated sentence keep threshold (0.1 when it records none)."""
        value = getattr(self.model.config, "default_threshold", None)
        return FALLBACK_THRESHOLD if value is None else float(value)

    @property
    def sentence_rounding(self) -> str:
        """How this checkpoint turns token keep probabilities into a sentence decision: ``"token_mean"``
        (ours, OpenProvence) or ``"fraction_above_threshold"`` (naver Provence); see
        :data:`~text_pruner_rag.policy.SENTENCE_ROUNDINGS`."""
        return getattr(self.model.config, "sentence_rounding", None) or "token_mean"

    @property
    def routes(self) -> dict[str, str]:
        """Languages sent to another model: ``{language: model name}``, e.g. ``{"ja":
        "text-pruner-e5-small-ja-en"}`` for the embedded default; empty when this model reads everything.

        A call (``prune``, ``prune_many``, ``rerank``, ``rank``) goes whole to the model
        :meth:`model_for` picks, so every score of one ranking comes from one model; ``predict`` picks
        per pair. The routed model uses its own :attr:`default_threshold`, sentence rounding and
        tokenizer (``token_budget`` counts its tokens)."""
        return {} if self.router is None else self.router.routes

    def model_for(self, query: Any = None, contexts: Sequence[Any] = (), language: Optional[str] = None) -> "TextPruner":
        """The model that reads a call with this query, these contexts and this ``language``: this
        pruner, or (with :attr:`routes`) a routed one, loaded on first use. See
        :meth:`LanguageRouter.model_for <text_pruner_rag.routing.LanguageRouter.model_for>`.

        Use it to count tokens the way a call's ``token_budget`` does:
        ``pruner.model_for(query, contexts).count_tokens(texts)``.

        Raises:
            ValueError: an unknown ``language``.
        """
        if self._unread:  # no installed model reads some language: warn once, read it here
            texts = [query, *contexts] if not isinstance(contexts, str) else [query, contexts]
            registry.warn_unread_languages(self._unread, texts, language or self.language, str(self.name_or_path))
        if self.router is None:
            check_language(language or self.language)
            return self
        return self.router.model_for(query, contexts, language)

    def forward_windows(self, ids: np.ndarray, mask: np.ndarray, types: Optional[np.ndarray]):
        """One batch through the model (torch or ONNX): keep probabilities ``(batch, sequence)`` and
        reranking scores ``(batch,)``, float32 numpy arrays. Inputs: int64 arrays ``(batch, sequence)``."""
        if self._runner is not None:
            return self._runner(ids, mask, types)
        out = self.model(
            input_ids=torch.from_numpy(ids).to(self.device), attention_mask=torch.from_numpy(mask).to(self.device),
            token_type_ids=None if types is None else torch.from_numpy(types).to(self.device),
        )
        keep = self.model.keep_probabilities(out.pruning_logits).cpu().numpy()
        return keep, self.model.ranking_scores(out.ranking_logits).cpu().numpy()

    # -- public API ------------------------------------------------------------------------------
    def prune(
        self,
        query: str,
        context: Context,
        *,
        policy: Optional[PruningPolicy] = None,
        threshold: Optional[float] = None,
        min_sentences: Optional[int] = None,
        keep_first: Optional[bool] = None,
        keep_ratio: Optional[float] = None,
        token_budget: Optional[int] = None,
        context_token_budget: Optional[int] = None,
        language: Optional[str] = None,
        title: Optional[str] = None,
        always_select_title: Optional[bool] = None,
    ) -> PruningResult:
        """Prune one context for one query.

        Args:
            query (str): the question.
            context (str | list[str]): the text, or its sentences already split (kept exactly;
                the context is then ``"".join(sentences)``).
            policy (PruningPolicy, optional): every pruning option at once. Defaults to
                ``PruningPolicy()`` (the checkpoint's threshold, no other rule).
            threshold (float, optional): keep a sentence iff its keep probability > threshold
                (``[0, 1]``); None: the policy's, else :attr:`default_threshold`.
            min_sentences, keep_first, keep_ratio, context_token_budget: see
                :class:`~text_pruner_rag.policy.PruningPolicy`; ``keep_ratio`` is a fraction of the
                sentences. None: the policy's value.
            token_budget (int, optional): at most this many tokens of the tokenizer of the model that
                prunes (no special tokens) in ``pruned_text``; see :meth:`prune_many`.
            language (str, optional): ``"auto"``, ``"en"`` or ``"ja"``; defaults to the pruner's.
            title (str, optional): the context's title: an explicit ``str``, read with the context (in
                front of its first window, as Provence/OpenProvence do) and reported apart in
                :attr:`PruningResult.title` (never in ``pruned_text``, ``compression_rate`` or the token
                budget); ``"first_sentence"``: the context's first sentence is its title; None (default):
                no title. See ``docs/titles.md``.
            always_select_title (bool, optional): keep the title whenever a sentence of the context is
                kept (the default when a title is given); False: only when its own keep probability
                passes the threshold. A :class:`~text_pruner_rag.policy.PruningPolicy` option.

        A keyword option that is not None replaces the same field of ``policy``
        (:meth:`PruningPolicy.from_options <text_pruner_rag.policy.PruningPolicy.from_options>`); option
        values follow the strict rule of :mod:`text_pruner_rag.options` (no ``"0.5"``, no ``5.0``).

        Returns:
            PruningResult: pruned text, reranking score (``-inf`` for a context with no text),
            compression rate (fraction of characters removed) and every sentence with its probability.

        Raises:
            TypeError: ``query``, ``context`` (or an item of a context list), ``title``, ``policy`` or an
                option has the wrong type.
            ValueError: empty query, a policy option out of range, or a query, context or title that is
                not valid Unicode (a lone surrogate; the message names ``query``, ``context`` or ``title``).
        """
        check_query(query)
        _check_context(context)
        titles = check_titles(title, 1)
        policy = PruningPolicy.from_options(
            policy, threshold=threshold, min_sentences=min_sentences, keep_first=keep_first, keep_ratio=keep_ratio,
            context_token_budget=context_token_budget, token_budget=token_budget,
            always_select_title=always_select_title)
        return self._prune(query, [context], policy, language, None, None, titles)[0]

    def prune_many(
        self,
        query: str,
        contexts: Sequence[Context],
        *,
        policy: Optional[PruningPolicy] = None,
        threshold: Optional[float] = None,
        min_sentences: Optional[int] = None,
        keep_first: Optional[bool] = None,
        keep_ratio: Optional[float] = None,
        token_budget: Optional[int] = None,
        context_token_budget: Optional[int] = None,
        language: Optional[str] = None,
        batch_size: Optional[int] = None,
        show_progress_bar: Optional[bool] = None,
        title: Title = None,
        always_select_title: Optional[bool] = None,
    ) -> list[PruningResult]:
        """Prune many contexts for one query; the windows of all contexts are batched together.

        Each context is split into sentences (or taken as given), cut into token windows of at most
        :attr:`max_length` tokens with the query repeated in each, and run through the model,
        ``batch_size`` windows per forward pass (windows of all contexts share batches, sorted by
        length; identical windows run once). A sentence's keep probability is the mean over its tokens
        (:class:`~text_pruner_rag.policy.SentenceAggregator`); a context's score is its best window's
        reranking score. The policy then decides per context, and ``token_budget`` across them.

        Args:
            query (str): the question.
            contexts (Sequence[str | list[str]]): ``n`` texts or pre-split sentence lists (a list of
                str is one context's sentences, kept exactly).
            policy (PruningPolicy, optional): every pruning option at once; see :meth:`prune`.
            threshold, min_sentences, keep_first, keep_ratio, context_token_budget: see :meth:`prune`.
            token_budget (int, optional): a hard cap: at most this many tokens over **all** the returned
                ``pruned_text`` together, counted with the tokenizer of the model that pruned them (the
                one :meth:`model_for` picks for this call; no special tokens), whatever the languages of
                the query, the contexts and the kept sentences. After the other rules, the most relevant
                kept sentences across all contexts (highest keep probability, ties: higher reranking
                score) are kept while they fit; the rest are removed (see :mod:`text_pruner_rag.budget`).
                A context left with no sentence gets ``pruned_text == ""`` (its score is kept).
            language (str, optional): ``"auto"`` (per context), ``"en"`` or ``"ja"``; defaults to the pruner's.
            batch_size (int, optional): windows per forward pass; defaults to the pruner's.
            show_progress_bar (bool, optional): tqdm over batches; None = on when logging is at INFO.
            title (str | list, optional): the contexts' titles: None (no title), ``"first_sentence"``
                (each context's first sentence), one ``str`` for every context, or a list of ``n``
                entries (each None, ``"first_sentence"`` or a ``str``; a title with no text is no title).
                See :meth:`prune`.
            always_select_title (bool, optional): see :meth:`prune`.

        Returns:
            list[PruningResult]: ``n`` results, in input order. An empty or whitespace-only context
            gives ``PruningResult(pruned_text="", score=-inf, compression_rate=0.0)`` without a model
            call, whatever the policy (there is no text to keep or remove; a pre-split whitespace-only
            context keeps its sentences, all with probability 0.0 and not kept). A context with text
            but no token (only characters the tokenizer drops: zero-width spaces, NUL, U+FFFD, ...) is
            scored against an empty context: ``score`` is a float (the same for every such context),
            every sentence has keep probability 0.0, and the policy applies as usual. A query longer
            than half a window is cut to that many tokens, with one ``UserWarning`` per pruner. See
            ``docs/bad-input.md``.

        Raises:
            TypeError: ``query`` is not a str, ``contexts`` is a str, bytes, None, a dict or a set (an
                ordered list, tuple or iterable is needed), a context is neither a str nor a list of str,
                ``title`` or an entry of it is not None or a str, or ``policy``/an option has the wrong type.
            ValueError: empty query, a policy option out of range, an unknown ``language``, a ``title``
                list whose length is not ``n``, or a query, context or title that is not valid Unicode
                (a lone surrogate; the message names the argument, e.g. ```contexts[2]```, and the position).
        """
        check_query(query)
        contexts = context_list(contexts)
        titles = check_titles(title, len(contexts))
        policy = PruningPolicy.from_options(
            policy, threshold=threshold, min_sentences=min_sentences, keep_first=keep_first, keep_ratio=keep_ratio,
            context_token_budget=context_token_budget, token_budget=token_budget,
            always_select_title=always_select_title)
        return self._prune(query, contexts, policy, language, batch_size, show_progress_bar, titles)

    def _prune(self, query, contexts, policy, language, batch_size, show_progress_bar, titles=None) -> list[PruningResult]:
        batch_size = _check_batch_size(batch_size)
        model = self.model_for(query, contexts, language)
        return engine.prune_contexts(
            model, query, contexts, policy.resolve(model.default_threshold), language=language or model.language,
            batch_size=batch_size or model.batch_size, show_progress_bar=show_progress_bar, titles=titles)

    def prune_batch(
        self,
        queries: Sequence[str],
        contexts_per_query: Sequence[Sequence[Context]],
        *,
        policy: Optional[PruningPolicy] = None,
        threshold: Optional[float] = None,
        min_sentences: Optional[int] = None,
        keep_first: Optional[bool] = None,
        keep_ratio: Optional[float] = None,
        token_budget: Optional[int] = None,
        context_token_budget: Optional[int] = None,
        language: Optional[str] = None,
        batch_size: Optional[int] = None,
        show_progress_bar: Optional[bool] = None,
        title: Any = None,
        always_select_title: Optional[bool] = None,
    ) -> list[list[PruningResult]]:
        """Prune the contexts of many queries in one call (Provence's ``process(questions, contexts)``).

        The token windows of every query's contexts are built as :meth:`prune_many` builds them and run
        together, ``batch_size`` windows per forward pass, sorted by length (identical windows once), so
        many small queries fill the batches that one query alone would leave half empty. Each query is
        then decided alone: ``prune_batch(qs, cs)[i]`` equals ``prune_many(qs[i], cs[i])`` (same kept
        sentences; probabilities and scores equal up to float rounding between batch compositions, so
        scores are comparable within a query and across queries read by the same model). With
        :attr:`routes`, each query is read by the model :meth:`model_for` picks for it and its contexts;
        the queries of one model share batches.

        Args:
            queries (Sequence[str]): ``m`` questions.
            contexts_per_query (Sequence[Sequence[str | list[str]]]): ``m`` lists of contexts; list ``i``
                holds the contexts of ``queries[i]`` (texts or pre-split sentence lists; may be empty).
            policy, threshold, min_sentences, keep_first, keep_ratio, context_token_budget, language,
                batch_size, show_progress_bar, always_select_title: see :meth:`prune_many`; the same for
                every query.
            token_budget (int, optional): at most this many tokens (the tokenizer of the model that pruned
                the query) over the returned ``pruned_text`` of **each query** (not of the whole call).
            title (optional): None, ``"first_sentence"``, one ``str`` for every context, or a list with one
                entry per query, each entry what :meth:`prune_many` takes as ``title`` for that query.

        Returns:
            list[list[PruningResult]]: ``m`` lists, list ``i`` with one result per context of
            ``queries[i]``, in input order.

        Raises:
            TypeError: ``queries`` or ``contexts_per_query`` (or one of its lists) is not an ordered
                collection, a query is not a str (named ``queries[i]``), a context is neither a str nor a
                list of str (named ``contexts_per_query[i][j]``), a ``title`` entry has the wrong type, or
                ``policy``/an option has the wrong type.
            ValueError: ``queries`` and ``contexts_per_query`` differ in length, an empty query, a
                ``title`` list of the wrong length, a policy option out of range, an unknown ``language``,
                or text that is not valid Unicode (named as above).
        """
        queries = context_list(queries, "queries", one="a list of str")
        groups = context_list(contexts_per_query, "contexts_per_query", one="a list of context lists")
        if len(queries) != len(groups):
            raise ValueError(f"`queries` has {len(queries)} entries but `contexts_per_query` has {len(groups)}: "
                             "give one list of contexts per query")
        for i, query in enumerate(queries):
            check_query(query, f"queries[{i}]")
        for i, contexts in enumerate(groups):
            groups[i] = context_list(contexts, f"contexts_per_query[{i}]")
            for j, context in enumerate(groups[i]):
                check_context(context, f"contexts_per_query[{i}][{j}]")
        titles = check_batch_titles(title, [len(c) for c in groups])
        policy = PruningPolicy.from_options(
            policy, threshold=threshold, min_sentences=min_sentences, keep_first=keep_first, keep_ratio=keep_ratio,
            context_token_budget=context_token_budget, token_budget=token_budget,
            always_select_title=always_select_title)
        batch_size = _check_batch_size(batch_size)
        results: list[list[PruningResult]] = [[] for _ in queries]
        for model, indices in group_queries(self.model_for, queries, groups, language):
            part = engine.prune_groups(
                model, [queries[i] for i in indices], [groups[i] for i in indices],
                policy.resolve(model.default_threshold), language=language or model.language,
                batch_size=batch_size or model.batch_size, show_progress_bar=show_progress_bar,
                titles=[titles[i] for i in indices])
            for i, query_results in zip(indices, part):
                results[i] = query_results
        return results

    def count_tokens(self, texts: Sequence[str], *, language: Optional[str] = None) -> list[int]:
        """Tokens in each text (the unit of ``token_budget``), without special tokens.

        Counted with THIS pruner's model tokenizer, or with ``language=``'s routed model (``"ja"`` on
        the embedded default: the bilingual model's), never by guessing from the texts. A call's
        ``token_budget`` counts with the model that pruned it: ``pruner.model_for(query,
        contexts).count_tokens(texts)`` counts the same way.

        Args:
            texts (Sequence[str]): an ordered collection of texts (a single str is refused).
            language (str, optional): ``"en"`` or ``"ja"``: count with the model that language is routed
                to (this pruner's own for a language without a route). None: this pruner's model.

        Returns:
            list[int]: ``len(tokenizer(text, add_special_tokens=False)["input_ids"])`` per text.

        Raises:
            TypeError: ``texts`` is a str, None, a mapping or a set, or holds a non-str item (named by index).
            ValueError: ``language`` other than ``"en"``/``"ja"``/None, or a text that is not valid Unicode.
        """
        texts = check_texts(texts)
        if language is not None and language not in ("en", "ja"):
            raise ValueError(f"`language` must be 'en', 'ja' or None, got {language!r}")
        model = self if self.router is None else self.router.model_for_language(language)
        return engine.count_tokens(model, texts)

    def predict(
        self,
        inputs: Union[Sequence[Sequence[Any]], Sequence[Any]],
        batch_size: Optional[int] = None,
        show_progress_bar: Optional[bool] = None,
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        *,
        language: Optional[str] = None,
    ) -> Union[np.ndarray, np.floating, torch.Tensor, list[torch.Tensor]]:
        """Reranking scores of ``(query, context)`` pairs, like sentence-transformers ``CrossEncoder.predict``.

        Same argument names, return types and single-pair behaviour as ``CrossEncoder.predict``
        (sentence-transformers 6.x); no pruning work is done. Pairs may mix queries: each distinct query
        is tokenised once, and the windows of all pairs are run together, sorted by length,
        ``batch_size`` windows per forward pass; identical windows run once, so identical pairs get
        identical scores. Each score equals the ``score`` that ``prune_many(query, contexts)[i]`` gives
        the same context, up to float rounding between batch compositions. With :attr:`routes`, each
        pair is read by the model of its own query and context.

        Args:
            inputs: a list of ``(query, context)`` pairs (tuples or lists; ``context`` a str or a list
                of pre-split sentences), or a single pair.
            batch_size (int, optional): token windows per forward pass; defaults to the pruner's (32).
            show_progress_bar (bool, optional): tqdm over batches; None = on when logging is at INFO.
            convert_to_numpy (bool): return a ``numpy.ndarray`` of float32, shape ``(len(inputs),)``.
                If False, a list of 0-dim ``torch.Tensor``. Defaults to True.
            convert_to_tensor (bool): return one float32 ``torch.Tensor`` of shape ``(len(inputs),)``
                on the pruner's device; overrides ``convert_to_numpy``. Defaults to False.
            language (str, optional): ``"auto"``, ``"en"`` or ``"ja"``; defaults to the pruner's.

        Returns:
            numpy.ndarray | torch.Tensor | list[torch.Tensor]: one score per pair, in input order
            (higher = more relevant). For a single pair: a numpy float32 scalar (or a 0-dim tensor).
            A context with no text (empty or whitespace-only) scores ``-inf``, so it ranks last.

        Raises:
            TypeError: ``inputs`` is not a pair or a list of pairs, or a query/context has the wrong type.
            ValueError: a pair does not have exactly two items, a query is empty, or ``batch_size < 1``.
        """
        pairs, single = pairs_of(inputs)
        batch_size = _check_batch_size(batch_size)
        queries, contexts = [q for q, _ in pairs], [c for _, c in pairs]
        if self.router is None:
            check_language(language or self.language)
            groups = [(self, list(range(len(pairs))))]
        else:
            groups = group_pairs(self.model_for, queries, contexts, language)
        scores = [NO_TEXT_SCORE] * len(pairs)
        for model, indices in groups:
            part = engine.context_scores(
                model, [queries[i] for i in indices], [contexts[i] for i in indices],
                language=language or model.language, batch_size=batch_size or model.batch_size,
                show_progress_bar=show_progress_bar)
            for i, score in zip(indices, part):
                scores[i] = score
        return format_scores(scores, single, convert_to_numpy, convert_to_tensor, self.device)

    def _ranked_scores(self, query, contexts, language, batch_size, show_progress_bar) -> list[float]:
        """Scores of one ranking, all by the one model the call is given (no pruning work)."""
        batch_size = _check_batch_size(batch_size)
        model = self.model_for(query, contexts, language)
        return engine.context_scores(model, [query] * len(contexts), contexts, language=language or model.language,
                                     batch_size=batch_size or model.batch_size, show_progress_bar=show_progress_bar)

    def rank(
        self,
        query: str,
        documents: Sequence[Context],
        top_k: Optional[int] = None,
        return_documents: bool = False,
        batch_size: Optional[int] = None,
        show_progress_bar: Optional[bool] = None,
        *,
        language: Optional[str] = None,
    ) -> list[dict[str, Any]]:
        """Rank documents for a query, like sentence-transformers ``CrossEncoder.rank``.

        Args:
            query (str): the question.
            documents (Sequence[str | list[str]]): the contexts.
            top_k (int, optional): return only the best ``top_k`` (an int ``>= 0``); None returns all.
            return_documents (bool): also return each document under ``"text"``. Defaults to False.
            batch_size, show_progress_bar, language: see :meth:`predict`.

        Returns:
            list[dict]: ``{"corpus_id": int, "score": float[, "text": document]}`` sorted by
            descending score; ties (identical documents score identically) are ordered by
            ``corpus_id``, the index in ``documents``, so the same input always gives the same ranking.
            A document with no text scores ``-inf``.

        Raises:
            TypeError, ValueError: as :meth:`predict`; for a ``top_k`` that is not an int >= 0, or
                ``documents`` that is not an ordered collection (checked before the model runs).
        """
        check_query(query)
        documents = context_list(documents, "documents")
        top_k = check_optional_count(top_k, "top_k")
        check_bool(return_documents, "return_documents")
        scores = self._ranked_scores(query, documents, language, batch_size, show_progress_bar)
        order = sorted(range(len(documents)), key=lambda i: (-scores[i], i))
        ranked = []
        for i in order if top_k is None else order[:top_k]:
            entry: dict[str, Any] = {"corpus_id": i, "score": float(scores[i])}
            if return_documents:
                entry["text"] = documents[i]
            ranked.append(entry)
        return ranked

    def rerank(
        self,
        query: str,
        contexts: Sequence[Context],
        top_n: Optional[int] = None,
        *,
        batch_size: Optional[int] = None,
        show_progress_bar: Optional[bool] = None,
        language: Optional[str] = None,
    ) -> list[RankedContext]:
        """Rerank contexts by reranking score (best first); no pruning work is done.

        Each context's score is the same ``score`` :meth:`prune_many` gives it: the best reranking
        score over its token windows, activated as the checkpoint says (e.g. a sigmoid probability in
        ``[0, 1]`` for our checkpoints, a raw logit for some Provence-family ones); higher = more relevant.

        Args:
            query (str): the question.
            contexts (Sequence[str | list[str]]): ``n`` texts or pre-split sentence lists.
            top_n (int, optional): return only the best ``top_n`` (an int ``>= 0``). None returns all ``n``.
            batch_size (int, optional): windows per forward pass; defaults to the pruner's.
            show_progress_bar, language: see :meth:`predict`.

        Returns:
            list[RankedContext]: ``(index, score, text)`` sorted by descending score, ``index`` being
            the position in ``contexts`` and ``text`` the context as one string; ties (identical
            contexts score identically) are ordered by index, so the same input always gives the same
            ranking; contexts with no text score ``-inf`` and come last.

        Raises:
            TypeError, ValueError: as :meth:`prune_many` (bad query or contexts); for a ``top_n``
                that is not an int >= 0 (checked before the model runs).
        """
        check_query(query)
        contexts = context_list(contexts)
        top_n = check_optional_count(top_n, "top_n")
        scores = self._ranked_scores(query, contexts, language, batch_size, show_progress_bar)
        order = sorted(range(len(contexts)), key=lambda i: (-scores[i], i))
        ranked = [RankedContext(i, scores[i], _text_of(contexts[i])) for i in order]
        return ranked if top_n is None else ranked[:top_n]
