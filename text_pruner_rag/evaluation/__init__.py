"""Evaluation of context pruning and reranking: baselines, the harness and its typed reports.

It reads data through :mod:`text_pruner_rag.data` and scores with :mod:`text_pruner_rag.metrics`
(both shared with training); it never imports :mod:`text_pruner_rag.training`.

* :mod:`.baselines` — keep-all, random, BM25 and embedding-cosine sentence selectors, compression matching;
* :mod:`.harness` — :func:`evaluate`: the pruner and the baselines over a threshold sweep, in one pass;
* :mod:`.schema` — :class:`EvaluationReport` and its rows, what :func:`evaluate` returns;
* :mod:`.report` — ``report.json``, ``report.md`` and the PNG plots (:func:`write_report`).

The metrics and dev-set names (``DEV_SETS``, ``load_eval_data``, ``f_beta``, ...) are re-exported here
from :mod:`text_pruner_rag.metrics` and :mod:`text_pruner_rag.data.devsets`.

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
    "DEV_SETS": "text_pruner_rag.data.devsets",
    "SUITES": "text_pruner_rag.data.devsets",
    "detect_format": "text_pruner_rag.data.devsets",
    "load_eval_data": "text_pruner_rag.data.devsets",
    "Counts": ".schema",
    "EvaluationReport": ".schema",
    "RankingFigures": ".schema",
    "ResultRow": ".schema",
    "Timing": ".schema",
    "DEFAULT_BASELINES": ".harness",
    "DEFAULT_SWEEP": ".harness",
    "METHODS": ".harness",
    "evaluate": ".harness",
    "make_selector": ".harness",
    "DEFAULT_THRESHOLDS": "text_pruner_rag.metrics",
    "answer_retention": "text_pruner_rag.metrics",
    "best_sweep_row": "text_pruner_rag.metrics",
    "best_threshold": "text_pruner_rag.metrics",
    "compression_stats": "text_pruner_rag.metrics",
    "contains_answer": "text_pruner_rag.metrics",
    "f_beta": "text_pruner_rag.metrics",
    "mean_ndcg_at_k": "text_pruner_rag.metrics",
    "mean_reciprocal_rank": "text_pruner_rag.metrics",
    "ndcg_at_k": "text_pruner_rag.metrics",
    "negatives_emptied": "text_pruner_rag.metrics",
    "normalize_answer": "text_pruner_rag.metrics",
    "reciprocal_rank": "text_pruner_rag.metrics",
    "sentence_prf": "text_pruner_rag.metrics",
    "threshold_sweep": "text_pruner_rag.metrics",
    "format_default_rows": ".report",
    "format_markdown": ".report",
    "format_suite_markdown": ".report",
    "plot_report": ".report",
    "write_report": ".report",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = attach(__name__, _EXPORTS)
