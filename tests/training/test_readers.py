"""Tests of the readers, the unified record type (records.py) and `prepare` (offline, on real samples)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from text_pruner_rag.data import records as records_module
from text_pruner_rag.data.records import DataFormatError, Passage, ReadStats, Record, load_records, read_jsonl
from text_pruner_rag.data.devsets import build_dev_sets
from text_pruner_rag.data.preparation import SourceConfig, iter_source, prepare
from text_pruner_rag.data.readers import (
    READERS,
    normalize_question,
    read_hotpotqa,
    read_musique,
    read_nq_open_oracle,
    read_openprovence,
    read_qed,
    read_squad,
    register_reader,
)
from text_pruner_rag.data.readers.common import join_sentences

SHARED = Path(__file__).parents[2] / ".." / "shared"
RAW = SHARED / "data" / "raw"


@pytest.fixture(scope="module")
def raw() -> Path:
    if not RAW.is_dir():
        pytest.skip(f"shared raw data not found at {RAW}")
    return RAW


def check_record(record: Record, *, tiling: bool = True) -> None:
    """The invariants every reader promises."""
    assert record.language in ("en", "ja")
    labels = [p.label for p in record.passages]
    assert labels == sorted(labels, reverse=True) and labels[0] == 1
    for passage in record.passages:
        assert len(passage.spans) == len(passage.relevance) >= 1
        previous = 0
        for start, end in passage.spans:
            assert previous <= start < end <= len(passage.text)
            previous = end
        if tiling:
            assert passage.is_tiling and "".join(passage.sentences) == passage.text
        if passage.label == 0 and record.source != "openprovence":
            assert not any(passage.relevance)
    assert any(any(p.relevance) for p in record.positives)


def relevant_text(passage: Passage) -> str:
    return "".join(s for s, f in zip(passage.sentences, passage.relevance) if f)


# ---------------------------------------------------------------------------- record type


def test_record_round_trip_and_invariants():
    passage = Passage("One. Two.", [(0, 5), (5, 9)], [0, 1], 1, title="T", teacher_score=2)
    record = Record("q1", "which?", "en", "unit", ["Two"], [passage], meta={"k": 1})
    again = Record.from_dict(json.loads(json.dumps(record.to_dict())))
    assert again == record and again.passages[0].teacher_score == 2.0
    with pytest.raises(ValueError, match="2 spans but 1 relevance flags"):
        Passage("One. Two.", [(0, 5), (5, 9)], [1], 1)
    with pytest.raises(ValueError, match="out of bounds"):
        Passage("One.", [(0, 9)], [1], 1)
    with pytest.raises(ValueError, match="overlapping"):
        Passage("One. Two.", [(0, 5), (4, 9)], [0, 1], 1)
    negative = Passage("No.", [(0, 3)], [0], 0)
    with pytest.raises(ValueError, match="positives must come first"):
        Record("q1", "which?", "en", "unit", [], [negative, passage])
    with pytest.raises(ValueError, match="language"):
        Record("q1", "which?", "fr", "unit", [], [passage])


# ---------------------------------------------------------------------------- SQuAD format


def test_read_squad_jaquad(raw):
    stats = ReadStats()
    records = list(read_squad(raw / "jaquad" / "dev", "ja", max_negatives=3, source="jaquad", limit=40, stats=stats))
    assert len(records) == 40 and stats.records == 40
    for record in records:
        check_record(record)
        assert record.language == "ja" and record.source == "jaquad"
        assert len(record.passages) <= 4 and len(record.positives) == 1
        assert record.answers[0] in record.passages[0].text
        assert {p.title for p in record.passages} == {record.meta["title"]}
    hits = sum(r.answers[0] in relevant_text(r.passages[0]) for r in records)
    assert hits >= 38  # almost every answer lies inside the relevant sentence(s)
    # negatives are sampled deterministically
    again = list(read_squad(raw / "jaquad" / "dev", "ja", max_negatives=3, source="jaquad", limit=40))
    assert [r.to_dict() for r in again] == [r.to_dict() for r in records]


def test_read_squad_xquad_keeps_all_paragraphs(raw):
    records = list(read_squad(raw / "xquad_en" / "xquad.en.json", "en", max_negatives=None, limit=10))
    for record in records:
        check_record(record)
        assert len(record.passages) == 5  # every XQuAD article has 5 paragraphs
        assert record.answers[0] in relevant_text(record.passages[0])
        assert record.meta["title"] == "Super Bowl 50"


def test_read_squad_jsquad_prefix(tmp_path):
    title, body = "東京タワー", "東京タワーは東京都港区にある電波塔である。高さは333メートルである。"
    context = f"{title} [SEP] {body}"
    answer = "333メートル"
    doc = {"data": [{"title": title, "paragraphs": [
        {"context": context, "qas": [{"id": "a1", "question": "東京タワーの高さは?",
                                      "answers": [{"text": answer, "answer_start": context.index(answer)}]}]},
        {"context": f"{title} [SEP] 電波塔は1958年に完成した。", "qas": []}]}]}
    path = tmp_path / "jsquad.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    [record] = list(read_squad(path, "ja"))
    check_record(record)
    positive, negative = record.passages
    assert positive.text == body and positive.title == title and negative.title == title
    assert relevant_text(positive) == "高さは333メートルである。"
    assert "[SEP]" not in negative.text


# ---------------------------------------------------------------------------- QED, NQ-open


def test_read_qed_dev(raw):
    records = list(read_qed(raw / "qed_nq" / "qed-dev.jsonlines", limit=60))
    kinds = {r.meta["explanation_type"] for r in records}
    assert kinds <= {"single_sentence", "multi_sentence"}
    first = json.loads((raw / "qed_nq" / "qed-dev.jsonlines").open().readline())
    assert records[0].id == str(first["example_id"])
    assert relevant_text(records[0].passages[0]) == first["annotation"]["selected_sentence"]["string"]
    for record in records:
        check_record(record)
        assert record.passages[0].title
    stats = ReadStats()  # the whole file: multi_sentence rows sit near its end
    kept = list(read_qed(raw / "qed_nq" / "qed-dev.jsonlines", multi_sentence="skip", stats=stats))
    assert {r.meta["explanation_type"] for r in kept} == {"single_sentence"}
    assert stats.to_dict() == {"records": 1021, "skipped": 0, "dropped": {"qed_multi_sentence": 183, "qed_none": 151}}
    every = read_qed(raw / "qed_nq" / "qed-dev.jsonlines")
    multi = [r for r in every if r.meta["explanation_type"] != "single_sentence"]
    assert len(multi) == 183
    for record in multi:  # default "answer": the sentence(s) holding an NQ short answer
        check_record(record)
        assert any(a in relevant_text(record.passages[0]) for a in record.answers)


def test_read_qed_early_shards(raw):
    records = list(read_qed(raw / "qed_nq" / "early_shards_2020-08-26" / "nq-train-00-qed.jsonlines", limit=60))
    assert len(records) == 60
    for record in records:
        check_record(record)
        assert any(a.split()[0] in relevant_text(record.passages[0]) for a in record.answers)


def test_normalize_question():
    assert normalize_question("Who's the  President?") == "whosthepresident"
    assert normalize_question("who 's the president") == normalize_question("Who's the President ?")


def test_nq_open_oracle_excludes_qed_dev(raw):
    qed_dev = raw / "qed_nq" / "qed-dev.jsonlines"
    nq = raw / "nq_open_oracle_lost_in_the_middle" / "nq-open-oracle.jsonl.gz"
    qed_questions = [json.loads(line)["question_text"] for line in qed_dev.open()]
    qed_keys = {normalize_question(q) for q in qed_questions}
    stats = ReadStats()
    records = list(read_nq_open_oracle(nq, exclude_questions=qed_questions, limit=25, stats=stats))
    assert len(records) == 25 and stats.dropped["excluded_question"] > 0
    for record in records:
        check_record(record)
        assert normalize_question(record.query) not in qed_keys
        assert any(a in relevant_text(record.passages[0]) for a in record.answers)
    # the same through the file option; 1,020 questions overlap in total (data card)
    import gzip

    overlap = sum(normalize_question(json.loads(line)["question"]) in qed_keys for line in gzip.open(nq, "rt"))
    assert overlap == 1020
    by_file = list(read_nq_open_oracle(nq, exclude_questions_from=qed_dev, limit=25))
    assert [r.id for r in by_file] == [r.id for r in records]


# ---------------------------------------------------------------------------- multi-hop


def test_read_hotpotqa(raw):
    path = raw / "hotpotqa_train_subset_hipporag" / "hotpotqa_train.json"
    records = list(read_hotpotqa(path, limit=10))
    rows = json.loads(path.read_text())[:10]
    for record, row in zip(records, rows):
        check_record(record)
        context = dict((t, s) for t, s in row["context"])
        assert {p.title: p.text for p in record.passages} == {t: "".join(s) for t, s in context.items()}
        for title, index in row["supporting_facts"]:
            passage = next(p for p in record.passages if p.title == title)
            assert passage.label == 1 and context[title][index].strip() in relevant_text(passage)
        assert len(record.positives) == len({t for t, _ in row["supporting_facts"]})


def test_join_sentences_moves_whitespace_and_merges_empty():
    text, spans, mapping = join_sentences(["A.", "  ", " B.", ""])
    assert text == "A.   B." and spans == [(0, 5), (5, 7)] and mapping == [0, None, 1, None]


def test_read_musique(raw):
    records = list(read_musique(raw / "musique_train_subset_hipporag" / "musique_train.json", limit=10))
    for record in records:
        check_record(record)
        assert len(record.passages) == 20
        assert 2 <= len(record.positives) <= 4
        assert sum(record.meta["sentence_rule"].values()) == len(record.positives)
        last = record.positives  # the final answer is in some relevant sentence
        assert any(a.lower() in relevant_text(p).lower() for p in last for a in record.answers)


# ---------------------------------------------------------------------------- OpenProvence rows


def test_read_openprovence_jsonl(tmp_path):
    rows = [
        {"id": "r1", "query": "what is x?", "texts": ["Neg text here.", "X is a letter. It is nice."],
         "context_spans": [[[0, 14]], [[0, 14], [15, 26]]],  # a gap at 14..15 is kept
         "context_spans_relevance": [[0], [1]], "labels": [0, 1], "teacher_scores.tiny": [0.1, 0.9]},
        {"id": "r2", "query": "what is y?", "texts": ["Y is a letter."], "context_spans": [[[0, 14]]],
         "context_spans_relevance": [[1]], "labels": [1], "teacher_scores.tiny": [0.7]},
    ]
    path = tmp_path / "op.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    records = list(read_openprovence(path, language="en"))
    first = records[0]
    check_record(first, tiling=False)
    assert [p.label for p in first.passages] == [1, 0]  # positives moved first
    assert first.passages[0].relevance == [0, 1]  # [1] with 2 spans = an index list
    assert first.passages[0].teacher_score == 0.9 and not first.passages[0].is_tiling
    assert records[1].passages[0].relevance == [1]  # [1] with 1 span = flags
    assert list(read_openprovence(path, language="en", teacher_column="tiny"))[0].to_dict() == first.to_dict()
    with pytest.raises(DataFormatError, match=r"op\.jsonl:1: missing key 'nope'"):
        list(read_openprovence(path, language="en", teacher_column="nope"))


def test_read_openprovence_hub_needs_datasets(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "datasets":
            raise ImportError("no datasets")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match="pip install datasets"):
        next(read_openprovence("someone/some-context-relevance"))


# ---------------------------------------------------------------------------- errors, skip mode


def bad_unified_file(tmp_path: Path) -> Path:
    good = Record("q1", "which?", "en", "unit", [], [Passage("One. Two.", [(0, 5), (5, 9)], [0, 1], 1)]).to_dict()
    mismatch = json.loads(json.dumps(good))
    mismatch["passages"][0]["relevance"] = [1]
    missing = {k: v for k, v in good.items() if k != "query"}
    lines = [json.dumps(good), "{not json", json.dumps(mismatch), json.dumps(missing), json.dumps(good)]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_malformed_rows_name_file_and_line(tmp_path):
    path = bad_unified_file(tmp_path)
    with pytest.raises(DataFormatError, match=r"bad\.jsonl:2: invalid JSON"):
        list(read_jsonl(path))
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:1] + lines[2:]) + "\n")
    with pytest.raises(DataFormatError, match=r"bad\.jsonl:2: 2 spans but 1 relevance flags"):
        list(read_jsonl(path))
    path.write_text("\n".join(lines[:1] + lines[3:]) + "\n")
    with pytest.raises(DataFormatError, match=r"bad\.jsonl:2: missing key 'query'"):
        list(read_jsonl(path))


def test_malformed_squad_names_json_path(tmp_path):
    doc = {"data": [{"title": "T", "paragraphs": [{"context": "Alpha beta.", "qas": [
        {"id": "x", "question": "q?", "answers": [{"text": "gamma", "answer_start": 0}]}]}]}]}
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(DataFormatError, match=r"squad\.json:data\[0\]\.paragraphs\[0\]\.qas\[0\]: answer 'gamma'"):
        list(read_squad(path, "en"))
    (tmp_path / "broken.json").write_text('{"data": [\n  {"title": }')
    with pytest.raises(DataFormatError, match=r"broken\.json:2: invalid JSON"):
        list(read_squad(tmp_path / "broken.json", "en"))


def test_skip_mode_counts_and_warns(tmp_path, caplog):
    path = bad_unified_file(tmp_path)
    stats = ReadStats()
    with caplog.at_level(logging.WARNING, logger=records_module.__name__):
        records = list(read_jsonl(path, on_error="skip", stats=stats))
    assert len(records) == 2 and stats.skipped == 3 and stats.records == 2
    assert "skipped 3 malformed" in caplog.text
    with pytest.raises(ValueError, match="on_error must be"):
        list(read_jsonl(path, on_error="ignore"))


# ---------------------------------------------------------------------------- configs, prepare, dev sets


def test_source_config_validation():
    config = SourceConfig.model_validate({"format": "squad", "path": ["a.json"], "language": "ja", "limit": 3})
    assert config.source_name == "squad"
    with pytest.raises(ValueError, match="unknown format 'csv'"):
        SourceConfig(format="csv", path="x")
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        SourceConfig(format="squad", path="x", language="fr")
    with pytest.raises(ValueError, match="English-only"):
        iter_source(SourceConfig(format="hotpotqa", path="x", language="ja"))
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['max_negative'\]"):
        iter_source(SourceConfig(format="squad", path="x", options={"max_negative": 2}))


def test_source_skip_takes_the_records_after_the_first_ones(raw):
    source = {"format": "squad", "path": str(raw / "xquad_en" / "*.json"), "language": "en",
              "options": {"max_negatives": 2}}
    every = [r.id for r in iter_source(SourceConfig.model_validate({**source, "limit": 9}), seed=3)]
    later = [r.id for r in iter_source(SourceConfig.model_validate({**source, "skip": 4, "limit": 3}), seed=3)]
    assert len(every) == 9 and later == every[4:7]
    rest = [r.id for r in iter_source(SourceConfig.model_validate({**source, "skip": 7, "limit": 9}), seed=3)][:2]
    assert rest == every[7:9]
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        SourceConfig.model_validate({**source, "skip": -1})


def test_prepare_counts_the_records_written_after_skip(raw, tmp_path):
    source = {"format": "squad", "name": "xquad_en", "path": str(raw / "xquad_en" / "*.json"), "language": "en",
              "skip": 4, "limit": 3, "options": {"max_negatives": 2}}
    summary = prepare([source], tmp_path / "train.jsonl", seed=3)
    assert summary["records"] == 3 and summary["sources"]["xquad_en"]["records"] == 3
    assert summary["sources"]["xquad_en"]["left_out"] == 4
    assert len((tmp_path / "train.jsonl").read_text(encoding="utf-8").splitlines()) == 3


def test_prepare_round_trip_and_determinism(raw, tmp_path):
    sources = [
        {"format": "squad", "name": "xquad_en", "path": str(raw / "xquad_en" / "*.json"), "language": "en",
         "limit": 5, "options": {"max_negatives": 2}},
        {"format": "qed", "path": str(raw / "qed_nq" / "qed-dev.jsonlines"), "limit": 5},
        {"format": "hotpotqa", "path": str(raw / "hotpotqa_train_subset_hipporag" / "hotpotqa_train.json"), "limit": 3},
    ]
    out = tmp_path / "out" / "train.jsonl"
    summary = prepare(sources, out, seed=3)
    assert summary["records"] == 13 and summary["sources"]["xquad_en"]["records"] == 5
    assert summary["sources"]["xquad_en"]["passages"] == 15
    records = load_records(out)
    assert [r.source for r in records] == ["xquad_en"] * 5 + ["qed"] * 5 + ["hotpotqa"] * 3
    for record in records:
        check_record(record)
    meta = json.loads(Path(f"{out}.meta.json").read_text())
    assert "CC BY-SA" in meta["licenses"]["squad"]
    first = out.read_bytes()
    prepare(sources, out, seed=3)
    assert out.read_bytes() == first
    with pytest.raises(ValueError, match="unique"):
        prepare([sources[1], sources[1]], out)


def test_prepare_skip_mode_counts(tmp_path):
    path = bad_unified_file(tmp_path)
    summary = prepare([{"format": "jsonl", "path": str(path)}], tmp_path / "o.jsonl", on_error="skip")
    assert summary["sources"]["jsonl"]["skipped"] == 3 and summary["records"] == 2
    with pytest.raises(DataFormatError, match=r"bad\.jsonl:2"):
        prepare([{"format": "jsonl", "path": str(path)}], tmp_path / "o2.jsonl")
    assert not (tmp_path / "o2.jsonl").exists() and not (tmp_path / "o2.jsonl.tmp").exists()


def test_build_dev_sets(raw):
    sets = build_dev_sets(SHARED, limit=5)
    assert set(sets) == {"qed_dev", "xquad_en", "jaquad_dev"}
    assert all(len(v) == 5 for v in sets.values())
    assert all(len(r.passages) == 5 for r in sets["xquad_en"])
    assert {r.language for r in sets["jaquad_dev"]} == {"ja"}


# ---------------------------------------------------------------------------- registry, old import path


def test_register_reader_adds_a_format(tmp_path):
    path = tmp_path / "one.txt"
    path.write_text("Where is it?\tIt is here. Not there.\n")

    def read_tsv(path, *, source="tsv", limit=None, on_error="raise", stats=None):
        def convert(row):
            query, text = row.split("\t")
            spans = [(0, 11), (11, len(text))]
            return Record("0", query, "en", source, [], [Passage(text, spans, [1, 0], 1)])

        return records_module.convert_items([("x:1", records_module.expand_paths(path)[0].read_text().rstrip("\n"))], convert, limit=limit,
                                            on_error=on_error, stats=stats, what=source)

    register_reader("tsv_test", read_tsv, "test data, no license")
    try:
        summary = prepare([{"format": "tsv_test", "path": str(path)}], tmp_path / "out.jsonl")
        assert summary["records"] == 1
        assert load_records(tmp_path / "out.jsonl")[0].passages[0].sentences == ["It is here.", " Not there."]
        with pytest.raises(ValueError, match="already registered"):
            register_reader("tsv_test", read_tsv, "again")
    finally:
        from text_pruner_rag.data.readers import LICENSE_NOTES

        READERS.pop("tsv_test"), LICENSE_NOTES.pop("tsv_test")


def test_old_training_data_module_reexports():
    import importlib
    import sys

    sys.modules.pop("text_pruner_rag.training.data", None)
    with pytest.warns(DeprecationWarning, match="import from text_pruner_rag.data "):
        old = importlib.import_module("text_pruner_rag.training.data")
    assert old.Record is Record and old.read_squad is read_squad and old.prepare is prepare
