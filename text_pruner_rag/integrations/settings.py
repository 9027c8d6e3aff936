"""The options and the selection logic shared by the LangChain and LlamaIndex adapters.

Both adapters, :class:`~text_pruner_rag.integrations.langchain.TextPrunerCompressor` and
:class:`~text_pruner_rag.integrations.llama_index.TextPrunerPostprocessor`, take the same options
(defined once here, in :class:`PrunerSettings`; the pruning options are a
:class:`~text_pruner_rag.policy.PruningPolicy`) and apply them in the same order:

1. every document of the query is reranked and pruned in one batched
   :meth:`TextPruner.prune_many <text_pruner_rag.TextPruner.prune_many>` call, with the adapter's policy
   (and each document's title, read from its metadata key ``title_key``, default ``"title"``: scored
   with the document, never added to the returned text; see ``docs/titles.md``);
2. a document whose sentences were all pruned is handled as ``on_empty`` says
   (``"drop"`` it, keep its ``"best_sentence"``, or ``"keep"`` it whole); with ``prune=False`` (rerank
   only, a drop-in for a cross-encoder reranker) every document is kept whole instead;
3. documents whose reranking score is below ``score_threshold`` are dropped (kept when ``>=``);
4. of the rest, the ``top_n`` with the highest reranking scores are kept;
5. with ``token_budget``, the sentences of those documents are cut so that all returned texts
   together hold at most ``token_budget`` tokens of the pruner's tokenizer (no special tokens): the most
   relevant sentences across the documents are kept (highest keep probability, ties broken by the
   document's reranking score; see :func:`text_pruner_rag.policy.fit_token_budget`), each document's
   sentences stay in their original order, and a document left with nothing is dropped;
6. they are returned best first when ``reorder=True`` (the default), else in their input order.

Serialization (LangChain ``model_dump``, LlamaIndex ``to_dict``/``to_json``) records ``model``: the
path or hub id to reload, taken from ``pruner.name_or_path`` when the adapter was given ``pruner=``.
An adapter whose pruner has no ``name_or_path`` (built in memory) raises a ``ValueError`` on
serialization rather than write something that would reload a different model.

The adapters hold no model logic: the pruner does all the scoring, the adapters only choose and copy.
They depend only on the :class:`~text_pruner_rag.protocols.Pruner` protocol.

Failure policy (``on_error``): with ``"raise"`` (the default) an error while loading the model or
running it propagates. With ``"passthrough"`` the adapter logs ONE warning for the call (logger
``text_pruner_rag.integrations.settings``, naming the error) and returns the input documents/nodes
unchanged: the same objects, all of them, in input order, with their ids and metadata (no ``top_n``,
``score_threshold`` or ``token_budget`` is applied, since there are no scores). Sync and async calls
alike. Errors that are the caller's (an empty query, no query for LlamaIndex, invalid options) are
raised in both modes. A failed load is retried at the next call.

Copies: returned items get a new metadata dict (a shallow copy: the values, such as locks or API
clients, are the input's own objects, never copied), so adding the adapter's keys never touches the
input; nested values are shared with the input.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal, Optional, Sequence

from ..budget import fit_token_budget
from ..options import FIRST_SENTENCE, check_bool, check_count, check_fraction
from ..results import compression_rate, remask
from ..policy import PruningPolicy

try:
    from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_serializer, field_validator, model_validator
except ImportError as exc:  # pragma: no cover - both frameworks depend on pydantic
    raise ImportError(
        "text_pruner_rag.integrations needs LangChain or LlamaIndex: "
        'pip install "text-pruner-rag[langchain]" or pip install "text-pruner-rag[llama-index]"'
    ) from exc

if TYPE_CHECKING:
    from ..protocols import Pruner
    from ..results import PruningResult

__all__ = ["PrunerSettings", "OnEmpty", "OnError"]

logger = logging.getLogger(__name__)

OnEmpty = Literal["drop", "best_sentence", "keep"]
"""What to do with a document whose sentences were all pruned."""

OnError = Literal["raise", "passthrough"]
"""What to do when loading or running the model fails: raise, or return the input unchanged."""

_LOAD_LOCK = threading.Lock()


def _real(value: Any, name: str) -> float:
    """A real number (``score_threshold``: any value but NaN; not a str or a bool)."""
    from numbers import Real

    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"`{name}` must be a number, got {value!r} ({type(value).__name__})")
    if value != value:
        raise ValueError(f"`{name}` must be a number, got nan")
    return float(value)


_STRICT = {
    "threshold": check_fraction,
    "keep_ratio": lambda v, n: check_fraction(v, n, allow_zero=False),
    "min_sentences": check_count,
    "context_token_budget": check_count,
    "token_budget": check_count,
    "top_n": lambda v, n: check_count(v, n, minimum=1),
    "batch_size": lambda v, n: check_count(v, n, minimum=1),
    "keep_first": check_bool,
    "always_select_title": check_bool,
    "score_threshold": _real,
}
"""Option name -> its check (text_pruner_rag.options): applied to every adapter option before pydantic."""


@dataclass(frozen=True)
class _Kept:
    """One document that survived selection: where it was in the input and what to return."""

    index: int
    score: Optional[float]
    text: str
    compression_rate: float


class PrunerSettings(BaseModel):
    """The options shared by both adapters, and the logic that applies them.

    Not used directly: it is the first base of ``TextPrunerCompressor`` and ``TextPrunerPostprocessor``.
    Pass either ``model`` (and optionally ``device``) to load a pruner on first use, or ``pruner=`` an
    already loaded pruner (a :class:`~text_pruner_rag.TextPruner`, or anything implementing the
    :class:`~text_pruner_rag.protocols.Pruner` protocol), which many adapters may share.

    The pruning options are those of :class:`~text_pruner_rag.policy.PruningPolicy`: pass
    ``policy=`` and/or the options one by one (an option that is not None replaces the policy's
    field); :attr:`pruning_policy` is the result, checked by ``PruningPolicy`` when the adapter is
    built. ``token_budget`` is applied by the adapter to the documents it returns (after ``top_n``).

    Raises:
        ValueError: when both ``pruner`` and ``model`` or ``device`` are given, or a pruning option is
            out of range or of the wrong type (a pydantic ``ValidationError``).
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    model: Optional[str] = Field(
        default=None,
        description="Name or local path of the pruner checkpoint, loaded on first use with "
        "TextPruner.from_pretrained. None: the embedded default model. Not allowed with `pruner`.",
    )
    device: Optional[str] = Field(
        default=None,
        description='Device to load `model` on ("cpu", "cuda", "cuda:1", "mps"). None: picked by TextPruner.',
    )
    policy: Optional[PruningPolicy] = Field(
        default=None,
        description="Every pruning option at once (text_pruner_rag.PruningPolicy); the options below, when "
        "not None, replace its fields. None: PruningPolicy() (the model's threshold, no other rule).",
    )
    threshold: Optional[float] = Field(
        default=None,
        description="Sentence keep threshold in [0, 1]: a sentence is kept when its keep probability is "
        "above it. None: the policy's, else the model's calibrated default (pruner.default_threshold).",
    )
    min_sentences: Optional[int] = Field(
        default=None,
        description="Keep at least this many sentences of every document (the most probable ones). None: the "
        "policy's (0).",
    )
    keep_first: Optional[bool] = Field(
        default=None,
        description="Keep the first sentence (often a title) of a document whenever another one is kept. None: "
        "the policy's (False).",
    )
    always_select_title: Optional[bool] = Field(
        default=None,
        description="Keep a document's title (from its `title_key` metadata) whenever one of its sentences is "
        "kept; False: only when the title's own keep probability passes the threshold. None: the policy's (on).",
    )
    title_key: Optional[str] = Field(
        default="title",
        description="Metadata key holding each document's title: a str value is read with the document, in "
        "front of it, as Provence does (never added to the returned text); a missing key or a value that is "
        "not a str means no title. None: titles are not read.",
    )
    keep_ratio: Optional[float] = Field(
        default=None,
        description="Keep this fraction (0, 1] of each document's sentences, the most probable ones, instead of "
        "thresholding. None: the policy's (off).",
    )
    context_token_budget: Optional[int] = Field(
        default=None,
        description="At most this many model tokens kept in each document. None: the policy's (no budget).",
    )
    prune: bool = Field(
        default=True,
        description="False: rerank only, like a cross-encoder reranker: documents are returned whole "
        "(score_threshold, top_n, token_budget and reorder still apply; threshold, min_sentences, "
        "keep_first and on_empty have no effect).",
    )
    on_empty: OnEmpty = Field(
        default="drop",
        description='A document whose sentences were all pruned: "drop" it, keep its "best_sentence" '
        '(highest keep probability), or "keep" it whole and unpruned. Its reranking score is kept in '
        "every case, so score_threshold and top_n still apply.",
    )
    score_threshold: Optional[float] = Field(
        default=None,
        description="Drop documents whose reranking score is below this value (kept when score >= "
        "score_threshold). Applied before top_n. None: no cut-off.",
    )
    top_n: Optional[int] = Field(
        default=None, ge=1, description="Return at most this many documents, the best by reranking score. None: all."
    )
    reorder: bool = Field(
        default=True,
        description="Return documents sorted by reranking score, best first. False: keep the input "
        "(retrieval) order; top_n still keeps the best-scored ones.",
    )
    keep_original: bool = Field(default=False, description="Also store the unpruned text in the metadata.")
    batch_size: Optional[int] = Field(
        default=None, ge=1, description="Token windows per forward pass. None: the pruner's own batch size."
    )
    token_budget: Optional[int] = Field(
        default=None,
        description="At most this many tokens (the pruner's tokenizer, no special tokens) over all returned "
        "documents together, applied after top_n: the most relevant sentences across the documents are "
        "kept, in their original order; documents left empty are dropped. None: the policy's (no budget).",
    )
    on_error: OnError = Field(
        default="raise",
        description='When loading or running the model fails: "raise" the error, or "passthrough": log one '
        "warning and return the input documents/nodes unchanged (same objects, input order, no top_n).",
    )

    _pruner: Any = PrivateAttr(default=None)
    _pruner_given: bool = PrivateAttr(default=False)

    def __init__(self, *, pruner: Optional["Pruner"] = None, **data: Any) -> None:
        if pruner is not None and (data.get("model") is not None or data.get("device") is not None):
            raise ValueError(
                f"{type(self).__name__} takes either `pruner` (an already loaded TextPruner) or "
                "`model`/`device` (to load one), not both."
            )
        if pruner is not None and not callable(getattr(pruner, "prune_many", None)):
            raise TypeError(
                f"`pruner` must be a loaded pruner (a TextPruner, or an object with prune_many), got "
                f"{type(pruner).__name__}; to load a checkpoint by name or path, pass model=... instead"
            )
        super().__init__(**data)
        self._pruner = pruner
        self._pruner_given = pruner is not None

    @field_validator(*_STRICT, mode="before")
    @classmethod
    def _strict(cls, value: Any, info: Any) -> Any:
        # the one strict rule of text_pruner_rag.options, before pydantic can coerce "0.5" -> 0.5 or 5.0 -> 5
        if value is None:
            return None
        try:
            return _STRICT[info.field_name](value, info.field_name)
        except TypeError as exc:  # pydantic turns ValueError (not TypeError) into a ValidationError
            raise ValueError(str(exc)) from None

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: Optional[str]) -> Optional[str]:
        if value is not None:  # checked now, not at the first query
            from ..loading import resolve_device

            resolve_device(value)
        return value

    @model_validator(mode="after")
    def _check_policy(self) -> "PrunerSettings":
        """Build the policy once at construction: PruningPolicy is the one range check of every option."""
        try:
            self.pruning_policy  # noqa: B018
        except TypeError as exc:  # pydantic reports ValueError (not TypeError) as a ValidationError
            raise ValueError(str(exc)) from exc
        return self

    @property
    def pruning_policy(self) -> PruningPolicy:
        """The :class:`~text_pruner_rag.policy.PruningPolicy` of this adapter: ``policy`` with the options given here."""
        options = {name: getattr(self, name) for name in PruningPolicy.option_names()}
        return PruningPolicy.from_options(self.policy, **options)

    @field_serializer("model")
    def _serialize_model(self, model: Optional[str]) -> Optional[str]:
        """The model to reload: ``model`` as given, or the source of the ``pruner`` passed in."""
        if not self._pruner_given:
            return model
        source = getattr(self._pruner, "name_or_path", None)
        if source is None:
            raise ValueError(
                f"cannot serialize this {type(self).__name__}: its pruner was built in memory and has no "
                "source path or hub id (pruner.name_or_path is None), so the serialized adapter could not "
                "reload it. Save the pruner with pruner.save_pretrained(path) and pass "
                "pruner=TextPruner.from_pretrained(path) or model=path."
            )
        return str(source)

    @property
    def pruner(self) -> "Pruner":
        """The pruner: the one given, or a :class:`~text_pruner_rag.TextPruner` loaded from ``model`` on first access."""
        if self._pruner is None:
            with _LOAD_LOCK:  # two concurrent first calls must not load the model twice
                if self._pruner is None:
                    from text_pruner_rag import TextPruner

                    logger.info("Loading pruner %s", self.model or "(embedded default model)")
                    self._pruner = TextPruner.from_pretrained(self.model, device=self.device)
        return self._pruner

    def _titles(self, metadata: Sequence[Any]) -> Optional[list[Optional[str]]]:
        """Each document's title from its metadata dict (``title_key``; only str values); None when no
        document has one (the pruner is then called without ``title``)."""
        if self.title_key is None:
            return None
        titles = [m.get(self.title_key) if hasattr(m, "get") else None for m in metadata]
        titles = [t if isinstance(t, str) and t.strip() else None for t in titles]
        return titles if any(t is not None for t in titles) else None

    def _run(self, query: str, texts: Sequence[str], titles: Optional[Sequence[Optional[str]]] = None
             ) -> Optional[list[_Kept]]:
        """The whole body of an adapter call (sync, or in a worker thread for async): prune, then select;
        None (after one warning) when the model failed and ``on_error="passthrough"``."""
        results = self._prune_or_passthrough(query, texts, titles)
        return None if results is None else self._select(texts, results, query, titles)

    def _prune_or_passthrough(self, query: str, texts: Sequence[str], titles: Optional[Sequence[Optional[str]]] = None
                              ) -> Optional[list["PruningResult"]]:
        """:meth:`_prune`, or None (after one warning) when it fails and ``on_error="passthrough"``."""
        try:
            return self._prune(query, texts, titles)
        except Exception as exc:
            if self.on_error == "raise":
                raise
            logger.warning(
                "%s: loading or running the pruner failed (%s: %s); returning the %d input items unchanged "
                "(on_error='passthrough')", type(self).__name__, type(exc).__name__, exc, len(texts),
            )
            return None

    def _prune(self, query: str, texts: Sequence[str], titles: Optional[Sequence[Optional[str]]] = None
               ) -> list["PruningResult"]:
        """Rerank and prune all ``texts`` for ``query`` in one batched call, one result per text.

        ``token_budget`` is deliberately not passed: it is spent after ``score_threshold`` and
        ``top_n`` (in :meth:`_select`), on the documents actually returned. ``titles`` is passed as
        ``title=`` only when a document has one (a pruner without titles keeps working otherwise).
        """
        extra = {} if titles is None else {"title": list(titles)}
        results = self.pruner.prune_many(
            query,
            list(texts),
            policy=replace(self.pruning_policy, token_budget=None),
            batch_size=self.batch_size,
            show_progress_bar=False,  # a progress bar per retrieval is noise in a RAG pipeline
            **extra,
        )
        if len(results) != len(texts):
            raise RuntimeError(f"prune_many returned {len(results)} results for {len(texts)} contexts.")
        return results

    def _select(self, texts: Sequence[str], results: Sequence["PruningResult"], query: str,
                titles: Optional[Sequence[Optional[str]]] = None) -> list[_Kept]:
        """Apply on_empty, score_threshold, top_n, token_budget and reorder, in that order (module docstring)."""
        kept = []
        for index, (original, result) in enumerate(zip(texts, results)):
            text = self._output_text(original, result)
            if text is None:
                continue
            if self.score_threshold is not None and result.score < self.score_threshold:
                continue
            rate = result.compression_rate if text == result.pruned_text else compression_rate(original, text)
            kept.append(_Kept(index, result.score, text, rate))
        best_first = sorted(kept, key=lambda k: (-k.score, k.index))  # ties: input order
        if self.top_n is not None:
            best_first = best_first[: self.top_n]
        if self.pruning_policy.token_budget is not None:
            best_first = self._fit_budget(texts, results, best_first, query, titles)
        return best_first if self.reorder else sorted(best_first, key=lambda k: k.index)

    def _fit_budget(self, texts: Sequence[str], results: Sequence["PruningResult"], chosen: list[_Kept],
                    query: str, titles: Optional[Sequence[Optional[str]]] = None) -> list[_Kept]:
        """Cut the chosen documents' sentences to fit ``token_budget`` (counted with the model that
        pruned them, :mod:`text_pruner_rag.budget`); drop documents left empty."""
        policy = self.pruning_policy
        candidates = [self._as_chosen(results[k.index], k.text) for k in chosen]
        counter = self.pruner.model_for(query, list(texts)).count_tokens
        firsts = [policy.keeps_first(titles is not None and titles[k.index] == FIRST_SENTENCE) for k in chosen]
        fitted = fit_token_budget(candidates, policy.token_budget, counter, keep_first=firsts)
        output = []
        for k, before, after in zip(chosen, candidates, fitted):
            if not after.pruned_text.strip():
                continue
            if after is before:
                output.append(k)
            else:
                output.append(_Kept(k.index, k.score, after.pruned_text, compression_rate(texts[k.index], after.pruned_text)))
        return output

    def _as_chosen(self, result: "PruningResult", text: str) -> "PruningResult":
        """``result`` with the sentences ``on_empty`` chose marked kept, when the pruner kept none."""
        if text == result.pruned_text or not result.sentences:
            return result
        if self.on_empty == "keep" or not self.prune:
            mask = [True] * len(result.sentences)
        else:  # "best_sentence": the first sentence of highest probability, as _output_text picks it
            best = max(range(len(result.sentences)), key=lambda i: result.sentences[i].probability)
            mask = [i == best for i in range(len(result.sentences))]
        return remask(result, mask)

    def _output_text(self, original: str, result: "PruningResult") -> Optional[str]:
        """The text to return for one document, or None to drop it."""
        if not self.prune:
            return original
        if result.pruned_text.strip():
            return result.pruned_text
        if self.on_empty == "keep":
            return original
        if self.on_empty == "best_sentence" and result.sentences:
            return max(result.sentences, key=lambda s: s.probability).text  # first one on ties
        return None


def check_query(query: Any, owner: str) -> str:
    """The query of an adapter call: a non-empty str (raised in every ``on_error`` mode)."""
    if not isinstance(query, str):
        raise TypeError(f"{owner} needs the query as a str, got {type(query).__name__}")
    if not query.strip():
        raise ValueError(f"{owner} needs a non-empty query, got {query!r}")
    return query
