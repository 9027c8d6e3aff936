"""Keep/drop decisions for the sentences of one context, and threshold calibration.

All policies work on per-sentence keep probabilities (``[0, 1]``) computed by
:class:`~text_pruner_rag.TextPruner`. The rules, applied in this order:

1. **Selection**: with ``keep_ratio`` set, the ``ceil(keep_ratio * n)`` sentences with the highest
   probability are kept (ties: earlier sentence first); otherwise a sentence is kept iff its
   probability is strictly greater than ``threshold`` (Provence/OpenProvence semantics). With the
   ``"fraction_above_threshold"`` rounding (naver Provence), a sentence is kept iff the fraction of its
   tokens whose keep probability exceeds ``threshold`` is itself greater than ``threshold``.
2. **Token budget**: with ``token_budget`` set, kept sentences are dropped lowest-probability first
   until the kept sentences hold at most ``token_budget`` tokens (model tokens).
3. **min_sentences**: if fewer than ``min_sentences`` sentences are kept, the highest-probability
   dropped sentences are added back until ``min(min_sentences, n)`` are kept (this may exceed the
   token budget: an explicit minimum wins).
4. **keep_first**: the first sentence (a title or a subject-naming lead sentence) is kept whenever at
   least one other sentence is kept (the ``always_select_title`` rule of Provence).

Kept sentences always stay in their original order; the policy only returns a mask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

__all__ = ["PruningPolicy", "calibrate_threshold", "threshold_table"]


@dataclass(frozen=True)
class PruningPolicy:
    """How sentences are kept.

    Args:
        threshold (float | None): sentence keep threshold in ``[0, 1]``; ``None`` means the model's
            ``default_threshold``.
        min_sentences (int): keep at least this many sentences (highest probability first). Defaults to 0.
        keep_first (bool): keep the first sentence whenever another one is kept. Defaults to False.
        keep_ratio (float | None): keep this fraction ``(0, 1]`` of the sentences, by probability,
            instead of thresholding.
        token_budget (int | None): at most this many model tokens kept per context.

    Raises:
        ValueError: a value outside its range.
    """

    threshold: Optional[float] = None
    min_sentences: int = 0
    keep_first: bool = False
    keep_ratio: Optional[float] = None
    token_budget: Optional[int] = None

    def __post_init__(self) -> None:
        if self.threshold is not None and not 0.0 <= float(self.threshold) <= 1.0:
            raise ValueError(f"`threshold` must be in [0, 1], got {self.threshold}")
        if int(self.min_sentences) < 0:
            raise ValueError(f"`min_sentences` must be >= 0, got {self.min_sentences}")
        if self.keep_ratio is not None and not 0.0 < float(self.keep_ratio) <= 1.0:
            raise ValueError(f"`keep_ratio` must be in (0, 1], got {self.keep_ratio}")
        if self.token_budget is not None and int(self.token_budget) < 0:
            raise ValueError(f"`token_budget` must be >= 0, got {self.token_budget}")

    def select(
        self,
        probabilities: Sequence[float],
        *,
        threshold: float,
        token_counts: Optional[Sequence[int]] = None,
        fractions_above: Optional[Sequence[float]] = None,
    ) -> list[bool]:
        """Decide which sentences to keep.

        Args:
            probabilities (Sequence[float]): keep probability per sentence, ``[0, 1]``.
            threshold (float): the resolved threshold (this policy's, else the model default).
            token_counts (Sequence[int], optional): model tokens per sentence (for ``token_budget``).
            fractions_above (Sequence[float], optional): per sentence, the fraction of its tokens whose
                keep probability is above ``threshold`` (only for the naver rounding rule).

        Returns:
            list[bool]: the kept mask, one entry per sentence.
        """
        n = len(probabilities)
        if n == 0:
            return []
        order = sorted(range(n), key=lambda i: (-probabilities[i], i))
        if self.keep_ratio is not None:
            chosen = set(order[: max(1, math.ceil(self.keep_ratio * n))])
            kept = [i in chosen for i in range(n)]
        elif fractions_above is not None:
            kept = [fractions_above[i] > threshold for i in range(n)]
        else:
            kept = [p > threshold for p in probabilities]
        if self.token_budget is not None and token_counts is not None:
            total = sum(c for c, k in zip(token_counts, kept) if k)
            for i in reversed(order):
                if total <= self.token_budget:
                    break
                if kept[i]:
                    kept[i] = False
                    total -= token_counts[i]
        missing = min(int(self.min_sentences), n) - sum(kept)
        for i in order:
            if missing <= 0:
                break
            if not kept[i]:
                kept[i] = True
                missing -= 1
        if self.keep_first and any(kept[1:]):
            kept[0] = True
        return kept


def threshold_table(
    probabilities: Sequence[float],
    labels: Sequence[int],
    char_lengths: Sequence[int],
    thresholds: Sequence[float],
    beta: float = 2.0,
) -> list[dict[str, float]]:
    """Sentence-level precision, recall, F-beta and character compression per threshold.

    A thin alias of :func:`text_pruner_rag.evaluation.metrics.threshold_sweep` (one implementation
    serves calibration and evaluation): keep iff probability > threshold, micro-averaged.

    Args:
        probabilities (Sequence[float]): keep probability per sentence (all sentences of a dev set).
        labels (Sequence[int]): gold relevance per sentence (1 relevant, 0 not).
        char_lengths (Sequence[int]): characters per sentence.
        thresholds (Sequence[float]): thresholds to evaluate.
        beta (float): recall weight of F-beta. Defaults to 2 (F2, the OpenProvence headline metric).

    Returns:
        list[dict]: one row per threshold with ``threshold``, ``precision``, ``recall``, ``f_beta``
        and ``compression`` (fraction of all characters removed, ``[0, 1]``), among others.

    Raises:
        ValueError: inputs of different lengths.
    """
    from .evaluation.metrics import threshold_sweep

    return threshold_sweep(list(probabilities), list(labels), list(char_lengths), list(thresholds), beta=beta)


def calibrate_threshold(
    probabilities: Sequence[float],
    labels: Sequence[int],
    char_lengths: Optional[Sequence[int]] = None,
    *,
    beta: float = 2.0,
    thresholds: Optional[Sequence[float]] = None,
) -> tuple[float, list[dict[str, float]]]:
    """Pick the threshold that maximises sentence-level F-beta on labelled data.

    Args:
        probabilities, labels, char_lengths: as in :func:`threshold_table` (lengths default to 1).
        beta (float): F-beta weight; 2 favours recall. Defaults to 2.
        thresholds (Sequence[float], optional): candidates; defaults to 0.01, 0.02, ..., 0.95.

    Returns:
        tuple[float, list[dict]]: the best threshold (ties: the lower one, for recall) and the full table.

    Raises:
        ValueError: no labelled sentence.
    """
    if not probabilities:
        raise ValueError("cannot calibrate a threshold on an empty dev set")
    if thresholds is None:
        thresholds = [round(0.01 * i, 2) for i in range(1, 96)]
    lengths = char_lengths if char_lengths is not None else [1] * len(probabilities)
    table = threshold_table(probabilities, labels, lengths, thresholds, beta=beta)
    best = max(table, key=lambda row: (row["f_beta"], -row["threshold"]))
    return best["threshold"], table
