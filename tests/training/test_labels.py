"""Token labels from sentence labels (text_pruner_rag.training.features): offsets, gaps, windows.

The checks are independent of the implementation: they re-tokenise the passage and compare every
token's character offsets with the sentence spans, and compare the window with the tokenizer's own
pair encoding (the template inference uses) and with the window TextPruner builds at inference.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import torch

from text_pruner_rag.chunking import split_sentences
from text_pruner_rag.encoding import WindowEncoder
from text_pruner_rag.data.records import Passage
from text_pruner_rag.training.features import IGNORE_INDEX, GroupCollator, encode_passage
from text_pruner_rag.training.losses import PrunerLoss
from text_pruner_rag.data.readers import read_qed, read_squad

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
    # the window is the tokenizer's own pair encoding (the inference template), cut after whole sentences
    n_context = len(ids) - n_prefix - n_suffix
    pair = tokenizer(query, passage.text, truncation="only_second", max_length=n_context + n_prefix + n_suffix)
    assert ids == pair["input_ids"]
    sequence_ids = pair.sequence_ids()
    assert all(label == IGNORE_INDEX for label, s in zip(labels, sequence_ids) if s != 1)
    # every context token against the spans, by its character offsets
    offsets = context_offsets(tokenizer, passage.text)[:n_context]
    counts = {"relevant": 0, "irrelevant": 0, "ignored": 0, "unknown": 0}
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
        elif holder and not passage.complete:
            assert label == IGNORE_INDEX and passage.relevance[holder[0]] == 0, "unknown = 0 of an incomplete passage"
            counts["unknown"] += 1
            continue
        else:
            assert label == IGNORE_INDEX and not holder, "only tokens outside every span are ignored"
            counts["ignored"] += 1
        if holder and end > start:
            expected = passage.relevance[holder[0]]
            assert label == expected
    return counts


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


def test_first_window_holds_whole_sentences(bert_tokenizer):
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
    encoder, template, short = encode(bert_tokenizer, query, passage, max_length=48)
    capacity = encoder.capacity(template)
    n_prefix = len(template.prefix_ids)
    n_context = len(short["input_ids"]) - n_prefix - len(template.suffix_ids)
    assert 0 < n_context <= capacity and short["input_ids"][-len(template.suffix_ids):] == template.suffix_ids
    per_sentence = [len(bert_tokenizer(s.strip(), add_special_tokens=False)["input_ids"]) for s in sentences]
    whole = max(k for k in range(len(per_sentence) + 1) if sum(per_sentence[:k]) <= capacity)
    assert n_context == sum(per_sentence[:whole])  # whole sentences only, no sentence cut at the capacity
    _, _, full = encode(bert_tokenizer, query, passage, max_length=512)
    assert short["labels"][:n_prefix + n_context] == full["labels"][:n_prefix + n_context]
    assert short["input_ids"][:n_prefix + n_context] == full["input_ids"][:n_prefix + n_context]
    check_alignment(bert_tokenizer, query, passage, max_length=48)


def test_training_window_is_the_inference_window(tiny_model_dir):
    """What the model learns on is exactly what TextPruner asks it at inference, for the same input."""
    from text_pruner_rag import TextPruner

    pruner = TextPruner.from_pretrained(str(tiny_model_dir), device="cpu")
    query = "When was the tower completed?"
    text = " ".join(f"Paragraph sentence {i} mentions the tower and the year {1800 + i} in passing." for i in range(30))
    sentences = split_sentences(text, "en")
    relevance = [int(i in (2, 3)) for i in range(len(sentences))]
    passage = Passage(text, [(s.start, s.end) for s in sentences], relevance, 1)
    template = pruner.encoder.template(query)
    encoded = pruner.encoder.encode_contexts([text], [sentences])
    inference = pruner.encoder.windows(template, 0, text, sentences, encoded[0], "en")
    assert len(inference) >= 2  # the passage needs several windows at max_length=128
    features = encode_passage(WindowEncoder(pruner.tokenizer, pruner.model.config.max_length),
                              template, passage, "en")
    assert features["input_ids"] == inference[0].input_ids
    assert features["token_type_ids"] == inference[0].token_type_ids
    expected = [IGNORE_INDEX if s < 0 else relevance[s] for s in inference[0].sentence_ids]
    assert features["labels"] == expected


def test_unknown_sentence_treatments(bert_tokenizer):
    text = "Paris is the capital of France. It is on the Seine. Lyon is another city."
    spans = tiling_spans(text, ["France.", "Seine.", "city."])
    incomplete = Passage(text, spans, [1, 0, 0], 1, complete=False)
    complete = Passage(text, spans, [1, 0, 0], 1)
    encoder = WindowEncoder(bert_tokenizer, 64)
    template = encoder.template("What is the capital of France?")
    n_prefix = len(template.prefix_ids)
    first = len(bert_tokenizer("Paris is the capital of France.", add_special_tokens=False)["input_ids"])
    body = slice(n_prefix, -len(template.suffix_ids))

    known = encode_passage(encoder, template, complete, unknown="ignore")
    assert set(known["labels"][body]) == {0, 1} and set(known["weights"][body]) == {1.0}
    ignored = encode_passage(encoder, template, incomplete, unknown="ignore")
    assert ignored["labels"][body][:first] == [1] * first
    assert ignored["labels"][body][first:] == [IGNORE_INDEX] * (len(ignored["labels"][body]) - first)
    assert ignored["weights"][body][first:] == [0.0] * (len(ignored["weights"][body]) - first)
    soft = encode_passage(encoder, template, incomplete, unknown="soft", unknown_target=0.25)
    assert soft["targets"][body][first:] == [0.25] * (len(soft["targets"][body]) - first)
    assert soft["weights"][body][first:] == [1.0] * (len(soft["weights"][body]) - first)
    down = encode_passage(encoder, template, incomplete, unknown="downweight", unknown_weight=0.2)
    assert down["targets"][body][first:] == [0.0] * (len(down["targets"][body]) - first)
    assert down["weights"][body][first:] == [0.2] * (len(down["weights"][body]) - first)
    assert down["input_ids"] == soft["input_ids"] == ignored["input_ids"] == known["input_ids"]
    # query and special tokens never carry weight
    assert all(w == 0.0 for w in down["weights"][:n_prefix])
    with pytest.raises(ValueError):
        encode_passage(encoder, template, incomplete, unknown="zero")


def test_weighted_soft_loss_matches_plain_cross_entropy():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 2)
    labels = torch.tensor([[IGNORE_INDEX, 1, 0, 1, IGNORE_INDEX], [IGNORE_INDEX, 0, 0, IGNORE_INDEX, IGNORE_INDEX]])
    valid = labels != IGNORE_INDEX
    hard = PrunerLoss._pruning(logits, {"pruning_labels": labels})
    soft = PrunerLoss._pruning(logits, {"pruning_labels": labels, "pruning_targets": labels.clamp(min=0).float(),
                                        "pruning_weights": valid.float()})
    assert torch.allclose(hard, soft, atol=1e-6)
    # a soft target of 0.5 is minimised by equal logits; weight 0 removes a token from the loss
    flat = torch.zeros(1, 2, 2, requires_grad=True)
    loss = PrunerLoss._pruning(flat, {"pruning_targets": torch.tensor([[0.5, 1.0]]),
                                      "pruning_weights": torch.tensor([[1.0, 0.0]])})
    loss.backward()
    assert torch.allclose(flat.grad[0, 0], torch.zeros(2), atol=1e-7)
    assert torch.allclose(flat.grad[0, 1], torch.zeros(2))
    heavier = PrunerLoss._pruning(logits, {"pruning_targets": torch.zeros(2, 5), "pruning_weights": valid.float() * 3})
    assert torch.allclose(heavier, PrunerLoss._pruning(logits, {"pruning_targets": torch.zeros(2, 5),
                                                                "pruning_weights": valid.float()}))


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
    assert batch["pruning_weights"].shape == batch["pruning_targets"].shape == batch["input_ids"].shape
    assert (batch["pruning_labels"][0, n_short:] == IGNORE_INDEX).all()
    assert (batch["pruning_weights"][0, n_short:] == 0).all()
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
