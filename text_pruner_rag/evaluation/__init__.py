"""Evaluation of context pruning and reranking: metrics, baselines, the harness and its reports.

* :mod:`.metrics` — sentence P/R/F-beta, character compression, answer retention, MRR/nDCG (pure functions);
* :mod:`.baselines` — keep-all, random, BM25 and embedding-cosine sentence selectors, compression matching;
* :mod:`.harness` — :func:`evaluate`: the pruner and the baselines over a threshold sweep, in one pass;
* :mod:`.report` — ``report.json``, ``report.md`` and the PNG plots (:func:`write_report`);
* :mod:`.datasets` — ``--data`` resolution: reader formats, format detection, named dev sets and suites.

``text-pruner-rag eval`` and ``benchmarks/quality.py`` are thin command lines over these.
"""

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
from .datasets import DEV_SETS, SUITES, detect_format, load_eval_data
from .harness import DEFAULT_BASELINES, DEFAULT_SWEEP, METHODS, evaluate, make_selector
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
from .report import format_markdown, format_suite_markdown, plot_report, write_report

__all__ = [
    "BM25Selector",
    "DEFAULT_BASELINES",
    "DEFAULT_SWEEP",
    "DEFAULT_THRESHOLDS",
    "DEV_SETS",
    "EmbeddingSelector",
    "KeepAllSelector",
    "METHODS",
    "RandomSelector",
    "SUITES",
    "SentenceSelector",
    "answer_retention",
    "best_threshold",
    "compression_stats",
    "contains_answer",
    "detect_format",
    "evaluate",
    "f_beta",
    "format_markdown",
    "format_suite_markdown",
    "load_eval_data",
    "make_selector",
    "mean_ndcg_at_k",
    "mean_reciprocal_rank",
    "ndcg_at_k",
    "negatives_emptied",
    "normalize_answer",
    "plot_report",
    "reciprocal_rank",
    "select_matched_compression",
    "select_top_ratio",
    "sentence_prf",
    "threshold_sweep",
    "tokenize",
    "write_report",
]
