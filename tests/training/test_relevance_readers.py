"""Readers for multi-sentence / unanswerable relevance data, on small samples written here.

Each test writes a few rows in the source's own format, reads them back and checks the sentences,
the relevant flags, the label completeness, the unanswerable passages and the error messages; the
last tests read the real files in ../shared/data/raw when they are there.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from text_pruner_rag.data.records import DataFormatError, ReadStats
from text_pruner_rag.data.preparation import SourceConfig, prepare
from text_pruner_rag.data.readers import (
    READERS,
    read_cast_answerability,
    read_fever_eraser,
    read_multirc_eraser,
    read_selqa,
    read_squad2,
    read_wikiqa,
)

RAW = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "raw"


def relevant_sentences(passage) -> list[str]:
    return [s.strip() for s, r in zip(passage.sentences, passage.relevance) if r]


# ------------------------------------------------------------------------------------------------ CAsT


def write_cast(folder: Path) -> Path:
    snippets = folder / "CAsT-snippets"
    unanswerable = folder / "CAsT-unanswerable"
    snippets.mkdir(parents=True)
    unanswerable.mkdir(parents=True)
    header = ["Input.turn_id", "Input.query", "Input.passage_id", "Input.passage", "Input.relevance_score",
              "answerable_sentences", "unanswerable_sentences", "partition", "no_answer_annotations", "answerability"]
    text = "Teeth chip when you fall. They also chip on hard food. See a dentist. Falling again hurts."
    rows = [
        ["1_1", "Why do teeth chip?", "M_1", text, "4",
         "{'Teeth chip when you fall.', 'They also chip on hard food.'}", "{'See a dentist.', 'Falling again hurts.'}",
         "train", "0", "1"],
        ["1_1", "Why do teeth chip?", "M_2", "Nothing about teeth here. Only weather.", "2",
         "set()", "{'Nothing about teeth here.', 'Only weather.'}", "train", "3", "0"],
        ["2_1", "What is a dev question?", "M_3", "A dev passage. It answers.", "3",
         "{'It answers.'}", "{'A dev passage.'}", "validation", "0", "1"],
    ]
    with open(snippets / "snippets_data_sentence-answerability.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    with open(unanswerable / "unanswerable.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["Unnamed: 0", "turn_id", "Q0", "passage_id", "relevance_score", "passage", "query", "partition"])
        writer.writerow(["5", "1_1", "0", "M_9", "0", "Garage doors open. They close too.", "Why do teeth chip?", "train"])
        writer.writerow(["6", "2_1", "0", "M_8", "0", "Unrelated dev text.", "What is a dev question?", "validation"])
    return folder


def test_cast_multi_sentence_and_unanswerable(tmp_path):
    folder = write_cast(tmp_path / "cast")
    records = list(read_cast_answerability(folder))
    assert [r.id for r in records] == ["1_1"]  # train partition only by default
    record = records[0]
    assert [p.label for p in record.passages] == [1, 0, 0]
    positive = record.passages[0]
    assert positive.is_tiling and positive.complete
    assert relevant_sentences(positive) == ["Teeth chip when you fall.", "They also chip on hard food."]
    assert positive.relevance == [1, 1, 0, 0]
    for negative in record.passages[1:]:
        assert negative.complete and not any(negative.relevance)
    assert record.meta["passage_ids"] == ["M_1", "M_2", "M_9"]
    dev = list(read_cast_answerability(folder, partitions=["validation", "test"]))
    assert [r.id for r in dev] == ["2_1"] and dev[0].passages[0].relevance == [0, 1]
    assert len(list(read_cast_answerability(folder, unanswerable=False))[0].passages) == 2
    with pytest.raises(ValueError, match="partition"):
        list(read_cast_answerability(folder, partitions=["dev"]))


def test_cast_sentence_not_in_passage_is_an_error(tmp_path):
    folder = write_cast(tmp_path / "cast")
    file = folder / "CAsT-snippets" / "snippets_data_sentence-answerability.csv"
    file.write_text(file.read_text(encoding="utf-8").replace("{'See a dentist.',", "{'See a doctor.',"),
                    encoding="utf-8")
    with pytest.raises(DataFormatError, match="not found in its passage"):
        list(read_cast_answerability(folder))
    stats = ReadStats()
    assert list(read_cast_answerability(folder, on_error="skip", stats=stats)) == []
    assert stats.skipped == 1


# ------------------------------------------------------------------------------------------------ ERASER


def write_eraser(folder: Path, rows: list[dict], docs: dict[str, list[str]]) -> Path:
    (folder / "docs").mkdir(parents=True)
    for name, lines in docs.items():
        (folder / "docs" / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    path = folder / "val.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def evidence(docid: str, start: int, end: int) -> dict:
    return {"docid": docid, "start_sentence": start, "end_sentence": end, "text": "..."}


def test_fever_evidence_sentences(tmp_path):
    lines = [f"Sentence {i} of the intro ." for i in range(20)]
    rows = [
        {"annotation_id": "1", "query": "Claim one.", "classification": "SUPPORTS",
         "evidences": [[evidence("Doc_A", 12, 13)], [evidence("Doc_A", 14, 16)]]},
        {"annotation_id": "2", "query": "Claim two.", "classification": "REFUTES",
         "evidences": [[evidence("Missing_Doc", 0, 1)]]},
    ]
    path = write_eraser(tmp_path / "fever", rows, {"Doc_A": lines})
    stats = ReadStats()
    records = list(read_fever_eraser(path, stats=stats))
    assert stats.dropped == {"missing_document": 1}
    (record,) = records
    passage = record.passages[0]
    assert passage.title == "Doc A" and passage.complete and passage.is_tiling
    assert len(passage.spans) == 8  # max_sentences block around the evidence, two sentences before it
    assert passage.sentences[0].strip() == "Sentence 10 of the intro ."
    assert relevant_sentences(passage) == [f"Sentence {i} of the intro ." for i in (12, 14, 15)]
    whole = list(read_fever_eraser(path, max_sentences=None))[0].passages[0]
    assert len(whole.spans) == 20 and whole.relevance[12] == 1


def test_multirc_groups_candidate_answers_by_question(tmp_path):
    lines = ["Allan sat at his desk .", "He took out paper .", "The lamp glowed .", "Then he wrote ."]
    rows = [
        {"annotation_id": "d:0:0", "query": "What did Allan take out? || Paper", "classification": "True",
         "evidences": [[evidence("d.txt", 0, 1), evidence("d.txt", 1, 2)]]},
        {"annotation_id": "d:0:1", "query": "What did Allan take out? || A pen", "classification": "False",
         "evidences": [[evidence("d.txt", 1, 2), evidence("d.txt", 3, 4)]]},
        {"annotation_id": "d:1:0", "query": "What glowed? || The lamp", "classification": "True",
         "evidences": [[evidence("d.txt", 2, 3), evidence("d.txt", 3, 4)]]},
    ]
    path = write_eraser(tmp_path / "multirc", rows, {"d.txt": lines})
    records = list(read_multirc_eraser(path))
    assert [r.query for r in records] == ["What did Allan take out?", "What glowed?"]
    assert records[0].passages[0].relevance == [1, 1, 0, 1]
    assert records[0].meta["n_rows"] == 2
    assert records[1].passages[0].relevance == [0, 0, 1, 1]


def test_eraser_evidence_outside_document_is_an_error(tmp_path):
    rows = [{"annotation_id": "1", "query": "Claim.", "evidences": [[evidence("Doc", 5, 6)]]}]
    path = write_eraser(tmp_path / "fever", rows, {"Doc": ["Only one sentence ."]})
    with pytest.raises(DataFormatError, match="outside Doc"):
        list(read_fever_eraser(path))


# ------------------------------------------------------------------------------------------------ WikiQA


def test_wikiqa_tsv_and_tokenised_train(tmp_path):
    tsv = tmp_path / "WikiQA-dev.tsv"
    tsv.write_text(
        "QuestionID\tQuestion\tDocumentID\tDocumentTitle\tSentenceID\tSentence\tLabel\n"
        "Q1\tHow are caves formed?\tD1\tCave\tD1-0\tA cave is a hole.\t0\n"
        "Q1\tHow are caves formed?\tD1\tCave\tD1-1\tCaves form by erosion.\t1\n"
        "Q2\tWho is X?\tD2\tX\tD2-0\tX is a letter.\t0\n", encoding="utf-8")
    records = list(read_wikiqa(tsv))
    assert [r.id for r in records] == ["Q1", "Q2"]
    assert records[0].passages[0].relevance == [0, 1] and records[0].passages[0].label == 1
    assert records[0].passages[0].text == "A cave is a hole. Caves form by erosion."
    unanswerable = records[1].passages[0]
    assert unanswerable.label == 0 and unanswerable.relevance == [0] and unanswerable.complete
    stats = ReadStats()
    assert [r.id for r in read_wikiqa(tsv, unanswerable=False, stats=stats)] == ["Q1"]
    assert stats.dropped == {"no_correct_sentence": 1}

    train = tmp_path / "WikiQA-train.txt"
    train.write_text("how are caves formed ?\tA cave .\t0\nhow are caves formed ?\tBy erosion .\t1\n"
                     "who is x ?\tX is a letter .\t0\n", encoding="utf-8")
    records = list(read_wikiqa(train))
    assert [(r.id, r.passages[0].relevance) for r in records] == [("q0", [0, 1]), ("q1", [0])]
    train.write_text("question only\t0\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="WikiQA-train.txt:1"):
        list(read_wikiqa(train))


# ------------------------------------------------------------------------------------------------ SQuAD 2.0


def test_squad2_unanswerable_paragraph_is_an_all_zero_passage(tmp_path):
    context = "Normandy is a region in France. The Normans gave it their name. It has many cows."
    other = "Paris is the capital. It is large."
    document = {"data": [{"title": "Normandy", "paragraphs": [
        {"context": context, "qas": [
            {"id": "a", "question": "Who gave Normandy its name?", "is_impossible": False,
             "answers": [{"text": "The Normans", "answer_start": context.index("The Normans")}]},
            {"id": "b", "question": "Who gave France its name?", "is_impossible": True, "answers": [],
             "plausible_answers": [{"text": "The Normans", "answer_start": 32}]},
        ]},
        {"context": other, "qas": []},
    ]}]}
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    answerable, impossible = list(read_squad2(path))
    positive = answerable.passages[0]
    assert positive.label == 1 and positive.relevance == [0, 1, 0] and not positive.complete
    assert answerable.passages[1].text == other and answerable.passages[1].complete
    assert impossible.meta["is_impossible"] and impossible.answers == []
    assert [p.label for p in impossible.passages] == [0, 0]
    assert impossible.passages[0].text == context and impossible.passages[0].complete
    assert not any(impossible.passages[0].relevance)
    assert [r.id for r in read_squad2(path, unanswerable=False)] == ["a"]


# ------------------------------------------------------------------------------------------------ SelQA


def test_selqa_answer_indices(tmp_path):
    items = [
        {"question": "Where is the museum?", "article": "Israel", "section": "Museums", "topic": "COUNTRY",
         "candidates": ["Museums are many.", "The museum is in Jerusalem.", "It opened in 1965."], "answers": [1, 2]},
        {"question": "Nothing?", "article": "A", "section": "B", "candidates": ["One sentence."], "answers": []},
    ]
    path = tmp_path / "selqa-ass-dev.json"
    path.write_text(json.dumps(items), encoding="utf-8")
    first, second = list(read_selqa(path))
    assert first.passages[0].relevance == [0, 1, 1] and first.passages[0].title == "Israel: Museums"
    assert second.passages[0].label == 0 and second.passages[0].relevance == [0]
    items[0]["answers"] = [7]
    path.write_text(json.dumps(items), encoding="utf-8")
    with pytest.raises(DataFormatError, match="out of range"):
        list(read_selqa(path))


# ------------------------------------------------------------------------------------------------ prepare


def test_prepare_writes_license_notes_and_completeness(tmp_path):
    folder = write_cast(tmp_path / "cast")
    out = tmp_path / "prepared" / "train.jsonl"
    prepare([SourceConfig(format="cast_answerability", path=str(folder))], out)
    meta = json.loads(Path(f"{out}.meta.json").read_text(encoding="utf-8"))
    assert "RESEARCH DATA" in meta["licenses"]["cast_answerability"]
    assert set(READERS) >= {"cast_answerability", "fever_eraser", "multirc_eraser", "wikiqa", "squad2", "selqa"}
    qed_like = tmp_path / "squad.json"
    qed_like.write_text(json.dumps({"data": [{"title": "T", "paragraphs": [{"context": "A b. C d.", "qas": [
        {"id": "q", "question": "What?", "answers": [{"text": "C d", "answer_start": 5}]}]}]}]}), encoding="utf-8")
    prepare([{"format": "squad2", "path": str(qed_like)}], tmp_path / "s.jsonl")
    row = json.loads((tmp_path / "s.jsonl").read_text(encoding="utf-8"))
    assert row["passages"][0]["complete"] is False  # only the answer sentence is known


# ------------------------------------------------------------------------------------------------ real files


@pytest.fixture(scope="module")
def raw() -> Path:
    if not (RAW / "cast_answerability").is_dir():
        pytest.skip(f"shared raw data not found at {RAW}")
    return RAW


def test_real_files_read(raw):
    dev = list(read_cast_answerability(raw / "cast_answerability", partitions=["validation", "test"]))
    passages = [p for r in dev for p in r.passages]
    assert sum(p.label for p in passages) == 357 and sum(1 - p.label for p in passages) == 393
    train_ids = {r.id for r in read_cast_answerability(raw / "cast_answerability")}
    assert not train_ids & {r.id for r in dev}
    assert len(list(read_fever_eraser(raw / "fever_eraser" / "val.jsonl", limit=20))) == 20
    assert len(list(read_multirc_eraser(raw / "multirc_eraser" / "val.jsonl", limit=20))) == 20
    wikiqa = list(read_wikiqa(raw / "wikiqa" / "WikiQA-dev.tsv"))
    assert len(wikiqa) == 296 and sum(r.meta["answerable"] for r in wikiqa) == 126
    squad2 = list(read_squad2(raw / "squad2_dev_half" / "dev-v2.0-half.json", limit=200))
    assert any(r.meta["is_impossible"] for r in squad2) and any(not r.meta["is_impossible"] for r in squad2)
    assert len(list(read_selqa(raw / "selqa" / "ass" / "selqa-ass-dev.json", limit=20))) == 20
