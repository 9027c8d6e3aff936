"""benchmarks/bilingual_model_figures.py: the JaQuAD summary, the default-selection rule, committed figures."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bilingual():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("bench_bilingual", ROOT / "benchmarks" / "bilingual_model_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _report(points, default, mrr=0.9, **row_extra):
    rows = [{"method": "pruner", "threshold": t, "recall": r, "f2": 0.5, "compression": c, **row_extra}
            for t, r, c in points]
    return {"default_threshold": default, "results": rows, "ranking": {"pruner": {"mrr": mrr}}}


def test_rule_compares_recall_at_the_english_models_compression(bilingual):
    english = {"cast_dev": _report([(0.03, 0.90, 0.40)], 0.03)}
    level = {"cast_dev": _report([(0.1, 0.95, 0.30), (0.2, 0.85, 0.50)], 0.1)}  # 0.90 at 0.40: equal
    table, holds = bilingual.english_comparison(level, english)
    assert holds and "| 0.400 | 0.900 | 0.900 | +0.000 |" in table
    worse = {"cast_dev": _report([(0.1, 0.90, 0.30), (0.2, 0.80, 0.50)], 0.1)}  # 0.85 at 0.40
    table, holds = bilingual.english_comparison(worse, english)
    assert not holds and "-0.050" in table
    wide = {"cast_dev": _report([(0.04, 1.0, 0.0), (0.05, 0.80, 0.80)], 0.05)}  # 0.90 at 0.40, across a gap
    table, holds = bilingual.english_comparison(wide, english)
    assert holds and "0.900 (interpolated between 0.000 and 0.800 removed)" in table
    outside = {"cast_dev": _report([(0.1, 0.99, 0.10), (0.2, 0.98, 0.20)], 0.1)}  # never reaches 0.40
    table, holds = bilingual.english_comparison(outside, english)
    assert not holds and "outside its sweep" in table


def test_japanese_summary_quotes_the_default_threshold_row(bilingual):
    report = _report([(0.05, 0.9, 0.2), (0.1, 0.96, 0.55)], 0.1, mrr=0.8, answer_retention=0.90)
    report["results"][0]["answer_retention"] = 0.99  # another threshold's row: not quoted
    text = bilingual.japanese_summary(report)
    assert text == ("On JaQuAD dev at the default threshold: answer retention 0.900; characters removed 0.550; "
                    "gold-paragraph MRR 0.800.")


def test_committed_figures_equal_the_committed_reports(bilingual):
    results = ROOT / bilingual.RESULTS
    if not (results / "dev-ja" / "summary.json").is_file():
        pytest.skip("no committed bilingual results")
    block = bilingual.render(ROOT)
    assert "load average" not in block and "Issue" not in block and "target" not in block
    for path in (ROOT / "docs" / "models.md", ROOT / bilingual.MODEL_DIR / "README.md"):
        text = path.read_text(encoding="utf-8")
        assert bilingual.BEGIN in text, f"{path} has no bilingual figures block"
        assert bilingual.replace_block(text, block) == text, f"{path} is out of date: run --reuse"
    assert bilingual.BEGIN not in (ROOT / "README.md").read_text(encoding="utf-8")


def test_cast_curve_lists_every_informative_threshold_beside_the_embedding(bilingual, tmp_path):
    import json

    rows = []
    for t, c, r in ((0.02, 0.0, 1.0), (0.05, 0.4, 0.8), (0.1, 0.6, 0.6), (0.5, 1.0, 0.0)):
        rows += [{"method": "pruner", "threshold": t, "compression": c, "recall": r, "emptied_negative_rate": 0.5},
                 {"method": "embedding", "threshold": t, "compression": c, "recall": r - 0.1,
                  "emptied_negative_rate": 0.2}]
    (tmp_path / "report.json").write_text(json.dumps({"n_queries": 75, "default_threshold": 0.05, "results": rows}))
    text = bilingual.cast_curve(tmp_path)
    assert "| 0.05 (default) | 0.400 | 0.800 / 0.700 | 0.500 / 0.200 |" in text
    assert "| 0.1 | 0.600 | 0.600 / 0.500 |" in text
    assert "| 0.02 |" not in text and "| 0.5 |" not in text  # nothing / everything removed
    assert bilingual.cast_curve(tmp_path / "missing") == ""
