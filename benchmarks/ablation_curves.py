"""Sentence recall of training variants at matched compression, beside the embedding baseline.

Reads the ``report.json`` of ``text-pruner-rag eval`` runs (one per variant, pruner rows only, and one
reference run that also holds the ``embedding`` rows) and prints a markdown table: sentence recall
interpolated at fixed fractions of characters removed (blank outside the swept range), MRR, and the
default threshold with its compression and recall.

    python benchmarks/ablation_curves.py --reference runs/ablation-en/shipped/eval/report.json \
        --variant "continued, recipe loss=runs/ablation-en/baseline/eval/report.json" ...

With ``--answers`` (single-answer sets such as JaQuAD dev, where the reports hold ``answer_retention``
and ``compression_answerable``) the table gives, per run: the default threshold, answer retention and
the share of the gold paragraphs' characters removed there (the other paragraphs not counted), the
share of all characters removed, the gold-paragraph share removed where answer retention crosses
0.95 (interpolated along the sweep) and MRR; no embedding row.

Both tables end with each variant's MRR minus the reference's and its 95% interval from a paired
bootstrap over the queries (``scipy.stats.bootstrap``, 10,000 resamples, BCa), when both reports hold
the per-query reciprocal ranks (``ranking.pruner.reciprocal_ranks``) of the same queries.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

POINTS = (0.15, 0.2, 0.3, 0.4, 0.5)


def _curve(report: dict, method: str) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    rows = sorted((r for r in report["results"] if r["method"] == method), key=lambda r: r["compression"])
    return np.array([r["compression"] for r in rows]), np.array([r["recall"] for r in rows]), rows


def _at(points, compression: np.ndarray, recall: np.ndarray) -> list[str]:
    return [f"{np.interp(p, compression, recall):.3f}" if compression.min() <= p <= compression.max() else ""
            for p in points]


def mrr_difference(report: dict, reference: dict) -> str:
    """``"+0.0012 [-0.0040, +0.0061]"``: mean paired difference of reciprocal ranks (variant - reference)
    with its 95% bootstrap interval; blank when either report lacks per-query reciprocal ranks or the
    queries differ in number."""
    from scipy.stats import bootstrap

    ranks = [r.get("ranking", {}).get("pruner", {}).get("reciprocal_ranks") for r in (report, reference)]
    if any(r is None for r in ranks) or len(ranks[0]) != len(ranks[1]) or report.get("data") != reference.get("data"):
        return ""
    pairs = [(a, b) for a, b in zip(*ranks) if a is not None and b is not None]
    if len(pairs) < 2:
        return ""
    diff = np.array([a - b for a, b in pairs])
    if not diff.any():
        return "+0.0000 [+0.0000, +0.0000]"
    interval = bootstrap((diff,), np.mean, n_resamples=10_000, confidence_level=0.95, method="BCa",
                         random_state=0).confidence_interval
    return f"{diff.mean():+.4f} [{interval.low:+.4f}, {interval.high:+.4f}]"


def _mrr(rows: list[dict]) -> str:
    """The MRR cell: blank for a set that ranks nothing (one passage per query, e.g. WikiQA, QED)."""
    return f"{rows[0]['mrr']:.3f}" if rows[0].get("mrr") is not None else ""


def _row(name: str, report: dict, reference: dict) -> str:
    compression, recall, rows = _curve(report, "pruner")
    default = min(rows, key=lambda r: abs(r["threshold"] - report["default_threshold"]))
    cells = _at(POINTS, compression, recall) + [_mrr(rows), f"{report['default_threshold']:.3f}",
                                                f"{default['compression']:.3f}", f"{default['recall']:.3f}",
                                                mrr_difference(report, reference)]
    return f"| {name} | " + " | ".join(cells) + " |"


def _answers_row(name: str, report: dict, reference: dict, retention: float = 0.95) -> str:
    rows = sorted((r for r in report["results"] if r["method"] == "pruner"), key=lambda r: r["threshold"])
    default = min(rows, key=lambda r: abs(r["threshold"] - report["default_threshold"]))
    kept = np.array([r["answer_retention"] for r in rows])
    gold = np.array([r["compression_answerable"] for r in rows])
    order = np.argsort(kept, kind="stable")
    at = np.interp(retention, kept[order], gold[order]) if kept.min() <= retention <= kept.max() else None
    cells = [f"{report['default_threshold']:.3f}", f"{default['answer_retention']:.3f}",
             f"{default['compression_answerable']:.3f}", f"{default['compression']:.3f}",
             "" if at is None else f"{at:.3f}", _mrr(rows), mrr_difference(report, reference)]
    return f"| {name} | " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, help="report.json with pruner and embedding rows")
    parser.add_argument("--reference-name", default="shipped model")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=REPORT")
    parser.add_argument("--answers", action="store_true", help="single-answer table (answer retention and "
                        "gold-paragraph compression) instead of the recall curve")
    args = parser.parse_args()
    reference = json.load(open(args.reference, encoding="utf-8"))
    runs = [(args.reference_name, reference)] + [(name, json.load(open(path, encoding="utf-8")))
                                                 for name, path in (v.split("=", 1) for v in args.variant)]
    if args.answers:
        print("| variant | default threshold | answer retention | gold paragraph removed | all removed "
              "| gold paragraph removed at retention 0.95 | MRR | MRR - reference [95% interval] |")
        print("|---" * 8 + "|")
        for name, report in runs:
            print(_answers_row(name, report, reference))
        return
    print("| variant | " + " | ".join(f"recall @{p:.0%} removed" for p in POINTS)
          + " | MRR | default threshold | removed at default | recall at default | MRR - reference [95% interval] |")
    print("|---" * (len(POINTS) + 6) + "|")
    for name, report in runs:
        print(_row(name, report, reference))
    compression, recall, rows = _curve(reference, "embedding")
    print("| embedding cosine, same backbone | " + " | ".join(_at(POINTS, compression, recall))
          + f" | {_mrr(rows)} | | | | |")


if __name__ == "__main__":
    main()
