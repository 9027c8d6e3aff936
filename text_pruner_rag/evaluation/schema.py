"""Typed evaluation reports: what :func:`~text_pruner_rag.evaluation.harness.evaluate` returns.

:class:`EvaluationReport` holds the counts, the sweep and one :class:`ResultRow` per (method,
threshold). :meth:`EvaluationReport.to_dict` is the ``report.json`` layout (keys ``f2.5`` and
``ndcg@10`` as written there) and :meth:`EvaluationReport.from_dict` reads it back. Reading a key
(``report["results"]``) still works, on that dict layout, for code written against the former dict
return value.

Units: every fraction (precision, recall, compression, rates) is in ``[0, 1]``, never percent;
compression counts **characters**; ``None`` is a figure the data cannot give.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

__all__ = ["Counts", "EvaluationReport", "RankingFigures", "ResultRow", "Timing"]

_RENAMED = {"f2_5": "f2.5"}


@dataclass
class ResultRow:
    """The figures of one method at one threshold.

    Attributes:
        method (str): ``"pruner"``, ``"keep_all"`` (once, threshold None), or a baseline's name.
        threshold (float | None): the pruner's sentence threshold in ``[0, 1]``; baselines are matched
            to the pruner's compression at it.
        precision, recall, f1, f2, f2_5 (float): sentence metrics, micro-averaged over all sentences
            (``f2_5`` is written ``f2.5``).
        compression (float): fraction of all characters removed; ``mean_compression`` the mean over
            passages; ``compression_answerable``/``compression_unanswerable`` the same over passages
            with / without a relevant sentence (None when there are none).
        emptied_negative_rate (float | None): passages without a relevant sentence pruned to nothing.
        answer_retention (float | None): positive passages whose gold answer string survives.
        tp, fp, fn, tn (int): sentence confusion counts; ``kept_sentence_fraction`` the share kept.
        target_compression, cutoff (float | None): baselines only: the compression matched and the
            global score cut-off that gave it.
        mrr, ndcg (float | None): passage ranking figures of the method, when ``ndcg_k`` is set (some
            query has several passages); ``ndcg`` is written ``ndcg@<k>``.
    """

    method: str
    threshold: Optional[float]
    precision: float
    recall: float
    f1: float
    f2: float
    f2_5: float
    compression: float
    mean_compression: float
    compression_answerable: Optional[float]
    compression_unanswerable: Optional[float]
    emptied_negative_rate: Optional[float]
    answer_retention: Optional[float]
    tp: int
    fp: int
    fn: int
    tn: int
    kept_sentence_fraction: float
    target_compression: Optional[float] = None
    cutoff: Optional[float] = None
    mrr: Optional[float] = None
    ndcg: Optional[float] = None
    ndcg_k: Optional[int] = None

    def to_dict(self) -> dict[str, Any]:
        """The ``report.json`` row: ``f2.5``, baseline keys only on matched rows, ``mrr``/``ndcg@k`` when ranked."""
        out: dict[str, Any] = {}
        for item in dataclasses.fields(self):
            if item.name in ("target_compression", "cutoff", "mrr", "ndcg", "ndcg_k"):
                continue
            out[_RENAMED.get(item.name, item.name)] = getattr(self, item.name)
        if self.target_compression is not None:
            out.update(target_compression=self.target_compression, cutoff=self.cutoff)
        if self.ndcg_k is not None:
            out.update({"mrr": self.mrr, f"ndcg@{self.ndcg_k}": self.ndcg})
        return out

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> "ResultRow":
        """A row from its ``report.json`` form.

        Raises:
            KeyError: a required figure is missing.
        """
        ndcg_key = next((k for k in row if k.startswith("ndcg@")), None)
        names = {f.name for f in dataclasses.fields(cls)} - {"f2_5", "ndcg", "ndcg_k"}
        values = {k: row[k] for k in names if k in row}
        values["f2_5"] = row["f2.5"]
        if ndcg_key is not None:
            values.update(ndcg=row[ndcg_key], ndcg_k=int(ndcg_key.split("@", 1)[1]))
        return cls(**values)


@dataclass
class Counts:
    """What was evaluated: queries, passages (with / without a relevant sentence, skipped empty ones),
    sentences, relevant sentences, characters."""

    n_queries: int
    n_passages: int
    n_answerable_passages: int
    n_unanswerable_passages: int
    n_skipped_passages: int
    n_sentences: int
    n_relevant_sentences: int
    n_characters: int


@dataclass
class RankingFigures:
    """Passage ranking of one method over the queries with several passages (ties pessimistic)."""

    mrr: Optional[float]
    ndcg: Optional[float]
    n_ranked_queries: int
    k: int = 10
    reciprocal_ranks: Optional[list[Optional[float]]] = None  # per ranked query, in data order (None: no positive)

    def to_dict(self) -> dict[str, Any]:
        out = {"mrr": self.mrr, f"ndcg@{self.k}": self.ndcg, "n_ranked_queries": self.n_ranked_queries}
        if self.reciprocal_ranks is not None:
            out["reciprocal_ranks"] = self.reciprocal_ranks
        return out

    @classmethod
    def from_dict(cls, figures: Mapping[str, Any]) -> "RankingFigures":
        key = next(k for k in figures if k.startswith("ndcg@"))
        return cls(figures["mrr"], figures[key], figures["n_ranked_queries"], int(key.split("@", 1)[1]),
                   figures.get("reciprocal_ranks"))


@dataclass
class Timing:
    """Run time in seconds: the whole call, per method, and the estimate made after the first queries."""

    seconds: float
    method_seconds: dict[str, float] = field(default_factory=dict)
    estimated_seconds: Optional[float] = None
    probe_queries: Optional[int] = None


@dataclass
class EvaluationReport:
    """A pruner and its baselines on one set of records, over a threshold sweep.

    Attributes:
        model (str | None): the model's name or path, as given.
        data (list | None): a description of the data (paths, formats, record counts), as given.
        counts (Counts): what was evaluated.
        default_threshold (float | None): the pruner's default threshold (always in the sweep).
        thresholds (list[float]): the sweep, ascending, in ``[0, 1]``.
        baselines (list[str]): baseline names, in the order given.
        seed (int): seed of the random baseline and of cut-off tie-breaking.
        matching (str): how baselines are matched to the pruner's compression.
        ranking (dict[str, RankingFigures]): method -> passage ranking figures (empty when no query
            has several passages).
        timing (Timing): run time.
        results (list[ResultRow]): one row per method and threshold.
        model_weights_sha256 (str | None): first hex digits of the weights' SHA-256, when known.
        command (str | None): the command line that produced the report, when known.
    """

    model: Optional[str]
    data: Optional[list]
    counts: Counts
    default_threshold: Optional[float]
    thresholds: list[float]
    baselines: list[str]
    seed: int
    matching: str
    ranking: dict[str, RankingFigures]
    timing: Timing
    results: list[ResultRow]
    model_weights_sha256: Optional[str] = None
    command: Optional[str] = None

    def rows_at_default(self) -> list[ResultRow]:
        """Every method's row at :attr:`default_threshold` (and keep_all's, which has none)."""
        return [r for r in self.results if r.threshold is None or r.threshold == self.default_threshold]

    def row(self, method: str, threshold: Optional[float]) -> ResultRow:
        """The row of ``method`` at ``threshold``.

        Raises:
            KeyError: no such row.
        """
        for candidate in self.results:
            if candidate.method == method and candidate.threshold == threshold:
                return candidate
        raise KeyError(f"no row for method {method!r} at threshold {threshold!r}")

    def to_dict(self) -> dict[str, Any]:
        """The ``report.json`` layout (JSON-serialisable); ``model_weights_sha256`` and ``command`` only when set."""
        out: dict[str, Any] = {"model": self.model, "data": self.data, **dataclasses.asdict(self.counts)}
        out.update(
            default_threshold=self.default_threshold,
            thresholds=list(self.thresholds),
            baselines=list(self.baselines),
            seed=self.seed,
            matching=self.matching,
            ranking={name: figures.to_dict() for name, figures in self.ranking.items()},
            timing=dataclasses.asdict(self.timing),
            results=[row.to_dict() for row in self.results],
        )
        for name in ("model_weights_sha256", "command"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out

    @classmethod
    def from_dict(cls, report: Mapping[str, Any]) -> "EvaluationReport":
        """A report from its ``report.json`` form (as :meth:`to_dict` writes it).

        Raises:
            KeyError: a required key is missing.
        """
        timing = dict(report.get("timing") or {"seconds": 0.0})
        return cls(
            model=report.get("model"),
            data=report.get("data"),
            counts=Counts(**{f.name: report[f.name] for f in dataclasses.fields(Counts)}),
            default_threshold=report.get("default_threshold"),
            thresholds=list(report.get("thresholds") or []),
            baselines=list(report.get("baselines") or []),
            seed=report.get("seed", 0),
            matching=report.get("matching", ""),
            ranking={k: RankingFigures.from_dict(v) for k, v in (report.get("ranking") or {}).items()},
            timing=Timing(**timing),
            results=[ResultRow.from_dict(r) for r in report["results"]],
            model_weights_sha256=report.get("model_weights_sha256"),
            command=report.get("command"),
        )

    def __getitem__(self, key: str) -> Any:
        """``report[key]`` on the :meth:`to_dict` layout, for code written against the former dict.

        Raises:
            KeyError: no such key.
        """
        return self.to_dict()[key]
