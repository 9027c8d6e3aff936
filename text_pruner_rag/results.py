"""Result types returned by :class:`~text_pruner_rag.TextPruner`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional

__all__ = ["SentenceScore", "PruningResult", "RankedContext"]


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
    """The pruned version of one context for one query.

    Attributes:
        pruned_text (str): the kept sentences concatenated in their original order; always equal to
            ``"".join(context[s.start:s.end] for s in sentences if s.kept)``.
        score (float | None): reranking score of the whole context for the query (higher is more
            relevant; the best window's score). ``None`` when the context holds no text to score
            (empty or whitespace-only).
        compression_rate (float): fraction in ``[0, 1]`` of the context's characters removed
            (``1 - len(pruned_text) / len(context)``; 0.0 for an empty or whitespace-only context).
        sentences (list[SentenceScore]): every sentence of the context, in order.
        context (str): the original context (for a pre-split context, the concatenation of its sentences).
    """

    pruned_text: str
    score: Optional[float]
    compression_rate: float
    sentences: list[SentenceScore] = field(default_factory=list)
    context: str = ""

    @property
    def kept_sentences(self) -> list[SentenceScore]:
        """The kept sentences, in order."""
        return [s for s in self.sentences if s.kept]

    @property
    def removed_sentences(self) -> list[SentenceScore]:
        """The removed sentences, in order."""
        return [s for s in self.sentences if not s.kept]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of the result (sentences as dicts)."""
        return asdict(self)


@dataclass(frozen=True)
class RankedContext:
    """One entry of :meth:`TextPruner.rerank`: a context index, its reranking score and its text."""

    index: int
    score: Optional[float]
    text: str
