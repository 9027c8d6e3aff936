"""Evaluation of context pruning and reranking: metrics, baselines, the harness and its reports.

* :mod:`.metrics` — sentence P/R/F-beta, character compression, answer retention, MRR/nDCG (pure functions);
* :mod:`.baselines` — keep-all, random, BM25 and embedding-cosine sentence selectors, compression matching;
* :mod:`.harness` — :func:`evaluate`: the pruner and the baselines over a threshold sweep, in one pass;
* :mod:`.report` — ``report.json``, ``report.md`` and the PNG plots (:func:`write_report`);
* :mod:`.datasets` — ``--data`` resolution: reader formats, format detection, named dev sets and suites.

``text-pruner-rag eval`` and ``benchmarks/quality.py`` are thin command lines over these. This file
is an index: the names below are imported from their module on first use.
"""

from .._lazy import attach

_EXPORTS = {
    "BM25Selector": ".baselines",
    "EmbeddingSelector": ".baselines",
    "KeepAllSelector": ".baselines",
    "RandomSelector": ".baselines",
    "SentenceSelector": ".baselines",
    "select_matched_compression": ".baselines",
    "select_top_ratio": ".baselines",
    "tokenize": ".baselines",
    "DEV_SETS": ".datasets",
    "SUITES": ".datasets",
    "detect_format": ".datasets",
    "load_eval_data": ".datasets",
    "DEFAULT_BASELINES": ".harness",
    "DEFAULT_SWEEP": ".harness",
    "METHODS": ".harness",
    "evaluate": ".harness",
    "make_selector": ".harness",
    "DEFAULT_THRESHOLDS": ".metrics",
    "answer_retention": ".metrics",
    "best_sweep_row": ".metrics",
    "best_threshold": ".metrics",
    "compression_stats": ".metrics",
    "contains_answer": ".metrics",
    "f_beta": ".metrics",
    "mean_ndcg_at_k": ".metrics",
    "mean_reciprocal_rank": ".metrics",
    "ndcg_at_k": ".metrics",
    "negatives_emptied": ".metrics",
    "normalize_answer": ".metrics",
    "reciprocal_rank": ".metrics",
    "sentence_prf": ".metrics",
    "threshold_sweep": ".metrics",
    "format_markdown": ".report",
    "format_suite_markdown": ".report",
    "plot_report": ".report",
    "write_report": ".report",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = attach(__name__, _EXPORTS)
