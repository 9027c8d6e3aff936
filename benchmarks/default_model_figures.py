"""Regenerate every quoted figure of the embedded default model from one ``text-pruner-rag eval`` run.

Usage (from the repository root; the raw data folder is ``--data-dir``, default :data:`DATA_ROOT`)::

    make figures                                            # = nice -n 10 python benchmarks/default_model_figures.py
    python benchmarks/default_model_figures.py              # eval run + rewrite (about 30 min on 2 CPU cores)
    python benchmarks/default_model_figures.py --reuse      # rewrite from the existing results folder, no eval run

The eval run is exactly::

    text-pruner-rag eval --suite dev --limit 300 --out benchmarks/results/default-model

(run in this process with this checkout's code, on the model in ``text_pruner_rag/pretrained/``, with
``$TEXT_PRUNER_RAG_DATA`` set to the data folder, so the command stays the documented one). Its
wall time, core count and load averages go to ``benchmarks/results/default-model/run.json``. Then,
from the per-set ``report.json`` files only, it rewrites:

* ``docs/models.md``: the block between the ``default-model-figures`` markers;
* the embedded model card ``text_pruner_rag/pretrained/<model>/README.md``: the same markers (inserted
  before ``## Training run``, or at the end, when a freshly trained card has none), and the plot
  ``cast_dev_recall_vs_compression.png`` beside it;
* ``benchmarks/results-default-model.md``: the whole file.

Every figure written sits beside the baselines of the same run, with the command and the time it took.
The verdict sentences (which method has the best F2, the CAsT compression figures) are computed from
the reports, so they stay true when the model changes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import sys
import textwrap
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

for _name, _value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"), ("TOKENIZERS_PARALLELISM", "false")):
    os.environ.setdefault(_name, _value)  # as `make`: everything offline
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

SUITE = "dev"
LIMIT = 300
DATA_ROOT = "../shared/data/raw"
"""The raw data folder the figures are measured on, relative to the repository root (``make figures``
passes the same through ``DATA_ROOT``)."""
RESULTS = Path("benchmarks/results/default-model")
RESULTS_MD = Path("benchmarks/results-default-model.md")
MODEL_DIR = Path("text_pruner_rag/pretrained/text-pruner-minilm-l6-en")
MODELS_PAGE = Path("docs/models.md")  # the documentation page that holds the generated block
CARD_PLOT = "cast_dev_recall_vs_compression.png"
BEGIN = "<!-- default-model-figures: begin (written by benchmarks/default_model_figures.py; do not edit by hand) -->"
END = "<!-- default-model-figures: end -->"

LABELS = {
    "cast_dev": "CAsT validation+test",
    "wikiqa_dev": "WikiQA dev+test",
    "qed_dev": "QED dev (human-selected sentence)",
    "xquad_en": "XQuAD-en (all paragraphs of the article)",
}
BASELINES = ("embedding", "bm25", "random")
NAMES = {"embedding": "embedding", "bm25": "BM25", "random": "random", "keep_all": "keep-all"}


def eval_argv(limit: int = LIMIT, out: Path = RESULTS, data_dir: Optional[str] = None) -> list[str]:
    """The ``text-pruner-rag`` arguments of the run (``eval --suite dev --limit N --out DIR``)."""
    return ["eval", "--suite", SUITE, "--limit", str(limit), "--out", str(out),
            *(["--data-dir", data_dir] if data_dir else [])]  # fmt: skip


@contextlib.contextmanager
def data_environment(data_dir: Optional[str]):
    """Set ``$TEXT_PRUNER_RAG_DATA`` to ``data_dir`` (made absolute) for the eval runs, then restore it."""
    from text_pruner_rag.data.devsets import DATA_ENV

    previous = os.environ.get(DATA_ENV)
    if data_dir:
        os.environ[DATA_ENV] = str(Path(data_dir).expanduser().resolve())
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(DATA_ENV, None)
        else:
            os.environ[DATA_ENV] = previous


def run_eval(root: Path, limit: int, data_dir: Optional[str]) -> dict:
    """Run the eval suite into ``root/RESULTS`` (emptied first) and write ``run.json``; returns it.

    ``data_dir`` reaches the run through ``$TEXT_PRUNER_RAG_DATA`` (:func:`data_environment`).

    Raises:
        RuntimeError: if the eval command fails.
    """
    from text_pruner_rag import cli

    out = root / RESULTS
    if out.exists():
        shutil.rmtree(out)
    argv = eval_argv(limit, RESULTS)
    load_start, started = os.getloadavg(), time.perf_counter()
    cwd = Path.cwd()
    with data_environment(data_dir):
        os.chdir(root)  # the documented command runs from the repository root
        try:
            code = cli.main(argv)
        finally:
            os.chdir(cwd)
    if code != 0:
        raise RuntimeError(f"text-pruner-rag {shlex.join(argv)} exited with {code}")
    run = {
        "command": shlex.join(["text-pruner-rag", *argv]),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "cpu_count": os.cpu_count(),
        "load_average_start": round(load_start[0], 1),
        "load_average_end": round(os.getloadavg()[0], 1),
        "finished_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    (out / "run.json").write_text(json.dumps(run, indent=2) + "\n", encoding="utf-8")
    return run


def load_reports(results: Path) -> dict[str, dict]:
    """The per-set ``report.json`` files of ``results`` in suite order (sets without one are left out).

    Raises:
        FileNotFoundError: if no set has a report.
    """
    from text_pruner_rag.data.devsets import SUITES

    reports = {}
    for name in SUITES[SUITE]:
        path = results / name / "report.json"
        if path.is_file():
            reports[name] = json.loads(path.read_text(encoding="utf-8"))
    if not reports:
        raise FileNotFoundError(f"no {results}/<dev set>/report.json; run without --reuse first")
    return reports


def at_default(report: Mapping) -> dict[str, dict]:
    """``method -> row`` at the pruner's default threshold (keep_all's row has no threshold)."""
    default = report["default_threshold"]
    return {r["method"]: r for r in report["results"] if r["threshold"] in (default, None)}


def _f(value: Any) -> str:
    return "–" if value is None else f"{value:.3f}"


def _pair(row: Optional[Mapping], *keys: str) -> str:
    return "–" if row is None else " / ".join(_f(row.get(k)) for k in keys)


def _joined(rows: Mapping[str, Mapping], methods: Sequence[str], key: str) -> str:
    values = [rows.get(m, {}).get(key) for m in methods]
    return "–" if all(v is None for v in values) else " / ".join(_f(v) for v in values)


def headline_table(reports: Mapping[str, Mapping]) -> str:
    """One row per dev set: every method's sentence recall / F2 at the pruner's default threshold."""
    lines = [
        "| dev set (queries) | chars removed | pruner R / F2 | embedding R / F2 | BM25 R / F2 | random R / F2 "
        "| keep-all F2 | unanswerable emptied: pruner / embedding | answer retention: pruner / embedding "
        "| MRR: pruner / embedding / BM25 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, report in reports.items():
        rows = at_default(report)
        pruner = rows["pruner"]
        cells = [
            f"{LABELS.get(name, name)} ({report['n_queries']:,})",
            _f(pruner["compression"]),
            *(_pair(rows.get(m), "recall", "f2") for m in ("pruner", *BASELINES)),
            _f(rows.get("keep_all", {}).get("f2")),
            _joined(rows, ("pruner", "embedding"), "emptied_negative_rate"),
            _joined(rows, ("pruner", "embedding"), "answer_retention"),
            _joined(rows, ("pruner", "embedding", "bm25"), "mrr"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdict(reports: Mapping[str, Mapping]) -> str:
    """Which compression-matched method has the best sentence F2 on each set (compared at the 3 decimals
    shown; equal figures are a tie), and where keep-all beats the pruner."""
    ahead, level, behind, keep_all = [], [], [], []
    for name, report in reports.items():
        rows, label = at_default(report), LABELS.get(name, name).split(" (")[0]
        pruner = round(rows["pruner"]["f2"], 3)
        matched = [(round(rows[m]["f2"], 3), m) for m in BASELINES if m in rows]
        best = max(matched) if matched else None
        if best is None:
            ahead.append(f"{label} ({pruner:.3f}, no baseline)")
        elif pruner > best[0]:
            ahead.append(f"{label} ({pruner:.3f} vs {NAMES[best[1]]} {best[0]:.3f})")
        elif pruner == best[0]:
            level.append(f"{label} ({NAMES[best[1]]} {best[0]:.3f})")
        else:
            behind.append(f"{label} ({NAMES[best[1]]} {best[0]:.3f} vs pruner {pruner:.3f})")
        if "keep_all" in rows and round(rows["keep_all"]["f2"], 3) > pruner:
            keep_all.append(label)
    threshold = next(iter(reports.values()))["default_threshold"]
    text = (f"At the default threshold {threshold:g} the pruner has the highest sentence F2 of the methods matched "
            f"to its compression on {len(ahead)} of {len(reports)} dev sets")  # fmt: skip
    text += (": " + ", ".join(ahead)) if ahead else ""
    text += ("; it ties with the best baseline on " + ", ".join(level)) if level else ""
    text += ("; a baseline is higher on " + ", ".join(behind)) if behind else ""
    text += "."
    if keep_all:
        text += f" Keep-all (nothing removed) has a higher F2 than the pruner on {', '.join(keep_all)}."
    return text


def _interpolate(points: list[tuple[float, float]], x: float) -> Optional[float]:
    points = sorted(points)
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return None


def cast_summary(reports: Mapping[str, Mapping]) -> Optional[str]:
    """CAsT validation+test at the default threshold: recall, answerable and unanswerable characters removed,
    and the embedding baseline's recall at the same answerable compression (None without a CAsT report)."""
    report = reports.get("cast_dev")
    if report is None or "pruner" not in at_default(report):
        return None
    pruner = at_default(report)["pruner"]
    recall = pruner["recall"]
    answerable, unanswerable = pruner["compression_answerable"], pruner["compression_unanswerable"]
    checks = [
        f"sentence recall {recall:.3f}",
        f"answerable characters removed {answerable:.3f}",
        f"unanswerable characters removed {unanswerable:.3f}",
    ]
    embedding = [(r["compression_answerable"], r["recall"]) for r in report["results"] if r["method"] == "embedding"]
    matched = _interpolate(embedding, answerable) if embedding else None
    if matched is None:
        why = "outside the range of its sweep" if embedding else "no embedding baseline in the run"
        checks.append(f"embedding recall at the same answerable compression: not measured ({why})")
    else:
        checks.append(f"embedding recall at the same answerable compression {matched:.3f}, interpolated over its "
                      f"sweep (pruner minus embedding: {recall - matched:+.3f})")  # fmt: skip
    return "On CAsT validation+test at the default threshold: " + "; ".join(checks) + "."


def timing_sentence(results: Path, reports: Mapping[str, Mapping]) -> str:
    """How long the run took and on how many cores (from ``run.json`` when there is one); a run whose load
    average exceeded the core count is called noisy (the load figures themselves are not quoted)."""
    run_file = results / "run.json"
    if run_file.is_file():
        run = json.loads(run_file.read_text(encoding="utf-8"))
        loaded = max(run["load_average_start"], run["load_average_end"]) > (run["cpu_count"] or 1)
        return (f"{run['wall_seconds'] / 60:.1f} min wall time on {run['cpu_count']} CPU cores"
                + ("; other jobs shared the cores, so the time is noisy" if loaded else "")
                + f"; finished {run['finished_utc']}")  # fmt: skip
    seconds = sum(r.get("timing", {}).get("seconds", 0.0) for r in reports.values())
    return (f"{seconds / 60:.1f} min, the sum of the sets' evaluation times in their reports; model loading "
            "not counted")


def _wrap(paragraph: str) -> str:
    return textwrap.fill(paragraph, width=100, break_long_words=False, break_on_hyphens=False)


def _header(reports: Mapping[str, Mapping], results: Path, command: str) -> tuple[str, str]:
    first = next(iter(reports.values()))
    digest = first.get("model_weights_sha256")
    counts = ", ".join(f"{LABELS.get(n, n).split(' (')[0]} {r['n_queries']:,}" for n, r in reports.items())
    intro = (f"Measured on dev data the model was never trained on (model `{first.get('model')}`"
             + (f", weights SHA-256 `{digest}…`" if digest else "")
             + f", default threshold {first['default_threshold']:g}; queries: {counts}), every baseline in the "
             "same run and matched to the pruner's character compression at each threshold (one global score "
             "cut-off over the set). Sentence recall R and F2 are micro-averaged over sentences; \"chars "
             "removed\" = fraction of characters removed; \"unanswerable emptied\" = passages without a relevant "
             "sentence pruned to nothing; answer retention = gold answer string still in the pruned passage; "
             "MRR ranks each query's passages.")  # fmt: skip
    how = f"```bash\nmake figures   # runs: {command}\n```\n\n"
    how += _wrap(f"Run time: {timing_sentence(results, reports)}.")
    return _wrap(intro), how


def render_blocks(reports: Mapping[str, Mapping], results: Path, *, link: str, plot: Optional[str]) -> str:
    """The generated block: intro, command and time, headline table, verdicts (and the plot for the card)."""
    command = next(iter(reports.values())).get("command") or shlex.join(["text-pruner-rag", *eval_argv()])
    intro, how = _header(reports, results, command)
    parts = [intro, how, headline_table(reports), _wrap(verdict(reports))]
    cast = cast_summary(reports)
    if cast:
        parts.append(_wrap(cast))
    if plot:
        parts.append(f"![sentence recall vs character compression on CAsT validation+test]({plot})")
    parts.append(_wrap(f"Every threshold of the sweep, every method and the recall/F2-vs-compression plots: {link}."))
    return "\n\n".join(parts)


def results_markdown(reports: Mapping[str, Mapping], results: Path, block: str) -> str:
    """The whole ``benchmarks/results-default-model.md``: the block, then every set's rows at the default threshold."""
    from text_pruner_rag.evaluation.report import format_suite_markdown

    rel = RESULTS.relative_to("benchmarks").as_posix()
    per_set = format_suite_markdown(reports, link_prefix=f"{rel}/").split("\n", 2)[2]  # drop its title
    about = _wrap("Written by `benchmarks/default_model_figures.py` (`make figures`) from the reports in "
                  f"[`{rel}/`]({rel}/): each dev set's folder holds `report.json` (every method at every "
                  "threshold), `report.md` (the sweep) and `recall_vs_compression.png` / `f2_vs_compression.png`.")
    return (f"# Embedded default model against baselines (dev suite)\n\n{about}\n\n{block}\n\n"
            f"## Per dev set, at the default threshold\n\n{per_set}")  # fmt: skip


def replace_block(text: str, block: str, *, before: Sequence[str] = (), begin: str = BEGIN, end: str = END) -> str:
    """``text`` with the block between the ``begin``/``end`` markers replaced by ``block``; with no
    markers, inserted before the first heading of ``before`` found (else appended).

    Raises:
        ValueError: if only one of the markers is there, or the end marker comes first.
    """
    wrapped = f"{begin}\n{block.rstrip()}\n{end}"
    start, stop = text.find(begin), text.find(end)
    if start >= 0 and stop > start:
        return text[:start] + wrapped + text[stop + len(end):]
    if start >= 0 or stop >= 0:
        raise ValueError("the figures markers are broken (one is missing or they are out of order)")
    for heading in before:
        at = text.find(f"\n{heading}")
        if at >= 0:
            return text[: at + 1] + wrapped + "\n\n" + text[at + 1:]
    return text.rstrip("\n") + "\n\n" + wrapped + "\n"


def rewrite(root: Path) -> list[Path]:
    """Rewrite docs/models.md, the model card and results-default-model.md from ``root/RESULTS``; returns the files."""
    results = root / RESULTS
    reports = load_reports(results)
    page, card, md = root / MODELS_PAGE, root / MODEL_DIR / "README.md", root / RESULTS_MD
    rel = RESULTS.as_posix()
    page_block = render_blocks(reports, results, plot=None,  # the docs site holds no benchmarks/: no link
                               link=f"`{RESULTS_MD.as_posix()}` and `{rel}/` in the repository")
    card_block = "## Dev evaluation against baselines\n\n" + render_blocks(
        reports, results, plot=CARD_PLOT if "cast_dev" in reports else None,
        link=f"`{RESULTS_MD.as_posix()}` and `{rel}/` in the project repository")
    page.write_text(replace_block(page.read_text(encoding="utf-8"), page_block), encoding="utf-8")
    card.write_text(replace_block(card.read_text(encoding="utf-8"), card_block, before=("## Training run",)),
                    encoding="utf-8")
    in_benchmarks = RESULTS.relative_to("benchmarks").as_posix()
    md_block = render_blocks(reports, results, plot=None, link=f"[`{in_benchmarks}/`]({in_benchmarks}/)")
    md.write_text(results_markdown(reports, results, md_block), encoding="utf-8")
    written = [page, card, md]
    if "cast_dev" in reports:
        shutil.copyfile(results / "cast_dev" / "recall_vs_compression.png", root / MODEL_DIR / CARD_PLOT)
        written.append(root / MODEL_DIR / CARD_PLOT)
    return written


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reuse", action="store_true", help=f"no eval run: rewrite from the reports in {RESULTS}")
    parser.add_argument("--limit", type=int, default=LIMIT, help=f"queries per dev set (default: {LIMIT})")
    parser.add_argument("--data-dir", default=DATA_ROOT, help=f"raw data folder (default: {DATA_ROOT})")
    parser.add_argument("--root", default=str(ROOT), help=argparse.SUPPRESS)  # tests: a copy of the files
    args = parser.parse_args(argv)
    root = Path(args.root)
    if not args.reuse:
        run = run_eval(root, args.limit, args.data_dir)
        print(f"eval run: {run['wall_seconds'] / 60:.1f} min", file=sys.stderr)
    for path in rewrite(root):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
