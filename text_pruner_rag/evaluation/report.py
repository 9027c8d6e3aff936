"""Writing an evaluation report: ``report.json``, ``report.md`` and PNG plots.

:func:`write_report` takes the :class:`~text_pruner_rag.evaluation.schema.EvaluationReport` returned
by :func:`~text_pruner_rag.evaluation.harness.evaluate` (or its ``report.json`` dict) and writes, into
one folder:

* ``report.json``: :meth:`~text_pruner_rag.evaluation.schema.EvaluationReport.to_dict` (plus the
  command line, when given);
* ``report.md``: what was run, the rows at the pruner's default threshold, the whole sweep;
* ``recall_vs_compression.png`` and ``f2_vs_compression.png``: one curve per method over the
  thresholds (x = fraction of characters removed), keep-all as one point, the default threshold
  starred. Drawn with matplotlib's Agg canvas directly (no pyplot, no global backend change).

:func:`format_suite_markdown` summarises several reports (one per dev set) in one table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

from .schema import EvaluationReport

Report = Union[EvaluationReport, Mapping[str, Any]]
"""A report: typed, or its ``report.json`` dict (read back from disk)."""

__all__ = ["PLOTS", "format_default_rows", "format_markdown", "format_suite_markdown", "plot_report", "write_report"]

PLOTS: dict[str, tuple[str, str]] = {
    "recall_vs_compression.png": ("recall", "sentence recall"),
    "f2_vs_compression.png": ("f2", "sentence F2"),
}
"""File name -> (row key, axis label) of each plot."""

_COLUMNS: list[tuple[str, str]] = [
    ("method", "method"),
    ("threshold", "threshold"),
    ("precision", "P"),
    ("recall", "R"),
    ("f1", "F1"),
    ("f2", "F2"),
    ("f2.5", "F2.5"),
    ("compression", "chars removed"),
    ("compression_answerable", "chars removed (answerable)"),
    ("compression_unanswerable", "chars removed (unanswerable)"),
    ("emptied_negative_rate", "unanswerable emptied"),
    ("answer_retention", "answer retention"),
    ("mrr", "MRR"),
    ("ndcg@10", "nDCG@10"),
]

_LEGEND = (
    "P/R/F: sentence precision, recall and F-beta, micro-averaged over all sentences. *chars removed*: "
    "fraction of all characters removed (compression); *(answerable)*/*(unanswerable)*: the same over "
    "passages with / without a relevant sentence. *unanswerable emptied*: fraction of passages without a "
    "relevant sentence pruned to nothing. *answer retention*: fraction of positive passages whose gold "
    "answer string survives pruning. MRR/nDCG@10: the positive passages among each query's passages, by "
    "the pruner's reranking score / the baseline's passage score. Baselines are matched to the pruner's "
    "compression at each threshold; keep_all is not pruned. – = the data cannot give this figure."
)


def _as_dict(report: Report) -> Mapping[str, Any]:
    return report.to_dict() if isinstance(report, EvaluationReport) else report


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _method_order(report: Mapping) -> list[str]:
    return ["pruner", *[b for b in report.get("baselines", []) if b != "keep_all"], "keep_all"]


def _sorted_rows(report: Mapping, rows: Sequence[Mapping]) -> list[Mapping]:
    order = {name: i for i, name in enumerate(_method_order(report))}
    return sorted(rows, key=lambda r: (r["threshold"] is None, r["threshold"] or 0.0, order.get(r["method"], 99)))


def _table(rows: Sequence[Mapping]) -> list[str]:
    """A markdown table of the rows; columns that are empty in every row are left out."""
    columns = [(key, title) for key, title in _COLUMNS if any(row.get(key) is not None for row in rows)]
    lines = ["| " + " | ".join(title for _, title in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [f"**{_fmt(row.get(k))}**" if k == "method" and row["method"] == "pruner" else _fmt(row.get(k))
                 for k, _ in columns]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _describe_data(data: Any) -> str:
    if not data:
        return "(records given in Python)"
    parts = []
    for item in data:
        if isinstance(item, Mapping):
            name = item.get("name") or item.get("path")
            extra = ", ".join(f"{k} {item[k]}" for k in ("format", "n_records") if item.get(k) is not None)
            parts.append(f"`{name}` ({extra})" if extra else f"`{name}`")
        else:
            parts.append(f"`{item}`")
    return "; ".join(parts)


def _header(report: Mapping, title: str) -> list[str]:
    timing = report.get("timing") or {}
    per_method = ", ".join(f"{k} {v:.0f} s" for k, v in (timing.get("method_seconds") or {}).items())
    lines = [f"# {title}", ""]
    if report.get("command"):
        lines += ["Command:", "", "```bash", report["command"], "```", ""]
    lines += [
        f"- Model: `{report.get('model') or '(given in Python)'}`"
        + (f" (weights sha256 `{report['model_weights_sha256']}…`)" if report.get("model_weights_sha256") else "")
        + f", default threshold {_fmt(report.get('default_threshold'))}",
        f"- Data: {_describe_data(report.get('data'))}",
        f"- {report['n_queries']:,} queries, {report['n_passages']:,} passages ({report['n_answerable_passages']:,} "
        f"with a relevant sentence, {report['n_unanswerable_passages']:,} without), {report['n_sentences']:,} "
        f"sentences ({report['n_relevant_sentences']:,} relevant), {report['n_characters']:,} characters",
        f"- Run time: {timing.get('seconds', 0.0):.0f} s ({per_method})",
        f"- Baseline matching: {report.get('matching', '')}",
        "",
    ]
    return lines


def format_markdown(report: Report, title: str = "Evaluation report") -> str:
    """The markdown report: header, rows at the default threshold, the sweep, the plots, a legend."""
    report = _as_dict(report)
    rows = _sorted_rows(report, report["results"])
    default = report.get("default_threshold")
    at_default = [r for r in rows if r["threshold"] == default or r["threshold"] is None]
    lines = _header(report, title)
    if default is not None:
        lines += [f"## At the default threshold ({_fmt(default)})", "", *_table(at_default), ""]
    lines += ["## Threshold sweep", "", *_table(rows), ""]
    lines += ["## Plots", ""] + [f"![{label} vs compression]({name})" for name, (_, label) in PLOTS.items()]
    lines += ["", _LEGEND, ""]
    return "\n".join(lines)


def format_default_rows(report: Report) -> str:
    """``At the default threshold (T)``, a blank line and the markdown table of every method's row at
    the pruner's default threshold (keep_all's too): the summary ``text-pruner-rag eval`` prints."""
    report = _as_dict(report)
    default = report.get("default_threshold")
    rows = [r for r in _sorted_rows(report, report["results"]) if r["threshold"] in (default, None)]
    return "\n".join([f"At the default threshold ({_fmt(default)})", "", *_table(rows)])


def plot_report(report: Report, out_dir: Path, title: Optional[str] = None) -> list[Path]:
    """Draw :data:`PLOTS` into ``out_dir``; returns the written paths.

    Raises:
        ImportError: if matplotlib is not installed (``pip install 'text-pruner-rag[eval]'``).
    """
    report = _as_dict(report)
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("Plots need matplotlib: pip install 'text-pruner-rag[eval]'.") from exc
    rows, default = report["results"], report.get("default_threshold")
    caption = title or f"{report['n_queries']:,} queries, {report['n_sentences']:,} sentences"
    written = []
    for name, (key, label) in PLOTS.items():
        figure = Figure(figsize=(7.0, 4.8))
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        for method in _method_order(report):
            points = sorted((r["compression"], r[key]) for r in rows if r["method"] == method and r[key] is not None)
            if not points:
                continue
            if method == "keep_all":
                axes.scatter(*zip(*points), marker="s", color="grey", label="keep_all", zorder=3)
            else:
                axes.plot(*zip(*points), marker="o" if method == "pruner" else ".", label=method,
                          linewidth=2.2 if method == "pruner" else 1.2)
        marked = [r for r in rows if r["method"] == "pruner" and r["threshold"] == default]
        if marked:
            axes.scatter([marked[0]["compression"]], [marked[0][key]], marker="*", s=260, color="black",
                         label=f"pruner, default threshold {default:g}", zorder=4)
        axes.set_xlabel("character compression (fraction of characters removed)")
        axes.set_ylabel(label)
        axes.set_xlim(-0.02, 1.02)
        axes.set_ylim(-0.02, 1.02)
        axes.grid(alpha=0.3)
        axes.set_title(f"{label} vs compression ({caption})", fontsize=10)
        axes.legend(fontsize=8, loc="lower left")
        figure.tight_layout()
        path = Path(out_dir) / name
        figure.savefig(path, dpi=110)
        written.append(path)
    return written


def write_report(report: Report, out_dir, *, command: Optional[str] = None, title: str = "Evaluation report",
                 plots: bool = True) -> dict[str, Path]:  # fmt: skip
    """Write ``report.json``, ``report.md`` and (``plots=True``) the PNG plots into ``out_dir`` (created).

    ``command`` is recorded in the report (set on a typed report, added to a dict).

    Returns:
        dict: ``{"json": path, "markdown": path, "plots": [paths]}``.

    Raises:
        ImportError: plots without matplotlib.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if command is not None:
        if isinstance(report, EvaluationReport):
            report.command = command
        else:
            report["command"] = command
    report = _as_dict(report)
    paths: dict[str, Any] = {"json": out / "report.json", "markdown": out / "report.md", "plots": []}
    paths["json"].write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    paths["markdown"].write_text(format_markdown(report, title), encoding="utf-8")
    if plots:
        paths["plots"] = plot_report(report, out)
    return paths


def format_suite_markdown(reports: Mapping[str, Report], command: Optional[str] = None, link_prefix: str = "") -> str:
    """One table per report (one report per dev set): every method at the pruner's default threshold.

    ``link_prefix`` is put before the ``<set>/report.md`` links (for a file outside the results folder).
    """
    lines = ["# Dev suite", ""]
    if command:
        lines += ["Command:", "", "```bash", command, "```", ""]
    for name, report in reports.items():
        report = _as_dict(report)
        default = report.get("default_threshold")
        rows = [r for r in _sorted_rows(report, report["results"]) if r["threshold"] in (default, None)]
        lines += [
            f"## {name}",
            "",
            f"{report['n_queries']:,} queries, {report['n_passages']:,} passages "
            f"({report['n_unanswerable_passages']:,} without a relevant sentence); threshold {_fmt(default)}; "
            f"sweep and plots: [`{link_prefix}{name}/report.md`]({link_prefix}{name}/report.md).",
            "",
            *_table(rows),
            "",
        ]
    lines += [_LEGEND, ""]
    return "\n".join(lines)
