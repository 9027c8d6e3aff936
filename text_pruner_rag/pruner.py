"""`TextPruner`: load a pruner, run batched windows, assemble pruning results."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, Sequence, Union

import numpy as np
import torch
from tqdm.auto import tqdm

from .backends import BatchRunner, check_backend
from .checkpoints import load_checkpoint, resolve_checkpoint
from .chunking import LANGUAGES, Sentence, detect_language, sentences_from_list, split_sentences
from .encoding import Window, WindowEncoder
from .modeling import TextPrunerModel
from .policy import PruningPolicy, SentenceAggregator, fit_token_budget
from .results import PruningResult, RankedContext, SentenceScore

logger = logging.getLogger(__name__)

__all__ = ["PreparedContext", "TextPruner", "default_model_path"]

Context = Union[str, Sequence[str]]
NO_TEXT_SCORE = float("-inf")
"""Score :meth:`TextPruner.predict` and :meth:`TextPruner.rank` give a context with no text to score."""
PRETRAINED_DIR = Path(__file__).parent / "pretrained"
DEFAULT_MODEL_NAME = "text-pruner-minilm-l6-en"
JAPANESE_MODEL_NAME = "text-pruner-e5-small-ja-en"
"""The embedded bilingual (English + Japanese) model; the default model sends Japanese inputs to it."""
EMBEDDED_MODELS = (DEFAULT_MODEL_NAME, JAPANESE_MODEL_NAME)
FALLBACK_THRESHOLD = 0.1


def default_model_path(name: str = DEFAULT_MODEL_NAME) -> Path:
    """Folder of an embedded model shipped inside the package (by default the default English model).

    Args:
        name (str): one of ``"text-pruner-minilm-l6-en"`` (default) and ``"text-pruner-e5-small-ja-en"``.

    Raises:
        ValueError: ``name`` is not an embedded model.
        FileNotFoundError: the package was installed without that model.
    """
    if name not in EMBEDDED_MODELS:
        raise ValueError(f"{name!r} is not an embedded model; embedded: {list(EMBEDDED_MODELS)}")
    path = PRETRAINED_DIR / name
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"the embedded {'default model' if name == DEFAULT_MODEL_NAME else 'model ' + name} is missing "
            f"({path}); reinstall text-pruner-rag or pass a "
            "model path to TextPruner.from_pretrained"
        )
    return path


class _Route:
    """A pruner for one language, loaded on first use (thread-safe)."""

    def __init__(self, name: str, load: Callable[[], "TextPruner"]) -> None:
        self.name = name
        self._load = load
        self._pruner: Optional[TextPruner] = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._pruner is not None

    def get(self) -> "TextPruner":
        if self._pruner is None:
            with self._lock:
                if self._pruner is None:
                    self._pruner = self._load()
        return self._pruner


def _resolve_device(device: Optional[str]) -> torch.device:
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"invalid device {device!r}; use 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto'") from exc
    if resolved.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"invalid device {device!r}; use 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto'")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available; use 'cpu' or 'auto'")
    if resolved.type == "cuda" and resolved.index is not None and resolved.index >= torch.cuda.device_count():
        raise ValueError(f"device {device!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
    if resolved.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device {device!r} requested but MPS is not available; use 'cpu' or 'auto'")
    return resolved


def _resolve_dtype(dtype: Any) -> Optional[torch.dtype]:
    if dtype is None or dtype == "auto":
        return None
    if isinstance(dtype, torch.dtype):
        return dtype
    names = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16,
             "fp16": torch.float16, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
    if dtype not in names:
        raise ValueError(f"invalid dtype {dtype!r}; use one of {sorted(names)} or a torch.dtype")
    return names[dtype]


def _check_query(query: Any, name: str = "query") -> str:
    if query is None or not isinstance(query, str):
        raise TypeError(f"`{name}` must be a str, got {type(query).__name__}")
    if not query.strip():
        raise ValueError(f"`{name}` must not be empty")
    return _check_unicode(query, name)


def _check_unicode(text: str, name: str) -> str:
    """``text`` if it can be encoded as UTF-8 (no lone surrogate, e.g. from undecodable bytes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"`{name}` is not valid Unicode: lone surrogate {text[exc.start]!r} at position {exc.start} "
            "(text decoded with errors='surrogateescape'? decode it as UTF-8, or clean it with "
            "text.encode('utf-8', 'replace').decode())"
        ) from None
    return text


def _check_count_limit(value: Any, name: str) -> Optional[int]:
    """``top_n``/``top_k``: None or an integer >= 0 (checked before any model run)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be an int >= 0 or None, got {value!r}")
    if value < 0:
        raise ValueError(f"`{name}` must be >= 0, got {value}")
    return int(value)


def _context_list(contexts: Any, name: str = "contexts") -> list:
    """An ordered collection of contexts as a list; unordered or mapping inputs are refused."""
    if contexts is None or isinstance(contexts, (str, bytes, bytearray)):
        raise TypeError(f"`{name}` must be a list of contexts (str or list[str]); for one context use prune()")
    if isinstance(contexts, Mapping):
        raise TypeError(f"`{name}` must be a list of contexts, got a {type(contexts).__name__} "
                        "(pass list(d.values()) for its values)")
    if isinstance(contexts, (set, frozenset)):
        raise TypeError(f"`{name}` must be an ordered list of contexts, got an unordered {type(contexts).__name__}")
    try:
        return list(contexts)
    except TypeError:
        raise TypeError(f"`{name}` must be a list of contexts, got {type(contexts).__name__}") from None


@dataclass(frozen=True)
class PreparedContext:
    """One context ready for encoding: its text, its sentences (spans tile ``text``) and its language.

    Attributes:
        text (str): the context (for pre-split input, ``"".join`` of the given sentences).
        sentences (list[Sentence]): sentences with exact character spans into ``text``.
        language (str): ``"en"`` or ``"ja"`` (resolved when ``"auto"`` was asked).
    """

    text: str
    sentences: list[Sentence]
    language: str


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
        if language not in LANGUAGES:
            raise ValueError(f"`language` must be one of {list(LANGUAGES)}, got {language!r}")
        if int(batch_size) < 1:
            raise ValueError(f"`batch_size` must be >= 1, got {batch_size}")
        self.device = _resolve_device(device)
        torch_dtype = _resolve_dtype(dtype)
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
        self._routes: dict[str, _Route] = {}
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
        if not isinstance(language_routing, bool):
            raise TypeError(f"`language_routing` must be a bool, got {type(language_routing).__name__}")
        embedded = None
        if name_or_path is None:
            embedded = DEFAULT_MODEL_NAME
        elif str(name_or_path) in EMBEDDED_MODELS and not Path(name_or_path).exists():
            embedded = str(name_or_path)
        if embedded:
            folder = default_model_path(embedded)
        else:
            hub = {"revision": revision, "token": token, "cache_dir": cache_dir, "local_files_only": local_files_only}
            folder = resolve_checkpoint(name_or_path, allow_pickle=allow_pickle,
                                        **{k: v for k, v in hub.items() if v is not None})
        model, tokenizer = load_checkpoint(folder, allow_pickle=allow_pickle)
        pruner = cls(model, tokenizer, device=device, dtype=dtype, max_length=max_length,
                     batch_size=batch_size, language=language)
        pruner.name_or_path = embedded or str(name_or_path)
        if backend == "onnx":
            pruner._use_onnx(quantize, checkpoint_folder=Path(folder))
        if embedded == DEFAULT_MODEL_NAME and language_routing and (
                PRETRAINED_DIR / JAPANESE_MODEL_NAME / "config.json").is_file():
            options = dict(device=device, dtype=dtype, max_length=max_length, batch_size=batch_size,
                           language=language, backend=backend, quantize=quantize)
            pruner._routes["ja"] = _Route(JAPANESE_MODEL_NAME, lambda: cls.from_pretrained(
                JAPANESE_MODEL_NAME, **options))
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
    def routes(self) -> dict[str, str]:
        """Languages sent to another model: ``{language: model name}``, e.g. ``{"ja":
        "text-pruner-e5-small-ja-en"}`` for the embedded default; empty when this model reads everything.

        A call (``prune``, ``prune_many``, ``rerank``, ``rank``) goes whole to the routed model when the
        query or any context is in that language, so every score of one ranking comes from one model;
        ``predict`` routes each pair by its query and context. The routed model uses its own
        :attr:`default_threshold` and tokenizer (``token_budget`` counts its tokens)."""
        return {language: route.name for language, route in self._routes.items()}

    def _routed(self, texts: Iterable[Any], language: Optional[str]) -> "TextPruner":
        """The pruner that should read ``texts`` (a query and its contexts): self or a routed model."""
        if not self._routes:
            return self
        language = language or self.language
        if language not in LANGUAGES:
            raise ValueError(f"`language` must be one of {list(LANGUAGES)}, got {language!r}")
        if language == "auto":  # the first routed language found; wrong types are left to the checks
            parts = (p for t in texts for p in (t if isinstance(t, (list, tuple)) else [t]) if isinstance(p, str))
            language = next((lang for lang in map(detect_language, parts) if lang in self._routes), "en")
        route = self._routes.get(language)
        return self if route is None else route.get()

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
            token_budget (int, optional): at most this many tokens of the model's tokenizer (no
                special tokens) in ``pruned_text``; see :meth:`prune_many`.
            language (str, optional): ``"auto"``, ``"en"`` or ``"ja"``; defaults to the pruner's.

        A keyword option that is not None replaces the same field of ``policy``
        (:meth:`PruningPolicy.from_options <text_pruner_rag.policy.PruningPolicy.from_options>`).

        Returns:
            PruningResult: pruned text, reranking score, compression rate (fraction of characters
            removed) and every sentence with its probability.

        Raises:
            TypeError: ``query``, ``context`` (or an item of a context list), ``policy`` or an option
                has the wrong type.
            ValueError: empty query, a policy option out of range, or a query or context that is not
                valid Unicode (a lone surrogate; the message names ``query`` or ``context``).
        """
        _check_query(query)
        if not isinstance(context, (str, list, tuple)):
            raise TypeError(f"`context` must be a str or a list of str, got {type(context).__name__}")
        if isinstance(context, str):
            _check_unicode(context, "context")
        else:
            for i, item in enumerate(context):
                if not isinstance(item, str):
                    raise TypeError(f"`context[{i}]` must be a str, got {type(item).__name__}")
                _check_unicode(item, f"context[{i}]")
        return self.prune_many(
            query, [context], policy=policy, threshold=threshold, min_sentences=min_sentences,
            keep_first=keep_first, keep_ratio=keep_ratio, token_budget=token_budget,
            context_token_budget=context_token_budget, language=language,
        )[0]

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
    ) -> list[PruningResult]:
        """Prune many contexts for one query; the windows of all contexts are batched together.

        Each context is split into sentences (or taken as given), cut into token windows of at most
        :attr:`max_length` tokens with the query repeated in each, and run through the model,
        ``batch_size`` windows per forward pass (windows of all contexts share batches, sorted by
        length). A sentence's keep probability is the mean over its tokens
        (:class:`~text_pruner_rag.policy.SentenceAggregator`); a context's score is its best window's
        reranking score. The policy then decides per context, and ``token_budget`` across them.

        Args:
            query (str): the question.
            contexts (Sequence[str | list[str]]): ``n`` texts or pre-split sentence lists (a list of
                str is one context's sentences, kept exactly).
            policy (PruningPolicy, optional): every pruning option at once; see :meth:`prune`.
            threshold, min_sentences, keep_first, keep_ratio, context_token_budget: see :meth:`prune`.
            token_budget (int, optional): at most this many tokens over **all** the returned
                ``pruned_text`` together, counted with the model's tokenizer without special tokens
                (:meth:`count_tokens`). After the other rules, the most relevant kept sentences across
                all contexts (highest keep probability, ties: higher reranking score) are kept while
                they fit; the rest are removed (see :func:`~text_pruner_rag.policy.fit_token_budget`).
                A context left with no sentence gets ``pruned_text == ""`` (its score is kept).
            language (str, optional): ``"auto"`` (per context), ``"en"`` or ``"ja"``; defaults to the pruner's.
            batch_size (int, optional): windows per forward pass; defaults to the pruner's.
            show_progress_bar (bool, optional): tqdm over batches; None = on when logging is at INFO.

        Returns:
            list[PruningResult]: ``n`` results, in input order. An empty or whitespace-only context
            gives ``PruningResult(pruned_text="", score=None, compression_rate=0.0)`` without a model
            call, whatever the policy (there is no text to keep or remove; a pre-split whitespace-only
            context keeps its sentences, all with probability 0.0 and not kept). A context with text
            but no token (only characters the tokenizer drops: zero-width spaces, NUL, U+FFFD, ...) is
            scored against an empty context: ``score`` is a float (the same for every such context),
            every sentence has keep probability 0.0, and the policy applies as usual. See
            "Behaviour on bad input" in ``docs/bad-input.md``.

        Raises:
            TypeError: ``query`` is not a str, ``contexts`` is a str, bytes, None, a dict or a set (an
                ordered list, tuple or iterable is needed), a context is neither a str nor a list of str,
                or ``policy``/an option has the wrong type.
            ValueError: empty query, a policy option out of range, an unknown ``language``, or a query
                or context that is not valid Unicode (a lone surrogate; the message names the argument,
                e.g. ```contexts[2]```, and the position).
        """
        _check_query(query)
        contexts = _context_list(contexts)
        target = self._routed([query, *contexts], language)
        if target is not self:
            return target.prune_many(
                query, contexts, policy=policy, threshold=threshold, min_sentences=min_sentences,
                keep_first=keep_first, keep_ratio=keep_ratio, token_budget=token_budget,
                context_token_budget=context_token_budget, language=language, batch_size=batch_size,
                show_progress_bar=show_progress_bar)
        policy = PruningPolicy.from_options(
            policy, threshold=threshold, min_sentences=min_sentences, keep_first=keep_first, keep_ratio=keep_ratio,
            context_token_budget=context_token_budget, token_budget=token_budget,
        ).resolve(self.default_threshold)
        prepared = [self._prepare(i, c, language or self.language) for i, c in enumerate(contexts)]
        scores, aggregate = self._score(
            [query] * len(prepared), prepared, policy.threshold, batch_size or self.batch_size, show_progress_bar
        )
        probabilities = aggregate.sentence_probabilities()
        masks = aggregate.select(policy, self.model.config.sentence_rounding)
        results = []
        for context, probs, kept, score in zip(prepared, probabilities, masks, scores):
            if not context.text.strip():  # nothing to keep in a whitespace-only context, whatever the policy
                kept = [False] * len(kept)
            results.append(_assemble(context, probs, kept, score))
        if policy.token_budget is not None:
            results = fit_token_budget(results, policy.token_budget, self.count_tokens, keep_first=policy.keep_first)
        return results

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens of the model's tokenizer in each text, without special tokens (the unit of ``token_budget``).

        Args:
            texts (Sequence[str]): any texts.

        Returns:
            list[int]: ``len(tokenizer(text, add_special_tokens=False)["input_ids"])`` per text, with
            the tokenizer of the model that reads these texts (see :attr:`routes`).
        """
        texts = list(texts)
        if not texts:
            return []
        target = self._routed(texts, None)
        if target is not self:
            return target.count_tokens(texts)
        encoded = self.tokenizer(texts, add_special_tokens=False, truncation=False, verbose=False)
        return [len(ids) for ids in encoded["input_ids"]]

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
        (sentence-transformers 6.x); no pruning decision is made. Pairs may mix queries: each
        distinct query is tokenised once, and the windows of all pairs are run together, sorted by
        length, ``batch_size`` windows per forward pass. Each score equals the ``score`` that
        ``prune_many(query, contexts)[i]`` gives the same context (the best window's reranking score,
        activated as the checkpoint says), up to float rounding between batch compositions.

        Args:
            inputs: a list of ``(query, context)`` pairs (tuples or lists; ``context`` a str or a list
                of pre-split sentences), or a single pair.
            batch_size (int, optional): token windows per forward pass (a long context has several
                windows); defaults to the pruner's ``batch_size`` (32).
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
            ValueError: a pair does not have exactly two items, or a query is empty.
        """
        if isinstance(inputs, np.ndarray):
            inputs = inputs.tolist()
        single = isinstance(inputs, (list, tuple)) and len(inputs) > 0 and not isinstance(inputs[0], (list, tuple))
        if single:
            inputs = [inputs]
        elif isinstance(inputs, (str, bytes)) or not isinstance(inputs, Sequence):
            raise TypeError(f"`inputs` must be a (query, context) pair or a list of pairs, got {type(inputs).__name__}")
        queries, contexts = [], []
        for i, pair in enumerate(inputs):
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise ValueError(f"inputs[{i}] must be a (query, context) pair, got {pair!r:.80}")
            queries.append(_check_query(pair[0]))
            contexts.append(pair[1])
        if batch_size is not None and int(batch_size) < 1:
            raise ValueError(f"`batch_size` must be >= 1, got {batch_size}")
        scores = [NO_TEXT_SCORE if s is None else s for s in self._scores(
            queries, contexts, language, batch_size, show_progress_bar)]
        if convert_to_tensor:
            out: Any = torch.tensor(scores, dtype=torch.float32, device=self.device)
        elif convert_to_numpy:
            out = np.asarray(scores, dtype=np.float32)
        else:
            out = list(torch.tensor(scores, dtype=torch.float32))
        return out[0] if single else out

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
            top_k (int, optional): return only the best ``top_k``; None returns all. Defaults to None.
            return_documents (bool): also return each document under ``"text"``. Defaults to False.
            batch_size, show_progress_bar, language: see :meth:`predict`.

        Returns:
            list[dict]: ``{"corpus_id": int, "score": float[, "text": document]}`` sorted by
            descending score (ties keep input order); ``corpus_id`` is the index in ``documents``.
            A document with no text scores ``-inf``.

        Raises:
            TypeError, ValueError: as :meth:`predict`; for a ``top_k`` that is not an int >= 0, or
                ``documents`` that is not an ordered collection (checked before the model runs).
        """
        _check_query(query)
        documents = _context_list(documents, "documents")
        top_k = _check_count_limit(top_k, "top_k")
        target = self._routed([query, *documents], language)
        if target is not self:
            return target.rank(query, documents, top_k=top_k, return_documents=return_documents,
                               batch_size=batch_size, show_progress_bar=show_progress_bar, language=language)
        scores = self.predict([(query, d) for d in documents], batch_size=batch_size,
                              show_progress_bar=show_progress_bar, language=language).tolist()
        ranked = []
        for i, score in enumerate(scores):
            entry: dict[str, Any] = {"corpus_id": i, "score": float(score)}
            if return_documents:
                entry["text"] = documents[i]
            ranked.append(entry)
        ranked.sort(key=lambda e: e["score"], reverse=True)
        return ranked if top_k is None else ranked[:top_k]

    def rerank(
        self,
        query: str,
        contexts: Sequence[Context],
        top_n: Optional[int] = None,
        *,
        batch_size: Optional[int] = None,
    ) -> list[RankedContext]:
        """Rerank contexts by reranking score (best first); no pruning decision is returned.

        Each context's score is the same ``score`` :meth:`prune_many` gives it: the best reranking
        score over its token windows, activated as the checkpoint says (e.g. a sigmoid probability in
        ``[0, 1]`` for our checkpoints, a raw logit for some Provence-family ones); higher = more relevant.

        Args:
            query (str): the question.
            contexts (Sequence[str | list[str]]): ``n`` texts or pre-split sentence lists.
            top_n (int, optional): return only the best ``top_n`` (``>= 0``). None returns all ``n``.
            batch_size (int, optional): windows per forward pass; defaults to the pruner's.

        Returns:
            list[RankedContext]: ``(index, score, text)`` sorted by descending score, ``index`` being
            the position in ``contexts`` and ``text`` the context as one string; ties keep input order;
            contexts with no text (score None) come last.

        Raises:
            TypeError, ValueError: as :meth:`prune_many` (bad query or contexts); for a ``top_n``
                that is not an int >= 0 (checked before the model runs).
        """
        top_n = _check_count_limit(top_n, "top_n")  # before the model runs
        results = self.prune_many(query, contexts, batch_size=batch_size)
        ranked = [RankedContext(i, r.score, r.context) for i, r in enumerate(results)]
        ranked.sort(key=lambda item: float("-inf") if item.score is None else item.score, reverse=True)
        return ranked if top_n is None else ranked[:top_n]

    # -- internals -------------------------------------------------------------------------------
    def _scores(self, queries, contexts, language, batch_size, show_progress_bar) -> list[Optional[float]]:
        """Reranking score of each ``(queries[i], contexts[i])``; None for a context with no text.
        With :attr:`routes`, each pair is scored by the model of its language."""
        if self._routes:
            groups: dict[int, tuple[TextPruner, list[int]]] = {}
            for i, (query, context) in enumerate(zip(queries, contexts)):
                target = self._routed([query, context], language)
                groups.setdefault(id(target), (target, []))[1].append(i)
            if set(groups) - {id(self)}:  # some pair is read by a routed model
                scores: list[Optional[float]] = [None] * len(queries)
                for target, indices in groups.values():
                    part = target._scores([queries[i] for i in indices], [contexts[i] for i in indices],
                                          language, batch_size, show_progress_bar)
                    for i, score in zip(indices, part):
                        scores[i] = score
                return scores
        prepared = [self._prepare(i, c, language or self.language) for i, c in enumerate(contexts)]
        scores, _ = self._score(queries, prepared, self.default_threshold,
                                batch_size or self.batch_size, show_progress_bar)
        return scores

    def _prepare(self, index: int, context: Context, language: str) -> PreparedContext:
        if language not in LANGUAGES:
            raise ValueError(f"`language` must be one of {list(LANGUAGES)}, got {language!r}")
        if isinstance(context, str):
            _check_unicode(context, f"contexts[{index}]")
            lang = detect_language(context) if language == "auto" else language
            return PreparedContext(context, split_sentences(context, lang), lang)
        if context is None:
            raise TypeError(f"contexts[{index}] must be a str or a list of str, got None")
        if isinstance(context, (list, tuple)):
            try:
                text, sentences = sentences_from_list(context)
            except TypeError as exc:
                raise TypeError(f"contexts[{index}]: {exc}") from exc
            for i, item in enumerate(context):
                _check_unicode(item, f"contexts[{index}][{i}]")
            lang = detect_language(text) if language == "auto" else language
            return PreparedContext(text, sentences, lang)
        raise TypeError(f"contexts[{index}] must be a str or a list of str, got {type(context).__name__}")

    def _score(
        self, queries: Sequence[str], prepared: Sequence[PreparedContext], threshold: float,
        batch_size: int, show_progress_bar: Optional[bool],
    ) -> tuple[list[Optional[float]], SentenceAggregator]:
        """Run all windows (``queries[i]`` is the query of context ``i``; windows of different queries
        share batches); return per-context reranking scores (best window; None without text) and the
        sentence aggregation of the token keep probabilities."""
        templates = {}
        encoded = self.encoder.encode_contexts([p.text for p in prepared], [p.sentences for p in prepared])
        windows: list[Window] = []
        for index, (context, enc, query) in enumerate(zip(prepared, encoded, queries)):
            if context.sentences and context.text.strip():  # whitespace only: not scored (score None)
                if query not in templates:
                    templates[query] = self.encoder.template(query)
                built = self.encoder.windows(
                    templates[query], index, context.text, context.sentences, enc, context.language)
                # Text but no token (only characters the tokenizer drops: zero-width, NUL, U+FFFD ...):
                # score the query against an empty context, so that `score` stays a float.
                windows.extend(built or [self.encoder.empty_window(templates[query], index)])
        aggregate = SentenceAggregator([len(p.sentences) for p in prepared], threshold)
        scores: list[Optional[float]] = [None] * len(prepared)
        for window, probs, score in self._run(windows, batch_size, show_progress_bar):
            c = window.context_index
            scores[c] = score if scores[c] is None else max(scores[c], score)
            aggregate.add(c, window.sentence_ids, probs)
        return scores, aggregate

    @torch.inference_mode()
    def _run(self, windows: list[Window], batch_size: int, show_progress_bar: Optional[bool]):
        """Yield ``(window, keep probabilities per token, reranking score)``; batches sorted by length."""
        order = sorted(range(len(windows)), key=lambda i: -len(windows[i].input_ids))
        if show_progress_bar is None:
            show_progress_bar = logger.getEffectiveLevel() <= logging.INFO and len(order) > batch_size
        pad_id = self.tokenizer.pad_token_id or 0
        forward = self._torch_forward if self._runner is None else self._runner
        starts = range(0, len(order), batch_size)
        for start in tqdm(starts, desc="Windows", disable=not show_progress_bar):
            batch = [windows[i] for i in order[start:start + batch_size]]
            lengths = [len(w.input_ids) for w in batch]
            width = max(lengths)
            # One padded array per input for the whole batch (filled row by row, no per-window tensors).
            ids = np.full((len(batch), width), pad_id, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            types = np.zeros((len(batch), width), dtype=np.int64) if batch[0].token_type_ids else None
            for row, w in enumerate(batch):
                ids[row, : lengths[row]] = w.input_ids
                mask[row, : lengths[row]] = 1
                if types is not None:
                    types[row, : len(w.token_type_ids)] = w.token_type_ids
            keep, ranking = forward(ids, mask, types)
            keep, ranking = keep.tolist(), ranking.tolist()
            for row, w in enumerate(batch):
                yield w, keep[row][: lengths[row]], float(ranking[row])

    def _torch_forward(self, ids: np.ndarray, mask: np.ndarray, types: Optional[np.ndarray]):
        """The torch backend: keep probabilities ``(batch, sequence)`` and reranking scores ``(batch,)``, float32."""
        out = self.model(
            input_ids=torch.from_numpy(ids).to(self.device), attention_mask=torch.from_numpy(mask).to(self.device),
            token_type_ids=None if types is None else torch.from_numpy(types).to(self.device),
        )
        keep = self.model.keep_probabilities(out.pruning_logits).cpu().numpy()
        return keep, self.model.ranking_scores(out.ranking_logits).cpu().numpy()


def _assemble(context: PreparedContext, probabilities, kept, score) -> PruningResult:
    scored = [SentenceScore(s.text, s.start, s.end, p, k) for s, p, k in zip(context.sentences, probabilities, kept)]
    pruned = "".join(s.text for s in scored if s.kept)
    compression = 1.0 - len(pruned) / len(context.text) if context.text.strip() else 0.0
    return PruningResult(pruned, score, compression, scored, context.text)
