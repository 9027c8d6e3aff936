"""Evaluation of context pruning and reranking: metrics, baselines and the quality harness.

:func:`evaluate` runs, in one pass over a dev set of unified records, the pruner at its threshold,
an optional threshold sweep over the same sentence probabilities, and every baseline at the pruner's
compression; :func:`format_markdown` renders the result. ``benchmarks/quality.py`` is a thin CLI
over the two.

A unified record (:mod:`text_pruner_rag.records`) is::

    {"id", "query", "language": "en" | "ja", "source", "answers": [str],
     "passages": [{"text", "title", "spans": [[start, end], ...], "relevance": [0/1 per span],
                   "label": 0 | 1, "teacher_score"}]}

Each passage is given to the pruner as its gold sentences ``[text[s:e] for s, e in spans]``
(pre-split input, kept exactly), so predictions align one-to-one with the gold labels; the
evaluated context is ``"".join`` of those sentences. This mirrors OpenProvence's
``scripts/eval_datasets.py``, which also bypasses the sentence splitter.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import time
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

from .baselines import (
    BM25Selector,
    EmbeddingSelector,
    KeepAllSelector,
    RandomSelector,
    SentenceSelector,
    select_matched_compression,
    select_top_ratio,
    tokenize,
)
from .metrics import (
    DEFAULT_THRESHOLDS,
    answer_retention,
    best_threshold,
    compression_stats,
    contains_answer,
    f_beta,
    mean_ndcg_at_k,
    mean_reciprocal_rank,
    ndcg_at_k,
    negatives_emptied,
    normalize_answer,
    reciprocal_rank,
    sentence_prf,
    threshold_sweep,
)

logger = logging.getLogger(__name__)

__all__ = [
    "BM25Selector",
    "DEFAULT_BASELINES",
    "DEFAULT_THRESHOLDS",
    "EmbeddingSelector",
    "KeepAllSelector",
    "RandomSelector",
    "SentenceSelector",
    "answer_retention",
    "best_threshold",
    "compression_stats",
    "contains_answer",
    "evaluate",
    "f_beta",
    "format_markdown",
    "make_selector",
    "mean_ndcg_at_k",
    "mean_reciprocal_rank",
    "ndcg_at_k",
    "negatives_emptied",
    "normalize_answer",
    "reciprocal_rank",
    "select_matched_compression",
    "select_top_ratio",
    "sentence_prf",
    "threshold_sweep",
    "tokenize",
]

DEFAULT_BASELINES: tuple[str, ...] = ("keep_all", "random", "bm25", "embedding")
"""Baselines :func:`evaluate` runs when none are given."""


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
    language: str
    passages: list[_Passage]


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
# Records


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


def _as_mapping(record: Any) -> Mapping:
    """A unified record as a dict: dicts as they are, ``text_pruner_rag.records.Record`` objects via ``to_dict()``."""
    if isinstance(record, Mapping):
        return record
    if callable(getattr(record, "to_dict", None)):
        return record.to_dict()
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return dataclasses.asdict(record)
    raise TypeError(f"Expected a unified record (dict or Record), but got {type(record).__name__}.")


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
            queries.append(_Query(query=query, language=record.get("language") or "en", passages=passages))
    return queries, skipped


# --------------------------------------------------------------------------------------------------
# Running the pruner


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


def _run_pruner(pruner, queries: list[_Query], kwargs: dict, progress: bool) -> dict:
    """Prune every passage; per passage: kept flags, probabilities, pruned text and reranking score."""
    from tqdm.auto import tqdm

    out: dict[str, list] = {"kept": [], "probs": [], "pruned": [], "scores": []}
    start = time.perf_counter()
    for query in tqdm(queries, desc="Pruning", disable=not progress):
        results = pruner.prune_many(query.query, [p.sentences for p in query.passages], **kwargs)
        if len(results) != len(query.passages):
            raise ValueError(f"prune_many returned {len(results)} results for {len(query.passages)} contexts.")
        for passage, result in zip(query.passages, results):
            kept, probs = _align_to_gold(result, passage.sentences)
            out["kept"].append(kept)
            out["probs"].append(probs)
            out["pruned"].append(result.pruned_text)
            out["scores"].append(result.score)
    out["seconds"] = time.perf_counter() - start
    return out


# --------------------------------------------------------------------------------------------------
# Metrics per method


def _method_metrics(passages: list[_Passage], kept: list[list[bool]], beta: float, pruned=None) -> dict:
    """All selection metrics of one method (kept flags per gold sentence; pruned texts if not the kept join)."""
    if pruned is None:
        pruned = ["".join(s for s, k in zip(p.sentences, flags) if k) for p, flags in zip(passages, kept)]
    prf = sentence_prf(kept, [p.gold for p in passages], beta=beta)
    lengths = [len(p.text) for p in passages]
    kept_lengths = [min(len(t), n) for t, n in zip(pruned, lengths)]
    row = {k: prf[k] for k in ("precision", "recall", "f_beta", "beta", "accuracy", "tp", "fp", "fn", "tn")}
    row["f2"] = f_beta(prf["precision"], prf["recall"], 2.0)
    comp = compression_stats(lengths, kept_lengths)
    row["mean_compression"], row["global_compression"] = comp["mean_compression"], comp["global_compression"]
    for name, label in (("positives", 1), ("negatives", 0)):
        idx = [i for i, p in enumerate(passages) if p.label == label]
        sub = compression_stats([lengths[i] for i in idx], [kept_lengths[i] for i in idx])
        row[f"mean_compression_{name}"] = sub["mean_compression"] if idx else None
    pos = [i for i, p in enumerate(passages) if p.label == 1]
    row.update(
        answer_retention(
            [pruned[i] for i in pos],
            [passages[i].answers for i in pos],
            [passages[i].language for i in pos],
            original_texts=[passages[i].text for i in pos],
        )
    )
    row.update(negatives_emptied(pruned, [p.label for p in passages]))
    return row


def _baseline_rows(selectors, queries, passages, target: float, beta: float, seed: int, progress: bool) -> dict:
    """Each selector at the target compression: one global cut-off, and per-passage top ratio."""
    from tqdm.auto import tqdm

    rows = {}
    lengths = [[len(s) for s in p.sentences] for p in passages]
    for selector in selectors:
        scores: list[list[float]] = []
        for query in tqdm(queries, desc=f"Baseline {selector.name}", disable=not progress):
            scores.extend(selector.scores_many(query.query, [p.sentences for p in query.passages]))
        if selector.name == "keep_all":
            rows["keep_all"] = _method_metrics(passages, [[True] * len(p.sentences) for p in passages], beta)
            rows["keep_all"]["selection"] = "none"
            continue
        flat_scores = [x for group in scores for x in group]
        matched = select_matched_compression(flat_scores, [n for g in lengths for n in g], target, seed=seed)
        kept, start = [], 0
        for group in lengths:
            kept.append(matched["kept"][start : start + len(group)])
            start += len(group)
        rows[selector.name] = _method_metrics(passages, kept, beta)
        rows[selector.name].update(selection="global_cutoff", target_compression=target, cutoff=matched["cutoff"])
        per_passage = [select_top_ratio(s, n, 1.0 - target) for s, n in zip(scores, lengths)]
        rows[f"{selector.name}_per_passage"] = _method_metrics(passages, per_passage, beta)
        rows[f"{selector.name}_per_passage"].update(selection="per_passage_ratio", target_compression=target)
    return rows


def _ranking(pruner_scores: list, selectors, queries: list[_Query], k: int) -> dict:
    """MRR and nDCG@k of the positive passages among each multi-passage query's passages."""
    ranked = [q for q in queries if len(q.passages) > 1]
    if not ranked:
        return {}
    by_query: dict[int, list] = {}
    for passage, score in zip((p for q in queries for p in q.passages), pruner_scores):
        by_query.setdefault(passage.query_index, []).append(score)
    methods = {"pruner": [by_query[q.passages[0].query_index] for q in ranked]}
    for selector in selectors:
        if selector.name != "keep_all":
            methods[selector.name] = [selector.scores(q.query, [p.text for p in q.passages]) for q in ranked]
    relevance = [[p.label for p in q.passages] for q in ranked]
    out = {}
    for name, scores in methods.items():
        mrr, ndcg = mean_reciprocal_rank(scores, relevance), mean_ndcg_at_k(scores, relevance, k)
        out[name] = {"mrr": mrr["mrr"], f"ndcg@{k}": ndcg["ndcg"], "n_queries": mrr["n_queries"]}
    return out


# --------------------------------------------------------------------------------------------------
# Public entry points


def evaluate(
    pruner,
    records: Sequence[Any],
    *,
    threshold: Optional[float] = None,
    sweep_thresholds: Optional[Sequence[float]] = None,
    baselines: Sequence[Union[str, SentenceSelector]] = DEFAULT_BASELINES,
    batch_size: Optional[int] = None,
    beta: float = 2.0,
    ndcg_k: int = 10,
    seed: int = 0,
    embedding_model=None,
    show_progress_bar: Optional[bool] = None,
) -> dict:
    """Evaluate a pruner and the baselines on one dev set of unified records.

    The pruner runs once per query (``prune_many`` over the query's passages, each as its gold
    sentences). From that one run come: the pruner row (its own kept flags), the threshold sweep
    (``probability > t`` over the returned sentence probabilities, so policy extras such as a minimum
    number of sentences are not applied there), the passage ranking (``PruningResult.score``), and
    the target compression for the baselines: each baseline is run once with one global cut-off
    matched to the pruner's **global** character compression and once per passage with the same
    keep ratio (see :mod:`text_pruner_rag.evaluation.baselines`). ``keep_all`` is not matched.

    Args:
        pruner: an object with ``prune_many(query, contexts, *, threshold=None, batch_size=None)``
            returning :class:`~text_pruner_rag.PruningResult` objects, and ``default_threshold``.
        records (Sequence[Mapping | Record]): unified records (module docstring), as dicts or as
            ``text_pruner_rag.records.Record`` objects.
        threshold (float, optional): the pruner's threshold. Defaults to its ``default_threshold``.
        sweep_thresholds (Sequence[float], optional): thresholds for the sweep. Defaults to None (no sweep).
        baselines (Sequence[str | SentenceSelector], optional): names for :func:`make_selector` or selector
            objects. Defaults to :data:`DEFAULT_BASELINES`.
        batch_size (int, optional): passed to ``prune_many``. Defaults to the pruner's.
        beta (float, optional): F-beta weight. Defaults to 2.
        ndcg_k (int, optional): cut-off of nDCG. Defaults to 10.
        seed (int, optional): seed of the random baseline and of the cut-off tie-breaking. Defaults to 0.
        embedding_model (optional): model path or SentenceTransformer for the embedding baseline.
            Defaults to the bundled all-MiniLM-L6-v2.
        show_progress_bar (bool, optional): progress bars; ``None`` means on when this logger is at INFO.

    Returns:
        dict: counts (``n_records``, ``n_queries``, ``n_passages``, ``n_positive_passages``,
        ``n_negative_passages``, ``n_skipped_passages``, ``n_sentences``, ``n_relevant_sentences``,
        ``n_characters``), ``threshold``, ``beta``, ``target_compression``, ``methods`` (name -> metric
        row: ``precision``, ``recall``, ``f_beta``, ``f2``, ``mean_compression``, ``global_compression``,
        ``answer_retention``, ``negatives_emptied``, ...), ``ranking`` (method -> ``mrr``, ``ndcg@k``;
        empty when no query has several passages), ``sweep`` and ``best_threshold`` (``None`` without
        a sweep), ``pruner_seconds`` and ``pruner_passages_per_second``. Fractions are in [0, 1].

    Raises:
        ValueError: on malformed records, or when the pruner returns a wrong number of results.
    """
    progress = logger.isEnabledFor(logging.INFO) if show_progress_bar is None else show_progress_bar
    queries, skipped = _prepare(records)
    passages = [p for q in queries for p in q.passages]
    if not passages:
        raise ValueError("evaluate() needs at least one record with a non-empty passage, but got none.")
    used_threshold = threshold if threshold is not None else getattr(pruner, "default_threshold", None)
    kwargs = {k: v for k, v in (("threshold", threshold), ("batch_size", batch_size)) if v is not None}
    if "show_progress_bar" in inspect.signature(pruner.prune_many).parameters:
        kwargs["show_progress_bar"] = False  # one bar over queries here, not one per query
    run = _run_pruner(pruner, queries, kwargs, progress)

    methods = {"pruner": _method_metrics(passages, run["kept"], beta, pruned=run["pruned"])}
    methods["pruner"].update(selection="threshold", threshold=used_threshold)
    sweep, best = None, None
    if sweep_thresholds:
        args = (run["probs"], [p.gold for p in passages], [[len(s) for s in p.sentences] for p in passages])
        sweep = threshold_sweep(*args, thresholds=sweep_thresholds, beta=beta)
        best = best_threshold(*args, thresholds=sweep_thresholds, beta=beta)
        kept = [[x > best["threshold"] for x in probs] for probs in run["probs"]]
        methods["pruner_best_threshold"] = _method_metrics(passages, kept, beta)
        methods["pruner_best_threshold"].update(selection="oracle_threshold", threshold=best["threshold"])

    target = methods["pruner"]["global_compression"]
    selectors = [
        make_selector(b, seed=seed, embedding_model=embedding_model) if isinstance(b, str) else b for b in baselines
    ]
    methods.update(_baseline_rows(selectors, queries, passages, target, beta, seed, progress))
    n_sentences = sum(len(p.sentences) for p in passages)
    return {
        "n_records": len(records),
        "n_queries": len(queries),
        "n_passages": len(passages),
        "n_positive_passages": sum(p.label == 1 for p in passages),
        "n_negative_passages": sum(p.label == 0 for p in passages),
        "n_skipped_passages": skipped,
        "n_sentences": n_sentences,
        "n_relevant_sentences": sum(sum(p.gold) for p in passages),
        "n_characters": sum(len(p.text) for p in passages),
        "threshold": used_threshold,
        "beta": beta,
        "target_compression": target,
        "methods": methods,
        "ranking": _ranking(run["scores"], selectors, queries, ndcg_k),
        "sweep": sweep,
        "best_threshold": best,
        "pruner_seconds": run["seconds"],
        "pruner_passages_per_second": len(passages) / run["seconds"] if run["seconds"] > 0 else None,
    }


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def format_markdown(results: Mapping[str, Mapping]) -> str:
    """Markdown tables (one section per dev set) from ``{set name: evaluate() result}``.

    Columns: method, how it selects, P, R, F-beta, global and mean-per-passage character compression,
    answer retention, MRR of the gold passage (methods that rank), negatives emptied; then the
    threshold sweep when there is one.
    """
    lines: list[str] = []
    for name, result in results.items():
        beta, ranking = result.get("beta", 2.0), result.get("ranking") or {}
        lines += [
            f"### {name}",
            "",
            f"{result['n_queries']} queries, {result['n_passages']} passages "
            f"({result['n_positive_passages']} positive), {result['n_sentences']} sentences; "
            f"pruner threshold {_fmt(result['threshold'])}; baselines matched to "
            f"global char compression {_fmt(result['target_compression'])}.",
            "",
            f"| method | selection | P | R | F{beta:g} | char compr. (global) | char compr. (mean/passage) "
            "| answer retention | MRR | negatives emptied |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for method, row in result["methods"].items():
            mrr = ranking.get(method, {}).get("mrr")
            lines.append(
                f"| {method} | {row.get('selection', '')} | {_fmt(row['precision'])} | {_fmt(row['recall'])} "
                f"| {_fmt(row['f_beta'])} | {_fmt(row['global_compression'])} | {_fmt(row['mean_compression'])} "
                f"| {_fmt(row['answer_retention'])} | {_fmt(mrr)} | {_fmt(row['negatives_emptied'])} |"
            )
        if result.get("sweep"):
            lines += ["", f"Threshold sweep (best F{beta:g} at t={_fmt(result['best_threshold']['threshold'])}):", "",
                      f"| threshold | P | R | F{beta:g} | char compr. (global) | char compr. (mean/passage) |",
                      "|---|---|---|---|---|---|"]  # fmt: skip
            for row in result["sweep"]:
                lines.append(
                    f"| {row['threshold']:g} | {_fmt(row['precision'])} | {_fmt(row['recall'])} "
                    f"| {_fmt(row['f_beta'])} | {_fmt(row['compression'])} | {_fmt(row['mean_compression'])} |"
                )
        lines.append("")
    return "\n".join(lines)
