"""`text-pruner-rag eval` end to end: every reader format, on a tiny random model and tiny data in tmp dirs."""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
from pathlib import Path

import pytest

from text_pruner_rag import cli
from text_pruner_rag.data import devsets as D
from text_pruner_rag.evaluation import detect_format, load_eval_data

ROOT = Path(__file__).resolve().parents[1]
ROW_KEYS = {"method", "threshold", "precision", "recall", "f1", "f2", "f2.5", "compression", "mean_compression",
            "compression_answerable", "compression_unanswerable", "emptied_negative_rate", "answer_retention"}  # fmt: skip
PNG = b"\x89PNG\r\n\x1a\n"


def _shared_raw() -> Path | None:
    for candidate in (os.environ.get("TEXT_PRUNER_RAG_DATA"), ROOT.parent / "shared/data/raw",
                      ROOT.parent.parent / "shared/data/raw"):  # fmt: skip
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


# --------------------------------------------------------------------------------------------------
# Tiny data, one writer per format


def _write_openprovence_eval(folder: Path) -> Path:
    rows = [
        {"query": "Where is the Eiffel Tower?", "reasoning": "ignored",
         "contexts": ["The Eiffel Tower is in Paris.", "It opened in 1889.", "Cats like fish."], "labels": [1, 0, 0]},
        {"query": "Who wrote Hamlet?", "contexts": ["Bananas are yellow.", "Rivers flow to the sea."], "labels": [0, 0]},
        {"query": "What is the capital of Japan?",
         "contexts": ["Tokyo is the capital of Japan.", "It is large.", "Mount Fuji is tall."], "labels": [1, 1, 0]},
    ]  # fmt: skip
    path = folder / "eval.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


def _write_openprovence(folder: Path) -> Path:
    texts = ["The Eiffel Tower is in Paris. It opened in 1889.", "Cats like fish. Dogs like bones."]
    row = {"id": "r1", "query": "Where is the Eiffel Tower?", "texts": texts,
           "context_spans": [[[0, 30], [30, 48]], [[0, 16], [16, 32]]],
           "context_spans_relevance": [[1, 0], [0, 0]], "labels": [1, 0]}  # fmt: skip
    path = folder / "rows.jsonl"
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    return path


def _write_squad(folder: Path) -> Path:
    paragraphs = [
        {"context": "The Eiffel Tower is in Paris. It opened in 1889.",
         "qas": [{"id": "q1", "question": "When did the Eiffel Tower open?", "answers": [{"text": "1889", "answer_start": 43}]}]},
        {"context": "Paris is the capital of France. It is on the Seine.",
         "qas": [{"id": "q2", "question": "Which river is Paris on?", "answers": [{"text": "the Seine", "answer_start": 41}]}]},
    ]  # fmt: skip
    path = folder / "squad.json"
    path.write_text(json.dumps({"version": "1.1", "data": [{"title": "Paris", "paragraphs": paragraphs}]}), encoding="utf-8")
    return path


def _write_jsonl(folder: Path) -> Path:
    from text_pruner_rag.data.records import write_records
    from text_pruner_rag.data.readers import read_openprovence_eval

    path = folder / "unified.jsonl"
    write_records(read_openprovence_eval(_write_openprovence_eval(folder)), path)
    return path


def _copy_shared(folder: Path, relative: str, n: int) -> Path:
    raw = _shared_raw()
    if raw is None or not (raw / relative).exists():
        pytest.skip(f"shared raw data {relative} not found")
    source = raw / relative
    name = source.name
    if name.endswith((".jsonl.gz", ".jsonlines", ".jsonl")):
        opener = gzip.open if name.endswith(".gz") else open
        with opener(source, "rt", encoding="utf-8") as handle:
            lines = [next(handle) for _ in range(n)]
        path = folder / name.replace(".gz", "")
        path.write_text("".join(lines), encoding="utf-8")
    else:
        path = folder / name
        path.write_text(json.dumps(json.loads(source.read_text(encoding="utf-8"))[:n]), encoding="utf-8")
    return path


WRITERS = {
    "openprovence_eval": _write_openprovence_eval,
    "openprovence": _write_openprovence,
    "squad": _write_squad,
    "jsonl": _write_jsonl,
    "qed": lambda folder: _copy_shared(folder, "qed_nq/qed-dev.jsonlines", 4),
    "nq_open_oracle": lambda folder: _copy_shared(folder, "nq_open_oracle_lost_in_the_middle/nq-open-oracle.jsonl.gz", 3),
    "hotpotqa": lambda folder: _copy_shared(folder, "hotpotqa_train_subset_hipporag/hotpotqa_train.json", 2),
    "musique": lambda folder: _copy_shared(folder, "musique_train_subset_hipporag/musique_train.json", 2),
}


# Formats read straight from the shared raw data (first records only, --limit 2), by explicit --format.
SHARED_FILES = {
    "cast_answerability": "cast_answerability",
    "fever_eraser": "fever_eraser/val.jsonl",
    "multirc_eraser": "multirc_eraser/val.jsonl",
    "wikiqa": "wikiqa/WikiQA-dev.tsv",
    "squad2": "squad2_dev_half/dev-v2.0-half.json",
    "selqa": "selqa/ass/selqa-ass-dev.json",
}


def test_every_reader_format_is_evaluated_here():
    from text_pruner_rag.data.readers import READERS

    # a reader added later must get a writer in WRITERS or a sample in SHARED_FILES
    assert set(READERS) == set(WRITERS) | set(SHARED_FILES)


def _run(*argv: str) -> int:
    return cli.main(["eval", *argv])


def _report(out: Path) -> dict:
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


def _check_report(report: dict, fmt: str) -> None:
    assert {"model", "data", "n_queries", "results", "default_threshold", "thresholds", "timing"} <= set(report)
    assert report["data"][0]["format"] == fmt and report["n_queries"] >= 1
    methods = {row["method"] for row in report["results"]}
    assert methods == {"pruner", "keep_all", "random", "bm25"}
    for row in report["results"]:
        assert ROW_KEYS <= set(row)
        assert 0.0 <= row["compression"] <= 1.0 and 0.0 <= row["recall"] <= 1.0
    keep_all = [row for row in report["results"] if row["method"] == "keep_all"]
    assert len(keep_all) == 1 and keep_all[0]["threshold"] is None
    assert keep_all[0]["recall"] == 1.0 and keep_all[0]["compression"] == 0.0
    pruner = {row["threshold"]: row for row in report["results"] if row["method"] == "pruner"}
    assert sorted(pruner) == [0.0, 0.5, 1.0]  # the tiny model's default 0.5 is added to the sweep
    assert pruner[0.0]["compression"] == 0.0 and pruner[0.0]["recall"] == 1.0  # every probability > 0
    assert pruner[1.0]["compression"] == 1.0 and pruner[1.0]["recall"] == 0.0  # none > 1


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_eval_each_format(fmt, tmp_path, tiny_model_dir, capsys):
    data = WRITERS[fmt](tmp_path)
    assert detect_format(data) == fmt
    out = tmp_path / "out"
    code = _run("--data", str(data), "--model", str(tiny_model_dir), "--baselines", "keep_all,random,bm25",
                "--thresholds", "0", "1", "--out", str(out), "--quiet")  # fmt: skip
    assert code == 0, capsys.readouterr().err
    report = _report(out)
    _check_report(report, fmt)
    assert report["command"].startswith("text-pruner-rag eval --data ")
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "## At the default threshold (0.500)" in markdown and report["command"] in markdown
    for name in ("recall_vs_compression.png", "f2_vs_compression.png"):
        assert (out / name).read_bytes()[:8] == PNG
    assert "At the default threshold" in capsys.readouterr().out


def test_eval_explicit_format_pools_several_files_and_limits_each(tmp_path, tiny_model_dir):
    first = _write_openprovence_eval(tmp_path)
    second = tmp_path / "more.json"
    second.write_text(first.read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp_path / "out"
    assert _run("--data", str(first), "--data", str(second), "--format", "openprovence_eval", "--limit", "2",
                "--model", str(tiny_model_dir), "--baselines", "none", "--out", str(out), "--quiet") == 0  # fmt: skip
    report = _report(out)
    assert report["n_queries"] == 4 and [d["n_records"] for d in report["data"]] == [2, 2]
    assert {row["method"] for row in report["results"]} == {"pruner"}


def test_eval_with_embedding_baseline_and_progress(tmp_path, tiny_model_dir, capsys):
    data = _write_openprovence_eval(tmp_path)
    out = tmp_path / "out"
    assert _run("--data", str(data), "--model", str(tiny_model_dir), "--thresholds", "0.3,0.6", "--out", str(out)) == 0
    err = capsys.readouterr().err
    assert "Estimated run time: ~" in err and "Queries" in err  # estimate and tqdm bar on stderr
    report = _report(out)
    rows = [row for row in report["results"] if row["method"] == "embedding"]
    assert [row["threshold"] for row in rows] == [0.3, 0.5, 0.6]
    assert report["n_unanswerable_passages"] == 1  # the Hamlet row has no relevant sentence
    pruner = {row["threshold"]: row for row in report["results"] if row["method"] == "pruner"}
    for row in rows:
        assert row["target_compression"] == pruner[row["threshold"]]["compression"]


def test_dev_set_names_folders_and_suites(tmp_path, tiny_model_dir, monkeypatch, capsys):
    raw = tmp_path / "raw"
    (raw / "xquad_en").mkdir(parents=True)
    _write_squad(raw / "xquad_en").rename(raw / "xquad_en" / "xquad.en.json")
    (raw / "xquad_en" / "SOURCE.txt").write_text("not data", encoding="utf-8")
    records, described = load_eval_data(["xquad_en"], data_dir=raw)
    assert len(records) == 2 and described[0]["name"] == "xquad_en" and described[0]["format"] == "squad"
    assert len(records[0].passages) == 2  # every paragraph of the article (max_negatives=None)
    by_folder, _ = load_eval_data([str(raw / "xquad_en")])  # a shared raw data folder, format auto
    assert [r.id for r in by_folder] == [r.id for r in records]

    monkeypatch.setitem(D.DEV_SETS, "future_set", D.DevSet("future_set", "no_such_reader", ("x",)))
    monkeypatch.setitem(D.SUITES, "dev", ("future_set", "xquad_en"))
    out = tmp_path / "suite"
    assert _run("--suite", "dev", "--data-dir", str(raw), "--model", str(tiny_model_dir), "--baselines", "keep_all",
                "--out", str(out), "--quiet") == 0  # fmt: skip
    assert "skipping future_set: dev set 'future_set' needs the 'no_such_reader' reader" in capsys.readouterr().err
    assert _report(out / "xquad_en")["n_queries"] == 2
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "## xquad_en" in summary and "Not run:" in summary and "future_set" in summary
    summary_json = json.loads((out / "summary.json").read_text(encoding="utf-8"))["sets"]["xquad_en"]
    assert summary_json["n_queries"] == 2 and summary_json["report"] == "xquad_en/report.json"
    # the rows at the default threshold only (the sweep stays in the set's report.json)
    default = _report(out / "xquad_en")["default_threshold"]
    assert {r["threshold"] for r in summary_json["at_default_threshold"]} == {default, None}


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--out", "X"], "give --data PATH (repeatable) or --suite NAME"),
        (["--data", "nowhere.json", "--out", "X"], "no such file or folder, and not a dev set name"),
        (["--data", "DATA", "--baselines", "bm25,oracle", "--out", "X"], "--baselines: unknown ['oracle']"),
        (["--data", "DATA", "--format", "csv_thing", "--out", "X"], "unknown format 'csv_thing'"),
        (["--data", "ODD", "--out", "X"], "cannot tell the format of"),
        (["--data", "DATA", "--thresholds", "1.5", "--out", "X"], "--thresholds must be in [0, 1], got [1.5]"),
        (["--data", "DATA", "--limit", "0", "--out", "X"], "must be >= 1, got 0"),
        (["--data", "DATA", "--skip", "-1", "--out", "X"], "argument --skip: must be >= 0, got -1"),
        (["--data", "DATA", "--limit", "2.5", "--out", "X"], "argument --limit: not an integer"),
    ],
)
def test_eval_usage_errors(argv, message, tmp_path, tiny_model_dir, capsys):
    data, odd = _write_openprovence_eval(tmp_path), tmp_path / "odd.json"
    odd.write_text(json.dumps([{"question": "q", "text": "t"}]), encoding="utf-8")
    argv = [{"DATA": str(data), "ODD": str(odd), "X": str(tmp_path / "out")}.get(a, a) for a in argv]
    assert _run(*argv, "--model", str(tiny_model_dir)) == 2
    assert message in capsys.readouterr().err


def test_quality_script_is_a_thin_caller(tmp_path, tiny_model_dir, monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_quality", ROOT / "benchmarks" / "quality.py")
    quality = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quality)
    assert quality.eval_arguments(["--out", "X"]) == ["eval", "--suite", "dev", "--out", "X"]
    assert quality.eval_arguments(["--data", "d", "--out", "X"]) == ["eval", "--data", "d", "--out", "X"]
    out = tmp_path / "out"
    data = _write_openprovence_eval(tmp_path)
    assert quality.main(["--data", str(data), "--model", str(tiny_model_dir), "--baselines", "keep_all",
                         "--out", str(out), "--quiet"]) == 0  # fmt: skip
    assert _report(out)["n_queries"] == 3


@pytest.mark.parametrize("fmt", sorted(SHARED_FILES))
def test_eval_shared_formats(fmt, tmp_path, tiny_model_dir, capsys):
    raw = _shared_raw()
    if raw is None or not (raw / SHARED_FILES[fmt]).exists():
        pytest.skip(f"shared raw data {SHARED_FILES[fmt]} not found")
    out = tmp_path / "out"
    code = _run("--data", str(raw / SHARED_FILES[fmt]), "--format", fmt, "--limit", "2", "--model", str(tiny_model_dir),
                "--baselines", "keep_all", "--thresholds", "0", "1", "--out", str(out), "--quiet")  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert detect_format(raw / SHARED_FILES[fmt]) == fmt  # --format auto reads it too
    report = _report(out)
    assert report["data"][0]["format"] == fmt and report["n_queries"] == 2
    if fmt == "cast_answerability":  # eval reads the dev partitions, not the reader's default (train)
        assert report["data"][0]["options"]["partitions"] == ["validation", "test"]
    keep_all = [row for row in report["results"] if row["method"] == "keep_all"][0]
    assert keep_all["recall"] == 1.0 and keep_all["compression"] == 0.0


def test_detect_format_of_the_issue_8_formats(tmp_path):
    """Detection rules for the formats read with their own layout (the shared-data tests run them end to end)."""
    (tmp_path / "cast" / "CAsT-snippets").mkdir(parents=True)
    assert detect_format(tmp_path / "cast") == "cast_answerability"
    wikiqa = tmp_path / "WikiQA-dev.tsv"
    wikiqa.write_text("QuestionID\tQuestion\tDocumentID\tDocumentTitle\tSentenceID\tSentence\tLabel\n"
                      "Q1\twho?\tD1\tT\tD1-0\tA sentence.\t0\n", encoding="utf-8")  # fmt: skip
    assert detect_format(wikiqa) == "wikiqa"
    other = tmp_path / "other.tsv"
    other.write_text("a\tb\n1\t2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="pass --format"):
        detect_format(other)
    squad2 = {"data": [{"title": "T", "paragraphs": [{"context": "C.", "qas": [
        {"id": "1", "question": "q?", "answers": [], "is_impossible": True}]}]}]}  # fmt: skip
    (tmp_path / "squad2.json").write_text(json.dumps(squad2), encoding="utf-8")
    assert detect_format(tmp_path / "squad2.json") == "squad2"
    eraser = {"annotation_id": "a", "docids": ["D"], "evidences": [[]], "query": "claim"}
    for classification, fmt in (("SUPPORTS", "fever_eraser"), ("REFUTES", "fever_eraser"), ("True", "multirc_eraser")):
        path = tmp_path / f"{classification}.jsonl"
        path.write_text(json.dumps({**eraser, "classification": classification}) + "\n", encoding="utf-8")
        assert detect_format(path) == fmt
    selqa = [{"question": "q?", "candidates": ["A.", "B."], "answers": [0], "article": "T"}]
    (tmp_path / "selqa.json").write_text(json.dumps(selqa), encoding="utf-8")
    assert detect_format(tmp_path / "selqa.json") == "selqa"


def _write_jaquad_dev(tmp_path):
    """A shared-data folder with one JaQuAD dev article of 7 paragraphs, one question each; returns
    ``(raw folder, paragraphs)``."""
    raw = tmp_path / "raw"
    (raw / "jaquad" / "dev").mkdir(parents=True)
    paragraphs = [{"context": f"段落{i}の文です。答えは{i}番です。",
                   "qas": [{"id": f"q{i}", "question": f"段落{i}の答えは？", "answers": [{"text": f"{i}番", "answer_start": 11}]}]}
                  for i in range(7)]  # fmt: skip
    data = {"version": "1.1", "data": [{"title": "記事", "paragraphs": paragraphs}]}
    (raw / "jaquad" / "dev" / "jaquad_dev_0000.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return raw, paragraphs


def test_jaquad_dev_is_the_gold_paragraph_and_four_same_article_paragraphs(tmp_path):
    # issue #9's JaQuAD dev figures are over the answer paragraph + 4 other paragraphs of its article
    raw, paragraphs = _write_jaquad_dev(tmp_path)
    assert D.SUITES["dev-ja"] == ("jaquad_dev",)
    records, described = load_eval_data(["jaquad_dev"], data_dir=raw, limit=3)
    assert len(records) == 3 and described[0]["format"] == "squad"
    for i, record in enumerate(records):
        assert [p.label for p in record.passages] == [1, 0, 0, 0, 0]
        assert f"{i}番" in record.passages[0].text
        others = {p.text for p in record.passages[1:]}
        assert len(others) == 4 and record.passages[0].text not in others
        assert others <= {p["context"] for p in paragraphs}


def test_skip_leaves_out_the_first_queries_of_each_set(tmp_path):
    # issue #9: the bilingual model's threshold was calibrated on the first JaQuAD dev questions;
    # its reported figures use `--skip` to leave them out
    raw, _ = _write_jaquad_dev(tmp_path)
    every, _ = load_eval_data(["jaquad_dev"], data_dir=raw)
    later, described = load_eval_data(["jaquad_dev"], data_dir=raw, skip=2, limit=3)
    assert [r.id for r in later] == [r.id for r in every[2:5]]
    assert described[0]["skipped_records"] == 2 and described[0]["n_records"] == 3
    assert [r.id for r in load_eval_data(["jaquad_dev"], data_dir=raw, skip=5)[0]] == [r.id for r in every[5:]]
    with pytest.raises(ValueError, match="skip"):
        load_eval_data(["jaquad_dev"], data_dir=raw, skip=-1)
