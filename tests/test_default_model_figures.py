"""benchmarks/default_model_figures.py: the figures block of docs/models.md and the model card is rewritten
from eval reports."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def figures():
    spec = importlib.util.spec_from_file_location("bench_figures", ROOT / "benchmarks" / "default_model_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(method, threshold, recall, f2, compression, **extra):
    return {"method": method, "threshold": threshold, "precision": 0.5, "recall": recall, "f1": 0.5, "f2": f2,
            "f2.5": f2, "compression": compression, **extra}  # fmt: skip


def _cast_report():
    rows = [_row("keep_all", None, 1.0, 0.6, 0.0, compression_answerable=0.0, compression_unanswerable=0.0)]
    for t, recall, ca in ((0.1, 0.95, 0.35), (0.2, 0.90, 0.40)):
        rows.append(_row("pruner", t, recall, 0.55, 0.6, compression_answerable=ca, compression_unanswerable=0.9,
                         emptied_negative_rate=0.8, mrr=0.9))  # fmt: skip
    # embedding recall 0.8 at answerable compression 0.3 and 0.7 at 0.5 -> 0.75 at the pruner's 0.40
    rows += [_row("embedding", 0.1, 0.8, 0.5, 0.6, compression_answerable=0.3, compression_unanswerable=0.7,
                  emptied_negative_rate=0.4, mrr=0.95),
             _row("embedding", 0.2, 0.7, 0.45, 0.6, compression_answerable=0.5, compression_unanswerable=0.8,
                  emptied_negative_rate=0.5, mrr=0.95),
             _row("bm25", 0.2, 0.5, 0.3, 0.6, mrr=0.7)]  # fmt: skip
    return {"model": "m", "model_weights_sha256": "abcdef0123456789", "n_queries": 7, "n_passages": 9,
            "n_unanswerable_passages": 2, "default_threshold": 0.2, "baselines": ["keep_all", "bm25", "embedding"],
            "command": "text-pruner-rag eval --suite dev --limit 300 --out benchmarks/results/default-model",
            "timing": {"seconds": 60.0}, "results": rows}  # fmt: skip


def _qed_report():
    rows = [_row("keep_all", None, 1.0, 0.62, 0.0), _row("pruner", 0.2, 0.8, 0.66, 0.5, answer_retention=0.81),
            _row("embedding", 0.2, 0.7, 0.60, 0.5, answer_retention=0.7),
            _row("bm25", 0.2, 0.8, 0.671, 0.5, answer_retention=0.76)]  # fmt: skip
    return {**_cast_report(), "n_queries": 5, "n_passages": 5, "n_unanswerable_passages": 0,
            "timing": {"seconds": 30.0}, "results": rows}  # fmt: skip


def _tree(tmp_path: Path, figures, card_text: str) -> Path:
    root = tmp_path / "repo"
    results = root / figures.RESULTS
    for name, report in (("cast_dev", _cast_report()), ("qed_dev", _qed_report())):
        (results / name).mkdir(parents=True)
        (results / name / "report.json").write_text(json.dumps(report), encoding="utf-8")
        (results / name / "recall_vs_compression.png").write_bytes(PNG + b"plot")
    (root / figures.MODEL_DIR).mkdir(parents=True)
    (root / figures.MODEL_DIR / "README.md").write_text(card_text, encoding="utf-8")
    (root / "docs").mkdir()
    (root / figures.MODELS_PAGE).write_text(f"# Title\n\nintro\n\n{figures.BEGIN}\nold figures 0.999\n{figures.END}\n\n"
                                            "after\n", encoding="utf-8")  # fmt: skip
    (root / "README.md").write_text("# readme\n", encoding="utf-8")
    return root


def test_rewrite_puts_every_figure_beside_its_baselines(tmp_path, figures):
    root = _tree(tmp_path, figures, "# card\n\nusage\n\n## Training run\n\n- steps: 3\n")
    assert figures.main(["--reuse", "--root", str(root)]) == 0
    page = (root / figures.MODELS_PAGE).read_text(encoding="utf-8")
    assert "old figures 0.999" not in page and page.startswith("# Title\n\nintro\n\n") and page.endswith("after\n")
    assert (root / "README.md").read_text(encoding="utf-8") == "# readme\n"  # the README holds no block
    block = page[page.index(figures.BEGIN): page.index(figures.END)]
    # the CAsT row: pruner, embedding, BM25 (R / F2), random absent, keep-all F2, emptied, MRR
    assert ("| CAsT validation+test (7) | 0.600 | 0.900 / 0.550 | 0.700 / 0.450 | 0.500 / 0.300 | – | 0.600 "
            "| 0.800 / 0.500 | – | 0.900 / 0.950 / 0.700 |") in block  # fmt: skip
    assert "| QED dev (human-selected sentence) (5) | 0.500 | 0.800 / 0.660 |" in block
    assert "0.810 / 0.700" in block  # QED answer retention: pruner / embedding
    flat = " ".join(block.split())
    assert "weights SHA-256 `abcdef0123456789…`, default threshold 0.2; queries: CAsT validation+test 7" in flat
    assert "make figures # runs: text-pruner-rag eval --suite dev --limit 300" in flat
    assert "Run time: 1.5 min, the sum of the sets' evaluation times" in flat
    # computed verdicts: the pruner is ahead on CAsT, BM25 on QED; keep-all beats it on CAsT
    assert "highest sentence F2 of the methods matched to its compression on 1 of 2 dev sets: CAsT" in flat
    assert "a baseline is higher on QED dev (BM25 0.671 vs pruner 0.660)" in flat
    assert "Keep-all (nothing removed) has a higher F2 than the pruner on CAsT validation+test." in flat
    assert "At the default threshold: sentence recall 0.900; answerable characters removed 0.400;" in flat.replace(
        "On CAsT validation+test at", "At")
    assert "embedding recall at the same answerable compression 0.750" in flat and "embedding: +0.150)" in flat
    assert "target" not in flat and "load average" not in flat and "Issue" not in flat
    # the docs site has no benchmarks/ folder: the results are named, not linked
    assert "`benchmarks/results-default-model.md` and `benchmarks/results/default-model/` in the repository" in flat
    assert "](benchmarks/" not in block
    # the card had no markers: the block (with its heading and the plot) goes before "## Training run"
    card = (root / figures.MODEL_DIR / "README.md").read_text(encoding="utf-8")
    assert card.index("## Dev evaluation against baselines") < card.index("## Training run")
    assert f"]({figures.CARD_PLOT})" in card
    assert (root / figures.MODEL_DIR / figures.CARD_PLOT).read_bytes() == PNG + b"plot"
    results_md = (root / figures.RESULTS_MD).read_text(encoding="utf-8")
    assert "0.900 / 0.550" in results_md and "](results/default-model/cast_dev/report.md)" in results_md
    # a second rewrite replaces the block, it does not add one
    assert figures.main(["--reuse", "--root", str(root)]) == 0
    assert (root / figures.MODEL_DIR / "README.md").read_text(encoding="utf-8") == card


def test_cast_summary_without_a_comparable_embedding_row(figures):
    report = _cast_report()
    report["results"] = [r for r in report["results"] if r["method"] != "embedding"]
    assert "not measured (no embedding baseline in the run)" in figures.cast_summary({"cast_dev": report})
    report = _cast_report()
    for row in report["results"]:
        if row["method"] == "embedding":
            row["compression_answerable"] += 0.5  # every embedding point beyond the pruner's 0.40
    assert "not measured (outside the range of its sweep)" in figures.cast_summary({"cast_dev": report})
    assert figures.cast_summary({"qed_dev": _qed_report()}) is None


def test_verdict_counts_a_tie_as_a_tie(figures):
    report = _qed_report()
    for row in report["results"]:
        if row["method"] == "bm25":
            row["f2"] = 0.66 + 1e-6  # shown as 0.660, like the pruner
    text = " ".join(figures.verdict({"qed_dev": report}).split())
    assert "on 0 of 1 dev sets; it ties with the best baseline on QED dev (BM25 0.660)." in text


def test_replace_block_rejects_broken_markers(figures):
    with pytest.raises(ValueError, match="markers"):
        figures.replace_block(f"text\n{figures.END}\n{figures.BEGIN}\n", "new")
    with pytest.raises(ValueError, match="markers"):
        figures.replace_block(f"text\n{figures.BEGIN}\n", "new")
    assert figures.replace_block("card\n", "new") == f"card\n\n{figures.BEGIN}\nnew\n{figures.END}\n"


def test_without_reports_it_says_so(tmp_path, figures):
    root = _tree(tmp_path, figures, "# card\n")
    shutil.rmtree(root / figures.RESULTS)
    with pytest.raises(FileNotFoundError, match="run without --reuse"):
        figures.main(["--reuse", "--root", str(root)])


def test_the_run_is_the_documented_eval_command(tmp_path, figures, monkeypatch):
    from text_pruner_rag import cli

    root = _tree(tmp_path, figures, "# card\n")
    (root / figures.RESULTS / "stale.txt").write_text("from an older run", encoding="utf-8")
    calls = []

    def fake_main(argv):
        calls.append((list(argv), Path.cwd()))
        out = Path(argv[argv.index("--out") + 1])
        (out / "cast_dev").mkdir(parents=True)
        (out / "cast_dev" / "report.json").write_text(json.dumps(_cast_report()), encoding="utf-8")
        (out / "cast_dev" / "recall_vs_compression.png").write_bytes(PNG)
        return 0

    monkeypatch.setattr(cli, "main", fake_main)
    assert figures.main(["--root", str(root)]) == 0
    assert calls == [(["eval", "--suite", "dev", "--limit", "300", "--out", "benchmarks/results/default-model"], root)]
    assert not (root / figures.RESULTS / "stale.txt").exists()
    run = json.loads((root / figures.RESULTS / "run.json").read_text(encoding="utf-8"))
    assert run["command"] == "text-pruner-rag eval --suite dev --limit 300 --out benchmarks/results/default-model"
    assert run["wall_seconds"] >= 0 and run["cpu_count"] >= 1
    page = " ".join((root / figures.MODELS_PAGE).read_text(encoding="utf-8").split())
    assert f"min wall time on {run['cpu_count']} CPU cores" in page and "load average" not in page
    monkeypatch.setattr(cli, "main", lambda argv: 1)
    with pytest.raises(RuntimeError, match="exited with 1"):
        figures.main(["--root", str(root)])


def test_committed_figures_match_the_committed_reports(tmp_path, figures):
    """docs/models.md, the model card and results-default-model.md say what the reports in git say."""
    if not (ROOT / figures.RESULTS / "cast_dev" / "report.json").is_file():
        pytest.skip("no committed eval reports")
    root = tmp_path / "repo"
    shutil.copytree(ROOT / figures.RESULTS, root / figures.RESULTS)
    (root / figures.MODEL_DIR).mkdir(parents=True)
    (root / "docs").mkdir()
    files = [figures.MODELS_PAGE, figures.MODEL_DIR / "README.md", figures.RESULTS_MD]
    for rel in files:
        shutil.copyfile(ROOT / rel, root / rel)
    figures.rewrite(root)
    for rel in files:
        assert (root / rel).read_text(encoding="utf-8") == (ROOT / rel).read_text(encoding="utf-8"), rel
