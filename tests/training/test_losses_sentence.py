"""Sentence-level training signals: the within-window sentence ranking loss and the sentence pruning unit."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

from text_pruner_rag.encoding import WindowEncoder
from text_pruner_rag.records import Passage, Record
from text_pruner_rag.training.config import LossSettings
from text_pruner_rag.training.features import GroupCollator, GroupDataset, encode_passage
from text_pruner_rag.training.losses import PrunerLoss, sentence_means, sentence_ranking_loss, sentence_unit_loss

# One window of 10 tokens: 2 query/special tokens, sentence 0 (relevant, 3 tokens), sentence 1
# (irrelevant, 3 tokens), sentence 2 (unknown, 1 token), a separator.
SENTENCE_IDS = [-1, -1, 0, 0, 0, 1, 1, 1, 2, -1]
CODES = [-100, -100, 1, 1, 1, 0, 0, 0, 2, -100]


def window_batch(codes=CODES, sentence_ids=SENTENCE_IDS, weights=None) -> dict[str, torch.Tensor]:
    targets = [1.0 if c == 1 else 0.0 for c in codes]
    weights = weights or [0.0 if c in (-100, 2) else 1.0 for c in codes]
    return {"sentence_ids": torch.tensor([sentence_ids]), "sentence_codes": torch.tensor([codes]),
            "pruning_targets": torch.tensor([targets]), "pruning_weights": torch.tensor([weights]),
            "pruning_labels": torch.tensor([[c if c in (0, 1) else -100 for c in codes]]),
            "binary_labels": torch.tensor([1.0]), "teacher_scores": torch.tensor([0.0]),
            "teacher_mask": torch.tensor([0.0])}


def logits_for(probabilities: list[float]) -> torch.Tensor:
    """`(1, seq_len, 2)` pruning logits whose keep probabilities are ``probabilities``."""
    p = torch.tensor([probabilities])
    return torch.stack([torch.zeros_like(p), torch.log(p) - torch.log1p(-p)], dim=-1).requires_grad_()


def keep(logits: torch.Tensor) -> torch.Tensor:
    return torch.softmax(logits, dim=-1)[..., 1]


WELL_ORDERED = [0.5, 0.5, 0.9, 0.8, 0.9, 0.1, 0.2, 0.1, 0.1, 0.5]
BADLY_ORDERED = [0.5, 0.5, 0.2, 0.1, 0.2, 0.8, 0.9, 0.8, 0.9, 0.5]


def test_sentence_means_average_each_sentence_and_mark_absent_ones():
    values = torch.tensor([[9.0, 1.0, 2.0, 3.0, -1.0]])
    ids = torch.tensor([[-1, 0, 0, 2, 2]])
    means, present = sentence_means(values, ids)
    assert means.tolist() == [[1.5, 0.0, 1.0]]
    assert present.tolist() == [[True, False, True]]


@pytest.mark.parametrize("unknown", ["below", "exclude"])
def test_a_well_ordered_window_has_the_lower_ranking_loss(unknown):
    batch = window_batch()
    good = sentence_ranking_loss(keep(logits_for(WELL_ORDERED)), batch, unknown=unknown)
    bad = sentence_ranking_loss(keep(logits_for(BADLY_ORDERED)), batch, unknown=unknown)
    assert good.item() < bad.item()


def test_ranking_loss_value_is_ranknet_on_sentence_means():
    probabilities = keep(logits_for(WELL_ORDERED))
    loss = sentence_ranking_loss(probabilities, window_batch(), unknown="below", temperature=0.5)
    relevant, irrelevant, unknown = (0.9 + 0.8 + 0.9) / 3, (0.1 + 0.2 + 0.1) / 3, 0.1
    expected = (math.log1p(math.exp(-(relevant - irrelevant) / 0.5))
                + math.log1p(math.exp(-(relevant - unknown) / 0.5))) / 2
    assert float(loss) == pytest.approx(expected, rel=1e-5)


def test_unknown_sentences_below_or_excluded():
    # Only a relevant and an unknown sentence: "exclude" leaves no pair, "below" ranks them.
    codes = [-100, -100, 1, 1, 1, 2, 2, 2, 2, -100]
    batch = window_batch(codes=codes)
    probabilities = keep(logits_for(BADLY_ORDERED))
    assert float(sentence_ranking_loss(probabilities, batch, unknown="exclude")) == 0.0
    assert float(sentence_ranking_loss(probabilities, batch, unknown="below")) > 0.5
    # The unknown sentence's score moves the loss only under "below".
    higher_unknown = list(BADLY_ORDERED)
    higher_unknown[8] = 0.99
    base = window_batch()
    for unknown, changes in (("below", True), ("exclude", False)):
        a = sentence_ranking_loss(keep(logits_for(BADLY_ORDERED)), base, unknown=unknown)
        b = sentence_ranking_loss(keep(logits_for(higher_unknown)), base, unknown=unknown)
        assert (float(a) != pytest.approx(float(b))) is changes


@pytest.mark.parametrize("unknown, unknown_has_gradient", [("below", True), ("exclude", False)])
def test_ranking_gradients_only_on_labelled_sentence_tokens(unknown, unknown_has_gradient):
    logits = logits_for(BADLY_ORDERED)
    sentence_ranking_loss(keep(logits), window_batch(), unknown=unknown).backward()
    moved = (logits.grad.abs().sum(dim=-1) > 0)[0].tolist()
    assert moved == [False, False, True, True, True, True, True, True, unknown_has_gradient, False]


def test_ranking_loss_without_pairs_is_zero_and_attached():
    codes = [-100, -100, 0, 0, 0, 0, 0, 0, 0, -100]  # a negative passage: nothing to rank above
    logits = logits_for(WELL_ORDERED)
    loss = sentence_ranking_loss(keep(logits), window_batch(codes=codes))
    assert float(loss) == 0.0 and loss.requires_grad


def test_sentence_unit_loss_targets_the_mean_and_skips_unweighted_sentences():
    batch = window_batch()
    good = sentence_unit_loss(keep(logits_for(WELL_ORDERED)), batch)
    bad = sentence_unit_loss(keep(logits_for(BADLY_ORDERED)), batch)
    assert float(good) < float(bad)
    # Only the mean counts: spreading the same mean differently over the tokens gives the same loss.
    spread = list(WELL_ORDERED)
    spread[2:5] = [0.95, 0.7, 0.95]
    assert float(sentence_unit_loss(keep(logits_for(spread)), batch)) == pytest.approx(float(good), rel=1e-5)
    relevant, irrelevant = (0.9 + 0.8 + 0.9) / 3, (0.1 + 0.2 + 0.1) / 3
    assert float(good) == pytest.approx((-math.log(relevant) - math.log(1 - irrelevant)) / 2, rel=1e-5)
    logits = logits_for(WELL_ORDERED)
    sentence_unit_loss(keep(logits), batch).backward()
    moved = (logits.grad.abs().sum(dim=-1) > 0)[0].tolist()
    assert moved == [False, False, True, True, True, True, True, True, False, False]


def test_pruner_loss_switches():
    batch = window_batch()
    ranking_logits = torch.zeros(1, 1)
    logits = logits_for(BADLY_ORDERED)
    token_total, token_parts = PrunerLoss()(ranking_logits, logits, batch)
    assert "sentence_ranking_loss" not in token_parts
    _, sentence_parts = PrunerLoss(pruning_unit="sentence")(ranking_logits, logits, batch)
    assert float(sentence_parts["pruning_loss"]) == pytest.approx(float(sentence_unit_loss(keep(logits), batch)))
    assert float(sentence_parts["pruning_loss"]) != pytest.approx(float(token_parts["pruning_loss"]))
    total, parts = PrunerLoss(sentence_ranking_weight=2.0)(ranking_logits, logits, batch)
    assert float(total) == pytest.approx(float(token_total) + 2.0 * float(parts["sentence_ranking_loss"]))
    without = {k: v for k, v in batch.items() if not k.startswith("sentence_")}
    with pytest.raises(ValueError, match="needs `sentence_ids` and `sentence_codes`"):
        PrunerLoss(sentence_ranking_weight=1.0)(ranking_logits, logits, without)


@pytest.mark.parametrize("kwargs, message", [
    ({"pruning_unit": "word"}, "pruning_unit must be one of"),
    ({"sentence_ranking_unknown": "above"}, "sentence_ranking_unknown must be one of"),
    ({"sentence_ranking_weight": -1.0}, "sentence_ranking_weight must be >= 0"),
    ({"sentence_ranking_temperature": 0.0}, "sentence_ranking_temperature must be > 0"),
])
def test_pruner_loss_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PrunerLoss(**kwargs)


@pytest.mark.parametrize("raw, message", [
    ({"pruning_unit": "word"}, "pruning_unit"),
    ({"sentence_ranking_unknown": "above", "sentence_ranking_weight": 1}, "sentence_ranking_unknown"),
    ({"sentence_ranking_temperature": 0, "sentence_ranking_weight": 1}, "greater than 0"),
    ({"sentence_ranking_unknown": "exclude"}, "has no effect while sentence_ranking_weight is 0"),
    ({"ranking_weight": 0, "pruning_weight": 0}, "nothing would be trained"),
])
def test_loss_config_validation_errors(raw, message):
    with pytest.raises(ValidationError, match=message):
        LossSettings.model_validate(raw)


def test_loss_config_accepts_the_switches():
    settings = LossSettings.model_validate({"pruning_unit": "sentence", "sentence_ranking_weight": 0.5,
                                            "sentence_ranking_unknown": "exclude"})
    assert (settings.pruning_unit, settings.sentence_ranking_weight) == ("sentence", 0.5)


def test_features_carry_sentence_ids_and_codes(bert_tokenizer):
    text = "Paris is the capital of France. It has many museums. The river is the Seine."
    spans = [(0, 32), (32, 53), (53, len(text))]
    passage = Passage(text=text, spans=spans, relevance=[1, 0, 0], label=1, complete=False)
    encoder = WindowEncoder(bert_tokenizer, 64)
    features = encode_passage(encoder, encoder.template("capital of France"), passage, unknown="ignore")
    codes, ids = features["codes"], features["sentence_ids"]
    assert len(codes) == len(ids) == len(features["input_ids"])
    by_sentence = {sid: {c for c, s in zip(codes, ids) if s == sid} for sid in set(ids)}
    assert by_sentence == {-1: {-100}, 0: {1}, 1: {2}, 2: {2}}
    record = Record(id="q", query="capital of France", language="en", source="test", answers=["Paris"],
                    passages=[passage])
    batch = GroupCollator(bert_tokenizer.pad_token_id)([GroupDataset([record], encoder, 1)[0]] * 2)
    assert batch["sentence_ids"].shape == batch["input_ids"].shape == batch["sentence_codes"].shape
    assert bool((batch["sentence_ids"][batch["attention_mask"] == 0] == -1).all())
    loss = PrunerLoss(pruning_unit="sentence", sentence_ranking_weight=1.0)
    logits = torch.randn(*batch["input_ids"].shape, 2)
    total, parts = loss(torch.zeros(2, 1), logits, batch)
    assert torch.isfinite(total) and float(parts["sentence_ranking_loss"]) > 0
