"""Result types returned by :class:`~text_pruner_rag.TextPruner`, and the one place they are built.

:func:`build_result` is the only code that turns a kept mask into a :class:`PruningResult`: the pruned
text (the kept sentences joined in order) and the compression rate are computed there and nowhere else.
:func:`pruning_json` is the JSON form of a result, shared by the command line (``--json``) and servers.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Optional, Sequence

if TYPE_CHECKING:
    from .policy import PruningPolicy

__all__ = ["NO_TEXT_SCORE", "SentenceScore", "PruningResult", "RankedContext", "build_result", "remask",
           "pruning_json", "with_title_kept"]

NO_TEXT_SCORE = float("-inf")
"""The reranking score of a context with no text (empty or whitespace-only), in every API: ``prune``,
``prune_many``, ``rerank``, ``predict`` and ``rank``. It ranks last; JSON writes it as ``null``."""


@dataclass(frozen=True)
class SentenceScore:
    """One sentence of a context with its keep decision.

    Attributes:
        text (str): the sentence exactly as it appears in the context, ``context[start:end]``
            (trailing whitespace and newlines included).
        start (int): start offset in the context, in characters.
        end (int): end offset (exclusive), in characters.
        probability (float): keep probability in ``[0, 1]``: the mean of the per-token keep
            probabilities of the sentence's tokens, weighted by tokens across windows.
        kept (bool): whether the policy kept the sentence.
    """

    text: str
    start: int
    end: int
    probability: float
    kept: bool


@dataclass(frozen=True)
class PruningResult:
    """The pruned version of one context for one query (build it with :func:`build_result`).

    Attributes:
        pruned_text (str): the kept sentences concatenated in their original order; always equal to
            ``"".join(context[s.start:s.end] for s in sentences if s.kept)``.
        score (float): reranking score of the whole context for the query (higher is more relevant;
            the best window's score). ``-inf`` (:data:`NO_TEXT_SCORE`) when the context holds no text
            to score (empty or whitespace-only).
        compression_rate (float): fraction in ``[0, 1]`` of the context's characters removed
            (``1 - len(pruned_text) / len(context)``; 0.0 for an empty or whitespace-only context).
        sentences (list[SentenceScore]): every sentence of the context, in order.
        context (str): the original context (for a pre-split context, the concatenation of its sentences).
        title (str | None): the context's title when the call gave one (``title=``), exactly as given;
            None without a title. An explicit title is scored with the context (in front of its first
            window) but is **not** part of ``context``, ``sentences``, ``pruned_text``,
            ``compression_rate`` or any token budget. With ``title="first_sentence"`` it is the text of
            ``sentences[0]``, which stays part of the context.
        title_kept (bool): whether the title is kept (see
            :meth:`PruningPolicy.keep_title <text_pruner_rag.policy.PruningPolicy.keep_title>`; with
            ``"first_sentence"``, ``sentences[0].kept``). False without a title.
        title_probability (float | None): the title's keep probability in ``[0, 1]`` (the mean over its
            tokens, read in the context's first window); None without a title or for a context with no
            text (not scored).
    """

    pruned_text: str
    score: float
    compression_rate: float
    sentences: list[SentenceScore] = field(default_factory=list)
    context: str = ""
    title: Optional[str] = None
    title_kept: bool = False
    title_probability: Optional[float] = None

    @property
    def kept_sentences(self) -> list[SentenceScore]:
        """The kept sentences, in order."""
        return [s for s in self.sentences if s.kept]

    @property
    def removed_sentences(self) -> list[SentenceScore]:
        """The removed sentences, in order."""
        return [s for s in self.sentences if not s.kept]

    def to_dict(self) -> dict[str, Any]:
        """A dict of the result (sentences as dicts); ``score`` as is (``-inf`` for no text)."""
        return asdict(self)


@dataclass(frozen=True)
class RankedContext:
    """One entry of :meth:`TextPruner.rerank`: a context index, its reranking score (``-inf`` for no
    text) and its text."""

    index: int
    score: float
    text: str


def compression_rate(context: str, pruned_text: str) -> float:
    """Fraction in ``[0, 1]`` of ``context``'s characters not kept; 0.0 for a context with no text."""
    return 1.0 - len(pruned_text) / len(context) if context.strip() else 0.0


def build_result(
    context: str, sentences: Sequence[Any], probabilities: Sequence[float], kept: Sequence[bool],
    score: Optional[float], *, title: Optional[str] = None, title_probability: Optional[float] = None,
    title_kept: bool = False,
) -> PruningResult:
    """The :class:`PruningResult` of one context from its sentences and kept mask.

    Args:
        context (str): the context text.
        sentences (Sequence): ``n`` sentences with ``text``, ``start``, ``end`` (character spans tiling
            ``context``).
        probabilities (Sequence[float]): ``n`` keep probabilities in ``[0, 1]``.
        kept (Sequence[bool]): ``n`` keep decisions. A context with no text keeps nothing, whatever
            the mask.
        score (float | None): the reranking score; None or ``-inf`` for a context with no text.
        title, title_probability, title_kept: the title fields of :class:`PruningResult` (no title by
            default); they never change ``pruned_text`` or ``compression_rate``.

    Raises:
        ValueError: ``sentences``, ``probabilities`` and ``kept`` differ in length.
    """
    if not len(sentences) == len(probabilities) == len(kept):
        raise ValueError(f"{len(sentences)} sentences, {len(probabilities)} probabilities, {len(kept)} decisions")
    if not context.strip():
        kept = [False] * len(kept)
    scored = [SentenceScore(s.text, s.start, s.end, float(p), bool(k))
              for s, p, k in zip(sentences, probabilities, kept)]
    pruned = "".join(s.text for s in scored if s.kept)
    return PruningResult(pruned, NO_TEXT_SCORE if score is None else float(score),
                         compression_rate(context, pruned), scored, context, title, bool(title_kept),
                         None if title_probability is None else float(title_probability))


def remask(result: PruningResult, kept: Sequence[bool]) -> PruningResult:
    """``result`` with a new kept mask (one entry per sentence); ``result`` itself when the mask is unchanged.
    The title fields are carried over unchanged (see :func:`with_title_kept`)."""
    if [s.kept for s in result.sentences] == list(kept):
        return result
    return build_result(result.context, result.sentences, [s.probability for s in result.sentences], kept,
                        result.score, title=result.title, title_probability=result.title_probability,
                        title_kept=result.title_kept)


def with_title_kept(result: PruningResult, kept: bool) -> PruningResult:
    """``result`` with ``title_kept`` set (``result`` itself when unchanged); text and rates are untouched."""
    kept = bool(kept) and result.title is not None
    return result if result.title_kept == kept else dataclasses.replace(result, title_kept=kept)


def _json_number(value: float) -> Optional[float]:
    return value if math.isfinite(value) else None


def pruning_json(result: PruningResult, policy: Optional["PruningPolicy"] = None) -> dict[str, Any]:
    """The JSON form of a result: ``score`` (``null`` for a context with no text), ``compression_rate``
    (fraction), ``pruned_text``, with a title also ``title``, ``title_kept`` and ``title_probability``,
    with ``policy`` also ``threshold`` and ``policy`` (every option), and
    ``sentences`` (``text``, ``start``, ``end`` in characters, ``probability``, ``kept``)."""
    payload: dict[str, Any] = {
        "score": _json_number(result.score),
        "compression_rate": result.compression_rate,
        "pruned_text": result.pruned_text,
    }
    if result.title is not None:
        payload["title"] = result.title
        payload["title_kept"] = result.title_kept
        payload["title_probability"] = result.title_probability
    if policy is not None:
        payload["threshold"] = policy.threshold
        payload["policy"] = dataclasses.asdict(policy)
    payload["sentences"] = [
        {"text": s.text, "start": s.start, "end": s.end, "probability": s.probability, "kept": s.kept}
        for s in result.sentences
    ]
    return payload


def format_scores(scores: list[float], single: bool, convert_to_numpy: bool, convert_to_tensor: bool,
                  device: Any) -> Any:
    """Scores in ``CrossEncoder.predict``'s return types (numpy float32, a tensor, or a list of 0-dim tensors)."""
    import numpy as np
    import torch

    if convert_to_tensor:
        out: Any = torch.tensor(scores, dtype=torch.float32, device=device)
    elif convert_to_numpy:
        out = np.asarray(scores, dtype=np.float32)
    else:
        out = list(torch.tensor(scores, dtype=torch.float32))
    return out[0] if single else out
