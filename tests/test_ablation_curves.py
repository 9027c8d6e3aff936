"""benchmarks/ablation_curves.py: the paired MRR difference between two eval reports."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def curves():
    pytest.importorskip("scipy")
    spec = importlib.util.spec_from_file_location("bench_ablation_curves", ROOT / "benchmarks" / "ablation_curves.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _report(ranks, data="jaquad_dev"):
    return {"data": data, "ranking": {"pruner": {"mrr": 0.0, "reciprocal_ranks": ranks}}}


def test_paired_difference_and_interval(curves):
    reference = _report([1.0] * 40 + [0.5] * 40 + [None])
    same = curves.mrr_difference(reference, reference)
    assert same == "+0.0000 [+0.0000, +0.0000]"
    worse = _report([0.5] * 40 + [0.5] * 40 + [1.0])  # 40 of 80 queries drop from rank 1 to 2
    low, high = (float(x) for x in curves.mrr_difference(worse, reference).split(" [")[1].rstrip("]").split(", "))
    assert curves.mrr_difference(worse, reference).startswith("-0.2500")
    assert low < -0.25 < high < 0  # the drop is clear: the interval excludes 0
    one = _report([1.0] * 39 + [0.5] + [0.5] * 40 + [None])  # one query drops
    low, high = (float(x) for x in curves.mrr_difference(one, reference).split(" [")[1].rstrip("]").split(", "))
    assert low < 0 <= high or high == 0  # one query out of 80 cannot be told from noise


def test_no_difference_without_paired_ranks(curves):
    reference = _report([1.0, 0.5])
    assert curves.mrr_difference({"data": "jaquad_dev", "ranking": {"pruner": {"mrr": 0.9}}}, reference) == ""
    assert curves.mrr_difference(_report([1.0, 0.5, 1.0]), reference) == ""  # other queries
    assert curves.mrr_difference(_report([1.0, 0.5], data="cast_dev"), reference) == ""


def test_rows_of_a_set_that_ranks_nothing_leave_the_mrr_blank(curves):
    # WikiQA and QED reports have one passage per query: their rows carry no MRR.
    rows = [{"method": "pruner", "threshold": t, "compression": c, "compression_answerable": c, "recall": r,
             "answer_retention": r, "mrr": None} for t, c, r in ((0.05, 0.1, 0.99), (0.5, 0.6, 0.9))]
    report = {"data": "qed_dev", "default_threshold": 0.05, "results": rows}
    answers = curves._answers_row("qed", report, report)
    assert answers.split(" | ")[6] == "" and answers.startswith("| qed | 0.050 | 0.990 | 0.100 |")
    assert "| 0.050 | 0.100 | 0.990 |" in curves._row("qed", report, report)
    ranked = {**report, "results": [{**row, "mrr": 0.75} for row in rows]}
    assert curves._answers_row("qed", ranked, ranked).split(" | ")[6] == "0.750"
