"""Keep/drop decisions for the sentences of one context, and threshold calibration.

All policies work on per-sentence keep probabilities (``[0, 1]``) computed by
:class:`~text_pruner_rag.TextPruner`. The rules, applied in this order:

1. **Selection**: with ``keep_ratio`` set, the ``ceil(keep_ratio * n)`` sentences with the highest
   probability are kept (ties: earlier sentence first); otherwise a sentence is kept iff its
   probability is strictly greater than ``threshold`` (Provence/OpenProvence semantics). With the
   ``"fraction_above_threshold"`` rounding (naver Provence), a sentence is kept iff the fraction of its
   tokens whose keep probability exceeds ``threshold`` is itself greater than ``threshold``.
2. **Per-context token budget**: with ``context_token_budget`` set, kept sentences are dropped
   lowest-probability first until the kept sentences of the context hold at most
   ``context_token_budget`` tokens (model tokens, counted in context).
3. **min_sentences**: if fewer than ``min_sentences`` sentences are kept, the highest-probability
   dropped sentences are added back until ``min(min_sentences, n)`` are kept (this may exceed the
   token budget: an explicit minimum wins).
4. **keep_first**: the first sentence (a title or a subject-naming lead sentence) is kept whenever at
   least one other sentence is kept (the ``always_select_title`` rule of Provence).

Kept sentences always stay in their original order; the policy only returns a mask.

**Token budget across documents** (``token_budget``, applied after the rules above to all the
contexts of one call together, see :func:`select_within_token_budget` and :func:`fit_token_budget`):
the sentences kept by rules 1-4 are the candidates; the most relevant of them across all contexts
(highest keep probability, ties broken by the context's reranking score) are taken while they fit in
the budget. The budget counts the tokens of the model's tokenizer (no special tokens) of each returned
text, summed over the contexts; it is a hard cap (it can undo ``min_sentences``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from dataclasses import replace
from typing import Callable, Optional, Sequence

from .results import PruningResult

__all__ = [
    "PruningPolicy",
    "calibrate_threshold",
    "threshold_table",
    "select_within_token_budget",
    "fit_token_budget",
]


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
        context_token_budget (int | None): at most this many model tokens kept in each context
            (counted in context; applied by :meth:`select`). Called ``token_budget`` before 0.2.
        token_budget (int | None): at most this many model tokens (no special tokens) over all the
            contexts of one call together; applied after :meth:`select` by :func:`fit_token_budget`.

    Raises:
        ValueError: a value outside its range.
    """

    threshold: Optional[float] = None
    min_sentences: int = 0
    keep_first: bool = False
    keep_ratio: Optional[float] = None
    context_token_budget: Optional[int] = None
    token_budget: Optional[int] = None

    def __post_init__(self) -> None:
        if self.threshold is not None and not 0.0 <= float(self.threshold) <= 1.0:
            raise ValueError(f"`threshold` must be in [0, 1], got {self.threshold}")
        if int(self.min_sentences) < 0:
            raise ValueError(f"`min_sentences` must be >= 0, got {self.min_sentences}")
        if self.keep_ratio is not None and not 0.0 < float(self.keep_ratio) <= 1.0:
            raise ValueError(f"`keep_ratio` must be in (0, 1], got {self.keep_ratio}")
        for name in ("context_token_budget", "token_budget"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or int(value) != value or value < 0):
                raise ValueError(f"`{name}` must be an integer >= 0, got {value!r}")

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
            token_counts (Sequence[int], optional): model tokens per sentence (for ``context_token_budget``).
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
        if self.context_token_budget is not None and token_counts is not None:
            total = sum(c for c, k in zip(token_counts, kept) if k)
            for i in reversed(order):
                if total <= self.context_token_budget:
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


def select_within_token_budget(
    probabilities: Sequence[Sequence[float]],
    token_counts: Sequence[Sequence[int]],
    candidates: Sequence[Sequence[bool]],
    token_budget: int,
    document_scores: Optional[Sequence[Optional[float]]] = None,
    *,
    keep_first: bool = False,
) -> list[list[bool]]:
    """Choose sentences across several documents so that together they hold at most ``token_budget`` tokens.

    Greedy fill by relevance: the candidate sentences of all documents are visited by decreasing keep
    probability (ties: higher document score first, then earlier document, then earlier sentence); a
    sentence is taken when its tokens still fit in what is left of the budget, and skipped otherwise
    (a later, shorter sentence may still fit). Pure function: no model, no tokenizer.

    Args:
        probabilities (Sequence[Sequence[float]]): per document, the keep probability of each
            sentence, in ``[0, 1]``.
        token_counts (Sequence[Sequence[int]]): per document, the tokens of each sentence (``>= 0``).
        candidates (Sequence[Sequence[bool]]): per document, the sentences that may be taken (usually
            the mask chosen by :meth:`PruningPolicy.select`); others are never taken.
        token_budget (int): the most tokens all taken sentences may hold together, ``>= 0``.
        document_scores (Sequence[float | None], optional): reranking score per document, only to
            break ties in probability (None ranks below every score). Defaults to no tie-break.
        keep_first (bool): a document's first sentence is taken together with its first other
            sentence (both must fit), as :attr:`PruningPolicy.keep_first` does. Defaults to False.

    Returns:
        list[list[bool]]: per document, the taken mask (a subset of ``candidates``; kept sentences stay
        in their original order when the caller joins them). A document whose taken sentences all have
        0 tokens gets an all-False mask: it is left empty, and callers drop it.

    Raises:
        ValueError: lists of different lengths, a negative budget or a negative token count.
    """
    if isinstance(token_budget, bool) or int(token_budget) != token_budget or token_budget < 0:
        raise ValueError(f"`token_budget` must be an integer >= 0, got {token_budget!r}")
    n_docs = len(probabilities)
    if len(token_counts) != n_docs or len(candidates) != n_docs:
        raise ValueError("probabilities, token_counts and candidates need one entry per document")
    if document_scores is not None and len(document_scores) != n_docs:
        raise ValueError("document_scores needs one entry per document")
    for d in range(n_docs):
        if not len(probabilities[d]) == len(token_counts[d]) == len(candidates[d]):
            raise ValueError(f"document {d}: probabilities, token_counts and candidates differ in length")
        if any(c < 0 for c in token_counts[d]):
            raise ValueError(f"document {d}: token counts must be >= 0")

    def doc_rank(d: int) -> float:  # ascending sort key: higher score first, None last
        score = None if document_scores is None else document_scores[d]
        return float("inf") if score is None else -float(score)

    order = sorted(
        ((d, i) for d in range(n_docs) for i in range(len(candidates[d])) if candidates[d][i]),
        key=lambda di: (-probabilities[di[0]][di[1]], doc_rank(di[0]), di[0], di[1]),
    )
    taken = [[False] * len(c) for c in candidates]
    left = int(token_budget)
    for d, i in order:
        if taken[d][i]:
            continue
        group = [i]
        if keep_first and i > 0 and candidates[d][0] and not taken[d][0]:
            group.insert(0, 0)
        cost = sum(token_counts[d][j] for j in group)
        if cost <= left:
            for j in group:
                taken[d][j] = True
            left -= cost
    for d in range(n_docs):
        if not any(t and token_counts[d][i] > 0 for i, t in enumerate(taken[d])):
            taken[d] = [False] * len(taken[d])
    return taken


def fit_token_budget(
    results: Sequence[PruningResult],
    token_budget: int,
    count_tokens: Callable[[list[str]], list[int]],
    *,
    keep_first: bool = False,
) -> list[PruningResult]:
    """Cut the kept sentences of several results so that their texts together fit in ``token_budget`` tokens.

    The sentences each result keeps are the candidates of :func:`select_within_token_budget`, with
    each sentence costing ``count_tokens([sentence.text])`` tokens and ties broken by the results'
    reranking scores. The joined texts are then counted again as a whole (a tokenizer can merge
    tokens across a sentence boundary); in the rare case the total exceeds the budget, the selection
    is redone with the budget lowered by the excess, until it fits. Guarantee:
    ``sum(count_tokens([r.pruned_text for r in output])) <= token_budget``.

    Args:
        results (Sequence[PruningResult]): the results of one query (e.g. from ``prune_many``).
        token_budget (int): most tokens of all returned texts together, ``>= 0``.
        count_tokens (Callable[[list[str]], list[int]]): tokens of each text (for a
            :class:`~text_pruner_rag.TextPruner`: :meth:`~text_pruner_rag.TextPruner.count_tokens`, the
            model's tokenizer without special tokens).
        keep_first (bool): keep a result's first sentence with its first other taken sentence.

    Returns:
        list[PruningResult]: one per input, in order, with ``kept``, ``pruned_text`` and
        ``compression_rate`` updated; a result left with no sentence has ``pruned_text == ""``
        (score and sentences kept). Sentences are only ever removed, never added.

    Raises:
        ValueError: a negative budget.
    """
    if isinstance(token_budget, bool) or int(token_budget) != token_budget or token_budget < 0:
        raise ValueError(f"`token_budget` must be an integer >= 0, got {token_budget!r}")
    candidates = [[s.kept for s in r.sentences] for r in results]
    probabilities = [[s.probability for s in r.sentences] for r in results]
    flat = [s.text for r, c in zip(results, candidates) for s, k in zip(r.sentences, c) if k]
    flat_counts = iter(count_tokens(flat) if flat else [])
    counts = [[next(flat_counts) if k else 0 for k in c] for c in candidates]
    scores = [r.score for r in results]
    budget = int(token_budget)
    while True:
        masks = select_within_token_budget(probabilities, counts, candidates, budget, scores, keep_first=keep_first)
        texts = ["".join(s.text for s, k in zip(r.sentences, m) if k) for r, m in zip(results, masks)]
        non_empty = [t for t in texts if t]
        total = sum(count_tokens(non_empty)) if non_empty else 0
        if total <= token_budget or budget == 0:
            break
        budget = max(0, budget - (total - int(token_budget)))
    output = []
    for result, mask, text in zip(results, masks, texts):
        if [s.kept for s in result.sentences] == mask:
            output.append(result)
            continue
        sentences = [replace(s, kept=k) for s, k in zip(result.sentences, mask)]
        rate = 1.0 - len(text) / len(result.context) if result.context else 0.0
        output.append(replace(result, pruned_text=text, compression_rate=rate, sentences=sentences))
    return output


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
