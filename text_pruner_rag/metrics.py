"""Metrics for context pruning and reranking: pure functions over plain lists (numpy inside).

Units and conventions used throughout:

* **Sentence metrics** are micro-averaged over every sentence of every passage (the unit is the
  sentence, not the passage), as in OpenProvence's ``scripts/eval_datasets.py``. A sentence is
  *positive* when its gold relevance is 1 and *predicted positive* when the method keeps it.
* **Compression** is measured in **characters** and given as a **fraction in [0, 1]** (not percent):
  the share of characters removed. Two aggregates are reported, because they answer different
  questions:

  - ``mean_compression``: mean over passages of each passage's fraction removed
    (``1 - len(pruned) / len(context)``, 0.0 for an empty context); OpenProvence's
    ``mean_compression`` divided by 100. Every passage weighs the same.
  - ``global_compression``: ``1 - sum(kept characters) / sum(context characters)`` over the whole
    set; every character weighs the same. This is the quantity baselines are matched on.

* **Thresholds** follow the pruner's rule: a sentence is kept iff ``probability > threshold``
  (strict, as upstream ``process()``).
* Ranking metrics treat ties **pessimistically**: a non-relevant passage whose score equals the
  relevant one's is ranked above it, so a constant scorer does not get credit from the input order
  (our dev records list the gold passage first). ``None`` and NaN scores count as ``-inf``.
* An aggregate over nothing (no positive passage, no negative passage, no query with a relevant
  passage) is ``None``, never a made-up 0 or 1.
"""

from __future__ import annotations

import math
import re
import string
from typing import Iterable, Optional, Sequence

import numpy as np

__all__ = [
    "DEFAULT_THRESHOLDS",
    "answer_retention",
    "best_sweep_row",
    "best_threshold",
    "compression_stats",
    "contains_answer",
    "f_beta",
    "mean_ndcg_at_k",
    "mean_reciprocal_rank",
    "ndcg_at_k",
    "negatives_emptied",
    "normalize_answer",
    "reciprocal_rank",
    "reciprocal_ranks",
    "sentence_prf",
    "threshold_sweep",
]

DEFAULT_THRESHOLDS: tuple[float, ...] = (
    0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5,
    0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95,
)  # fmt: skip
"""Thresholds swept by :func:`best_threshold` when none are given."""

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)


# --------------------------------------------------------------------------------------------------
# Helpers


def _is_nested(values: Sequence) -> bool:
    """Whether ``values`` is a sequence of per-passage sequences (as opposed to flat scalars)."""
    return len(values) > 0 and isinstance(values[0], (list, tuple, np.ndarray))


def _flatten(values: Sequence, name: str) -> np.ndarray:
    """A flat 1-D float array from flat values or per-passage lists of values."""
    if _is_nested(values):
        flat = [v for group in values for v in group]
    else:
        flat = list(values)
    try:
        return np.asarray(flat, dtype=float).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must hold numbers (or lists of numbers per passage), got {values!r:.80}") from exc


def _group_ids(values: Sequence) -> np.ndarray:
    """Passage index of every flattened element (all 0 for flat input)."""
    if not _is_nested(values):
        return np.zeros(len(values), dtype=int)
    return np.repeat(np.arange(len(values)), [len(group) for group in values])


def _check_same_length(**arrays: np.ndarray) -> None:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"Expected inputs with one value per sentence, but got lengths {lengths}.")


def f_beta(precision: float, recall: float, beta: float = 2.0) -> float:
    """F-beta score ``(1 + b²)·P·R / (b²·P + R)``; 0.0 when ``P + R == 0``.

    ``beta = 2`` weighs recall four times as much as precision (OpenProvence's headline F2).
    """
    denominator = beta * beta * precision + recall
    if denominator <= 0:
        return 0.0
    return (1 + beta * beta) * precision * recall / denominator


# --------------------------------------------------------------------------------------------------
# Sentence selection quality


def sentence_prf(predicted: Sequence, gold: Sequence, beta: float = 2.0) -> dict:
    """Micro-averaged sentence precision, recall and F-beta.

    Args:
        predicted (Sequence): kept flags (bool/0/1) per sentence, flat or as one list per passage.
        gold (Sequence): gold relevance (0/1) per sentence, same shape as ``predicted``.
        beta (float, optional): the F-beta weight. Defaults to 2.

    Returns:
        dict: ``precision``, ``recall``, ``f_beta``, ``beta``, ``accuracy`` (fractions in [0, 1];
        precision is 0.0 when nothing is kept, recall 0.0 when nothing is relevant) and the counts
        ``tp``, ``fp``, ``fn``, ``tn``, ``n_sentences``.

    Raises:
        ValueError: if the two inputs do not hold the same number of sentences.

    Example:
        >>> sentence_prf([1, 1, 0, 0], [1, 0, 1, 0])["f_beta"]
        0.5
    """
    pred = _flatten(predicted, "predicted") > 0.5
    ref = _flatten(gold, "gold") > 0.5
    _check_same_length(predicted=pred, gold=ref)
    tp = int(np.sum(pred & ref))
    fp = int(np.sum(pred & ~ref))
    fn = int(np.sum(~pred & ref))
    tn = int(np.sum(~pred & ~ref))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    n = tp + fp + fn + tn
    return {
        "precision": precision,
        "recall": recall,
        "f_beta": f_beta(precision, recall, beta),
        "beta": beta,
        "accuracy": (tp + tn) / n if n else 0.0,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "n_sentences": n,
    }


def compression_stats(context_lengths: Sequence[int], kept_lengths: Sequence[int]) -> dict:
    """Character compression of a set of passages.

    Args:
        context_lengths (Sequence[int]): length of each original passage, in characters.
        kept_lengths (Sequence[int]): length of each pruned passage, in characters.

    Returns:
        dict: ``mean_compression`` (mean over passages of the fraction of characters removed; an
        empty passage counts as 0.0), ``global_compression`` (fraction of all characters removed;
        0.0 when there are no characters), ``n_passages``, ``n_characters``, ``n_kept_characters``.

    Raises:
        ValueError: on different lengths, or a kept length above its context length.

    Example:
        >>> stats = compression_stats([100, 300], [50, 300])
        >>> stats["mean_compression"], stats["global_compression"]
        (0.25, 0.125)
    """
    total = np.asarray(context_lengths, dtype=float).reshape(-1)
    kept = np.asarray(kept_lengths, dtype=float).reshape(-1)
    _check_same_length(context_lengths=total, kept_lengths=kept)
    if np.any(kept > total) or np.any(kept < 0):
        raise ValueError("Expected 0 <= kept length <= context length for every passage.")
    per_passage = np.where(total > 0, 1.0 - kept / np.maximum(total, 1.0), 0.0)
    n_chars = float(total.sum())
    return {
        "mean_compression": float(per_passage.mean()) if len(total) else 0.0,
        "global_compression": 1.0 - float(kept.sum()) / n_chars if n_chars else 0.0,
        "n_passages": int(len(total)),
        "n_characters": int(n_chars),
        "n_kept_characters": int(kept.sum()),
    }


# --------------------------------------------------------------------------------------------------
# Answers


def normalize_answer(text: str, language: str = "en") -> str:
    """Normalise text for answer matching.

    English: the SQuAD v1.1 evaluation normalisation (lowercase, drop ASCII punctuation, drop the
    articles a/an/the, collapse whitespace). Japanese (``"ja"``): the text is returned unchanged
    (raw substring matching; JaQuAD answers are exact character spans of the context).
    """
    if language == "ja":
        return text
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def contains_answer(text: str, answers: Iterable[str], language: str = "en") -> bool:
    """Whether ``text`` contains at least one of ``answers``.

    English: the normalised answer must occur in the normalised text on word boundaries (so "cat"
    is not found in "concatenate"). Japanese: raw substring. Empty answers are ignored; an answer
    that normalises to nothing (e.g. "The") is matched raw, case-insensitively.
    """
    if language == "ja":
        return any(answer and answer in text for answer in answers)
    padded_text = f" {normalize_answer(text)} "
    for answer in answers:
        if not answer or not answer.strip():
            continue
        normalized = normalize_answer(answer)
        if normalized and f" {normalized} " in padded_text:
            return True
        if not normalized and answer.strip().lower() in text.lower():
            return True
    return False


def answer_retention(
    pruned_texts: Sequence[str],
    answers: Sequence[Sequence[str]],
    languages: Sequence[str] | str = "en",
    original_texts: Optional[Sequence[str]] = None,
) -> dict:
    """Fraction of (positive) passages whose pruned text still contains a gold answer.

    Pass only positive passages. Passages with no answer string are skipped. When ``original_texts``
    is given, passages whose *unpruned* text does not contain an answer are skipped as well, so that
    keeping everything scores exactly 1.0.

    Args:
        pruned_texts (Sequence[str]): the pruned passages.
        answers (Sequence[Sequence[str]]): the gold answer strings of each passage.
        languages (Sequence[str] | str, optional): ``"en"``/``"ja"`` per passage, or one for all.
            Defaults to ``"en"``.
        original_texts (Sequence[str], optional): the unpruned passages. Defaults to None.

    Returns:
        dict: ``answer_retention`` (fraction in [0, 1], ``None`` when no passage qualifies) and
        ``n_answerable`` (the denominator).
    """
    if isinstance(languages, str):
        languages = [languages] * len(pruned_texts)
    if not len(pruned_texts) == len(answers) == len(languages):
        raise ValueError(
            f"Expected one answer list and language per pruned text, but got {len(pruned_texts)} texts, "
            f"{len(answers)} answer lists and {len(languages)} languages."
        )
    hits, n = 0, 0
    for i, (text, golds, language) in enumerate(zip(pruned_texts, answers, languages)):
        if not any(a and a.strip() for a in golds):
            continue
        if original_texts is not None and not contains_answer(original_texts[i], golds, language):
            continue
        n += 1
        hits += contains_answer(text, golds, language)
    return {"answer_retention": hits / n if n else None, "n_answerable": n}


def negatives_emptied(pruned_texts: Sequence[str], labels: Sequence[int]) -> dict:
    """Fraction of negative passages (label 0) pruned to empty text (empty or whitespace-only).

    Returns:
        dict: ``negatives_emptied`` (fraction in [0, 1], ``None`` without negatives) and ``n_negatives``.
    """
    if len(pruned_texts) != len(labels):
        raise ValueError(f"Expected one label per pruned text, but got {len(pruned_texts)} and {len(labels)}.")
    negatives = [text for text, label in zip(pruned_texts, labels) if int(label) == 0]
    emptied = sum(1 for text in negatives if not text.strip())
    return {"negatives_emptied": emptied / len(negatives) if negatives else None, "n_negatives": len(negatives)}


# --------------------------------------------------------------------------------------------------
# Ranking


def _clean_scores(scores: Sequence[Optional[float]]) -> np.ndarray:
    values = [-math.inf if s is None or (isinstance(s, float) and math.isnan(s)) else float(s) for s in scores]
    return np.asarray(values, dtype=float)


def _pessimistic_order(scores: np.ndarray, relevance: np.ndarray) -> np.ndarray:
    """Indices best first; among equal scores, less relevant items come first (pessimistic ties)."""
    return np.lexsort((relevance, -scores))


def reciprocal_rank(scores: Sequence[Optional[float]], relevance: Sequence[int]) -> Optional[float]:
    """``1 / rank`` of the best-ranked relevant passage (ties pessimistic); ``None`` without one.

    Example:
        >>> reciprocal_rank([0.2, 0.9, 0.2], [1, 0, 0])
        0.3333333333333333
    """
    s, rel = _clean_scores(scores), np.asarray(relevance, dtype=float)
    _check_same_length(scores=s, relevance=rel)
    if not np.any(rel > 0):
        return None
    ranked = rel[_pessimistic_order(s, rel)]
    return 1.0 / (int(np.argmax(ranked > 0)) + 1)


def ndcg_at_k(scores: Sequence[Optional[float]], relevance: Sequence[float], k: int = 10) -> Optional[float]:
    """nDCG@k with linear gains (``rel / log2(rank + 1)``), ties pessimistic; ``None`` without a relevant item.

    Example:
        >>> round(ndcg_at_k([0.1, 0.9], [1, 0], k=10), 4)
        0.6309
    """
    if k < 1:
        raise ValueError(f"ndcg_at_k expects k >= 1, but got k={k}.")
    s, rel = _clean_scores(scores), np.asarray(relevance, dtype=float)
    _check_same_length(scores=s, relevance=rel)
    if not np.any(rel > 0):
        return None
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    gains = rel[_pessimistic_order(s, rel)][:k]
    ideal = np.sort(rel)[::-1][:k]
    return float(np.sum(gains * discounts[: len(gains)]) / np.sum(ideal * discounts[: len(ideal)]))


def _mean_over_queries(values: list[Optional[float]]) -> dict:
    defined = [v for v in values if v is not None]
    return {"mean": float(np.mean(defined)) if defined else None, "n_queries": len(defined)}


def mean_reciprocal_rank(scores_per_query: Sequence[Sequence], relevance_per_query: Sequence[Sequence]) -> dict:
    """MRR over queries that have at least one relevant passage.

    Returns:
        dict: ``mrr`` (``None`` when no query qualifies) and ``n_queries``.
    """
    result = _mean_over_queries(reciprocal_ranks(scores_per_query, relevance_per_query))
    return {"mrr": result["mean"], "n_queries": result["n_queries"]}


def reciprocal_ranks(scores_per_query: Sequence[Sequence], relevance_per_query: Sequence[Sequence]) -> list[Optional[float]]:
    """:func:`reciprocal_rank` of every query, in order (``None`` for a query without a relevant passage).

    Two runs over the same queries give paired lists, so their MRR difference can be tested per query.
    """
    return [reciprocal_rank(s, r) for s, r in zip(scores_per_query, relevance_per_query)]


def mean_ndcg_at_k(scores_per_query: Sequence[Sequence], relevance_per_query: Sequence[Sequence], k: int = 10) -> dict:
    """Mean nDCG@k over queries that have at least one relevant passage.

    Returns:
        dict: ``ndcg`` (``None`` when no query qualifies), ``k`` and ``n_queries``.
    """
    result = _mean_over_queries([ndcg_at_k(s, r, k) for s, r in zip(scores_per_query, relevance_per_query)])
    return {"ndcg": result["mean"], "k": k, "n_queries": result["n_queries"]}


# --------------------------------------------------------------------------------------------------
# Threshold sweep / calibration


def threshold_sweep(
    probabilities_per_sentence: Sequence,
    gold: Sequence,
    char_lengths: Sequence,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    beta: float = 2.0,
) -> list[dict]:
    """Sentence P/R/F and character compression at each threshold (keep iff ``probability > threshold``).

    Args:
        probabilities_per_sentence (Sequence): keep probability of each sentence, flat or one list per
            passage. Give one list per passage to get a meaningful ``mean_compression``.
        gold (Sequence): gold relevance (0/1) per sentence, same shape.
        char_lengths (Sequence): length of each sentence in characters, same shape.
        thresholds (Sequence[float], optional): thresholds to try. Defaults to :data:`DEFAULT_THRESHOLDS`.
        beta (float, optional): the F-beta weight. Defaults to 2.

    Returns:
        list[dict]: one row per threshold, in the given order, with ``threshold``, ``precision``,
        ``recall``, ``f2`` (always beta = 2), ``f_beta`` (for ``beta``), ``beta``, ``compression``
        (global character fraction removed), ``mean_compression`` (mean over passages; equal to
        ``compression`` for flat input) and ``kept_fraction`` (fraction of sentences kept).

    Raises:
        ValueError: if the inputs do not hold the same number of sentences.
    """
    probs = _flatten(probabilities_per_sentence, "probabilities_per_sentence")
    ref = _flatten(gold, "gold") > 0.5
    lengths = _flatten(char_lengths, "char_lengths")
    _check_same_length(probabilities=probs, gold=ref, char_lengths=lengths)
    groups = _group_ids(probabilities_per_sentence)
    n_groups = len(probabilities_per_sentence) if _is_nested(probabilities_per_sentence) else 1
    group_chars = np.bincount(groups, weights=lengths, minlength=n_groups)
    rows = []
    for threshold in thresholds:
        kept = probs > threshold
        prf = sentence_prf(kept, ref, beta=beta)
        kept_chars = np.bincount(groups, weights=lengths * kept, minlength=n_groups)
        comp = compression_stats(group_chars, np.minimum(kept_chars, group_chars))
        rows.append(
            {
                "threshold": float(threshold),
                "precision": prf["precision"],
                "recall": prf["recall"],
                "f2": f_beta(prf["precision"], prf["recall"], 2.0),
                "f_beta": prf["f_beta"],
                "beta": beta,
                "compression": comp["global_compression"],
                "mean_compression": comp["mean_compression"],
                "kept_fraction": float(kept.mean()) if len(kept) else 0.0,
            }
        )
    return rows


def best_threshold(
    probabilities_per_sentence: Sequence,
    gold: Sequence,
    char_lengths: Sequence,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    beta: float = 2.0,
) -> dict:
    """The :func:`threshold_sweep` row with the highest F-beta (the calibrated threshold is ``row["threshold"]``).

    The one threshold picker of the package: evaluation and training calibration (which writes a
    checkpoint's ``default_threshold``) both use it. Tie rule in :func:`best_sweep_row`.

    Raises:
        ValueError: if ``thresholds`` is empty, or as :func:`threshold_sweep`.
    """
    if len(thresholds) == 0:
        raise ValueError("best_threshold expects at least one threshold, but got none.")
    return best_sweep_row(threshold_sweep(probabilities_per_sentence, gold, char_lengths, thresholds, beta))


def best_sweep_row(rows: Sequence[dict], min_recall: Optional[float] = None) -> dict:
    """The row of a :func:`threshold_sweep` table with the highest ``f_beta``, or the most compressing
    row that keeps ``recall >= min_recall``.

    Ties (F-beta equal to 12 decimals) go to the **highest** threshold: at equal F-beta it removes at
    least as many characters. With ``min_recall`` (a fraction in [0, 1]) the pick is the **highest**
    threshold whose sentence recall reaches ``min_recall`` (the most compression at that recall); when no
    row reaches it, the row with the highest recall (ties: the highest threshold).

    Raises:
        ValueError: ``rows`` is empty, or ``min_recall`` is outside [0, 1].
    """
    if not rows:
        raise ValueError("best_sweep_row expects at least one sweep row, but got none.")
    if min_recall is not None:
        if not 0.0 <= min_recall <= 1.0:
            raise ValueError(f"min_recall must be in [0, 1], got {min_recall!r}")
        reaching = [row for row in rows if row["recall"] >= min_recall]
        if reaching:
            return max(reaching, key=lambda row: row["threshold"])
        return max(rows, key=lambda row: (round(row["recall"], 12), row["threshold"]))
    return max(rows, key=lambda row: (round(row["f_beta"], 12), row["threshold"]))
