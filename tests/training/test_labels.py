"""Token labels from sentence labels (text_pruner_rag.training.features): offsets, gaps, truncation.

The checks are independent of the implementation: they re-tokenise the passage and compare every
token's character offsets with the sentence spans, and compare the window with the tokenizer's own
pair encoding (the template inference uses).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from text_pruner_rag.encoding import WindowEncoder
from text_pruner_rag.records import Passage
from text_pruner_rag.training.features import IGNORE_INDEX, GroupCollator, encode_passage, token_labels
from text_pruner_rag.training.readers import read_qed, read_squad

RAW = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "raw"


def tiling_spans(text: str, ends: list[str]) -> list[tuple[int, int]]:
    """Spans that tile ``text``, each ending right after one of the given sentence-final strings."""
    spans, start = [], 0
    for marker in ends:
        end = text.index(marker, start) + len(marker)
        while end < len(text) and text[end] == " ":
            end += 1
        spans.append((start, end))
        start = end
    assert start == len(text)
    return spans


def encode(tokenizer, query: str, passage: Passage, max_length: int = 256):
    encoder = WindowEncoder(tokenizer, max_length)
    template = encoder.template(query)
    features = encode_passage(encoder, template, passage)
    return encoder, template, features


def context_offsets(tokenizer, text: str) -> list[tuple[int, int]]:
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, truncation=False)
    return [tuple(o) for o in enc["offset_mapping"]]


def check_alignment(tokenizer, query: str, passage: Passage, max_length: int = 256) -> dict:
    """The label contract of one (query, passage) window; returns counts for extra assertions."""
    encoder, template, features = encode(tokenizer, query, passage, max_length)
    ids, labels = features["input_ids"], features["labels"]
    assert len(ids) == len(labels) <= max_length
    n_prefix, n_suffix = len(template.prefix_ids), len(template.suffix_ids)
    # query, [CLS] and [SEP] tokens are ignored
    assert labels[:n_prefix] == [IGNORE_INDEX] * n_prefix
    assert labels[len(labels) - n_suffix:] == [IGNORE_INDEX] * n_suffix
    # the window is the tokenizer's own pair encoding (the inference template)
    pair = tokenizer(query, passage.text, truncation="only_second", max_length=max_length)
    assert ids == pair["input_ids"]
    sequence_ids = pair.sequence_ids()
    assert all(label == IGNORE_INDEX for label, s in zip(labels, sequence_ids) if s != 1)
    # every context token against the spans, by its character offsets
    offsets = context_offsets(tokenizer, passage.text)[: len(ids) - n_prefix - n_suffix]
    counts = {"relevant": 0, "irrelevant": 0, "ignored": 0}
    for (start, end), label in zip(offsets, labels[n_prefix:len(labels) - n_suffix]):
        holder = [i for i, (s, e) in enumerate(passage.spans) if s <= start < e]
        if label == 1:
            assert holder and passage.relevance[holder[0]] == 1
            s, e = passage.spans[holder[0]]
            assert s <= start and end <= e, "a token labelled 1 must lie inside a relevant span"
            counts["relevant"] += 1
        elif label == 0:
            assert holder and passage.relevance[holder[0]] == 0
            counts["irrelevant"] += 1
        else:
            assert label == IGNORE_INDEX and not holder, "only tokens outside every span are ignored"
            counts["ignored"] += 1
        if holder and end > start:
            expected = passage.relevance[holder[0]]
            assert label == expected
    return counts


def test_token_labels_by_first_character():
    offsets = [(0, 3), (4, 8), (8, 9), (10, 12), (12, 12), (20, 22)]
    spans = [(0, 10), (10, 15)]
    assert token_labels(offsets, spans, [1, 0]) == [1, 1, 1, 0, IGNORE_INDEX, IGNORE_INDEX]
    assert token_labels(offsets, spans, [0, 1]) == [0, 0, 0, 1, IGNORE_INDEX, IGNORE_INDEX]


def test_english_alignment(bert_tokenizer):
    text = ("The Eiffel Tower is in Paris. It was completed in 1889 for the World's Fair. "
            "Bananas are rich in potassium.")
    spans = tiling_spans(text, ["Paris.", "Fair.", "potassium."])
    passage = Passage(text=text, spans=spans, relevance=[0, 1, 0], label=1)
    counts = check_alignment(bert_tokenizer, "When was the Eiffel Tower completed?", passage)
    assert counts["relevant"] > 5 and counts["irrelevant"] > 5 and counts["ignored"] == 0


def test_japanese_alignment(bert_tokenizer):
    text = "東京は日本の首都です。大阪は西日本の中心都市です。富士山は日本で一番高い山です。"
    spans = tiling_spans(text, ["です。", "です。", "です。"])
    passage = Passage(text=text, spans=spans, relevance=[0, 0, 1], label=1)
    counts = check_alignment(bert_tokenizer, "日本で一番高い山は？", passage)
    assert counts["relevant"] >= 5 and counts["irrelevant"] >= 10 and counts["ignored"] == 0


def test_gaps_between_spans_are_ignored(bert_tokenizer):
    # OpenProvence spans locate stripped sentences in the text and may leave gaps (a header here)
    text = "Table of contents\n\nParis is the capital of France. Lyon is a large city too."
    first = text.index("Paris")
    middle = text.index("Lyon")
    spans = [(first, middle - 1), (middle, len(text))]
    passage = Passage(text=text, spans=spans, relevance=[1, 0], label=1)
    assert not passage.is_tiling
    counts = check_alignment(bert_tokenizer, "What is the capital of France?", passage)
    assert counts["ignored"] >= 3  # "table", "of", "contents"
    _, template, features = encode(bert_tokenizer, "What is the capital of France?", passage)
    n_prefix = len(template.prefix_ids)
    header_tokens = len(bert_tokenizer("Table of contents", add_special_tokens=False)["input_ids"])
    assert features["labels"][n_prefix:n_prefix + header_tokens] == [IGNORE_INDEX] * header_tokens
    assert features["labels"][n_prefix + header_tokens] == 1


def test_truncation_to_window_capacity(bert_tokenizer):
    sentences = [f"Sentence number {i} talks about topic {i} at some length. " for i in range(40)]
    text = "".join(sentences).rstrip()
    spans, start = [], 0
    for s in sentences:
        end = min(start + len(s), len(text))
        spans.append((start, end))
        start = end
    relevance = [int(i % 3 == 0) for i in range(len(spans))]
    passage = Passage(text=text, spans=spans, relevance=relevance, label=1)
    query = "Which topic?"
    encoder, template, short = encode(bert_tokenizer, query, passage, max_length=32)
    capacity = encoder.capacity(template)
    assert capacity > 0 and len(short["input_ids"]) == 32
    assert short["input_ids"][-len(template.suffix_ids):] == template.suffix_ids
    _, _, full = encode(bert_tokenizer, query, passage, max_length=512)
    n_prefix = len(template.prefix_ids)
    assert short["labels"][n_prefix:n_prefix + capacity] == full["labels"][n_prefix:n_prefix + capacity]
    assert short["input_ids"][:n_prefix + capacity] == full["input_ids"][:n_prefix + capacity]
    check_alignment(bert_tokenizer, query, passage, max_length=32)


def test_collator_pads_labels_with_ignore(bert_tokenizer):
    short = Passage(text="Short one.", spans=[(0, 10)], relevance=[1], label=1)
    long = Passage(text="A much longer passage. With two sentences in it.", spans=[(0, 23), (23, 48)],
                   relevance=[0, 1], label=0, teacher_score=0.25)
    encoder = WindowEncoder(bert_tokenizer, 64)
    template = encoder.template("a query")
    group = {"passages": [encode_passage(encoder, template, p) for p in (short, long)],
             "binary_labels": [1.0, 0.0], "teacher_scores": [None, 0.25]}
    batch = GroupCollator(bert_tokenizer.pad_token_id)([group])
    n_short = len(group["passages"][0]["input_ids"])
    assert batch["input_ids"].shape == batch["pruning_labels"].shape == (2, len(group["passages"][1]["input_ids"]))
    assert (batch["pruning_labels"][0, n_short:] == IGNORE_INDEX).all()
    assert (batch["attention_mask"][0, n_short:] == 0).all()
    assert (batch["input_ids"][0, n_short:] == bert_tokenizer.pad_token_id).all()
    assert batch["teacher_mask"].tolist() == [0.0, 1.0]
    assert batch["teacher_scores"].tolist() == [0.0, 0.25]
    assert "token_type_ids" in batch and (batch["token_type_ids"][1, len(template.prefix_ids)] == 1)


@pytest.fixture(scope="module")
def raw() -> Path:
    if not RAW.is_dir():
        pytest.skip(f"shared raw data not found at {RAW}")
    return RAW


def test_real_records_align(bert_tokenizer, raw):
    jaquad = list(read_squad(raw / "jaquad" / "dev" / "jaquad_dev_0000.json", "ja", limit=4))
    qed = list(read_qed(raw / "qed_nq" / "qed-dev.jsonlines", limit=4))
    relevant = 0
    for record in jaquad + qed:
        for passage in record.passages[:2]:
            counts = check_alignment(bert_tokenizer, record.query, passage, max_length=256)
            relevant += counts["relevant"]
    assert relevant > 0
