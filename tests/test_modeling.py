"""TextPrunerConfig validation and TextPrunerModel shapes over four tiny backbones."""

from __future__ import annotations

import pytest
import torch
from checkpoint_fixtures import bert_config, deberta_v2_config, modernbert_config, xlm_roberta_config

from text_pruner_rag.modeling import PruningHead, TextPrunerConfig, TextPrunerModel

BACKBONES = {
    "bert": bert_config,
    "xlm-roberta": xlm_roberta_config,
    "deberta-v2": deberta_v2_config,
    "modernbert": modernbert_config,
}


def _inputs(batch=2, length=11, vocab=30522):
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, vocab, (batch, length), generator=generator)
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0  # a padded row
    return ids, mask


@pytest.mark.parametrize(
    ("backbone", "ranking_head"),
    [(name, "sequence_classification") for name in sorted(BACKBONES)]
    + [("xlm-roberta", "pooler_linear"), ("bert", "pooler_linear")],  # XProvence head: backbones with a pooler
)
def test_output_shapes(bert_tokenizer, backbone, ranking_head):
    torch.manual_seed(0)
    backbone_config = BACKBONES[backbone](bert_tokenizer)
    config = TextPrunerConfig(base_model_config=backbone_config.to_dict(), ranking_head=ranking_head)
    model = TextPrunerModel(config).eval()
    assert model.backbone_config.model_type == backbone
    assert model.backbone_config.hidden_size == 32
    assert model.backbone_config.num_hidden_layers == 2
    ids, mask = _inputs(vocab=len(bert_tokenizer))
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids))
    assert out.ranking_logits.shape == (2, 1)
    assert out.pruning_logits.shape == (2, 11, 2)
    scores = model.ranking_scores(out.ranking_logits)
    probs = model.keep_probabilities(out.pruning_logits)
    assert scores.shape == (2,) and scores.dtype == torch.float32
    assert probs.shape == (2, 11) and probs.dtype == torch.float32
    assert torch.all((probs >= 0) & (probs <= 1))
    assert torch.isfinite(out.ranking_logits).all()


def test_pruning_head_layout_and_init(bert_tokenizer):
    model = TextPrunerModel(TextPrunerConfig(base_model_config=bert_config(bert_tokenizer).to_dict()))
    assert isinstance(model.pruning_head, PruningHead)
    keys = set(model.state_dict())
    assert {"pruning_head.classifier.weight", "pruning_head.classifier.bias"} <= keys
    assert all(k.startswith(("ranking_model.", "pruning_head.classifier.")) for k in keys)
    assert model.pruning_head.classifier.weight.shape == (2, 32)
    assert torch.count_nonzero(model.pruning_head.classifier.bias) == 0
    assert model.pruning_head.classifier.weight.abs().sum() > 0


def test_ranking_activation():
    config = TextPrunerConfig(base_model_config={"model_type": "bert", "hidden_size": 32, "num_hidden_layers": 1,
                                                 "num_attention_heads": 4, "intermediate_size": 37,
                                                 "vocab_size": 100})
    model = TextPrunerModel(config)
    logits = torch.tensor([[-2.0], [0.0], [3.0]])
    torch.testing.assert_close(model.ranking_scores(logits), torch.sigmoid(logits[:, 0]))
    model.config.ranking_activation = "none"
    torch.testing.assert_close(model.ranking_scores(logits), logits[:, 0])
    pruning_logits = torch.tensor([[[0.0, 0.0], [0.0, 2.0], [5.0, -5.0]]])
    torch.testing.assert_close(TextPrunerModel.keep_probabilities(pruning_logits),
                               torch.softmax(pruning_logits, -1)[..., 1])
    assert TextPrunerModel.keep_probabilities(pruning_logits)[0, 0] == pytest.approx(0.5)


def test_last_hidden_state_input_uses_final_norm_for_modernbert(bert_tokenizer):
    """The two pruning inputs differ for ModernBERT (final norm) and agree for BERT."""
    torch.manual_seed(0)
    base = modernbert_config(bert_tokenizer).to_dict()
    pre = TextPrunerModel(TextPrunerConfig(base_model_config=base)).eval()
    post = TextPrunerModel(TextPrunerConfig(base_model_config=base, pruning_head_input="last_hidden_state")).eval()
    post.load_state_dict(pre.state_dict())
    ids, mask = _inputs(vocab=len(bert_tokenizer))
    with torch.no_grad():
        hidden = pre.ranking_model.model(input_ids=ids, attention_mask=mask).last_hidden_state
        expected_post = pre.pruning_head(hidden)
        a = pre(input_ids=ids, attention_mask=mask).pruning_logits
        b = post(input_ids=ids, attention_mask=mask).pruning_logits
    torch.testing.assert_close(b, expected_post)
    assert (a - b).abs().max() > 1e-3

    bert = bert_config(bert_tokenizer).to_dict()
    torch.manual_seed(0)
    pre = TextPrunerModel(TextPrunerConfig(base_model_config=bert)).eval()
    post = TextPrunerModel(TextPrunerConfig(base_model_config=bert, pruning_head_input="last_hidden_state")).eval()
    post.load_state_dict(pre.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(pre(input_ids=ids, attention_mask=mask).pruning_logits,
                                   post(input_ids=ids, attention_mask=mask).pruning_logits)


def test_config_round_trip_and_backbone_rebuild(bert_tokenizer):
    config = TextPrunerConfig(base_model_config=xlm_roberta_config(bert_tokenizer).to_dict(), ranking_head="pooler_linear",
                              ranking_activation="none", sentence_rounding="fraction_above_threshold",
                              max_length=256, default_threshold=0.3, source_format="xprovence")
    again = TextPrunerConfig.from_dict(config.to_dict())
    for name in ("ranking_head", "ranking_activation", "pruning_head_input", "sentence_rounding", "max_length",
                 "default_threshold", "source_format", "base_model_config"):
        assert getattr(again, name) == getattr(config, name), name
    backbone = again.get_backbone_config()
    assert backbone.model_type == "xlm-roberta"
    assert backbone.num_labels == 1
    assert backbone.max_position_embeddings == 514


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ranking_head": "mlp"}, "ranking_head"),
        ({"ranking_activation": "tanh"}, "ranking_activation"),
        ({"pruning_head_input": "hidden_states[0]"}, "pruning_head_input"),
        ({"sentence_rounding": "max"}, "sentence_rounding"),
        ({"base_model_config": {"hidden_size": 32}}, "model_type"),
        ({"default_threshold": 1.5}, "default_threshold"),
        ({"default_threshold": -0.1}, "default_threshold"),
        ({"max_length": 4}, "max_length"),
    ],
)
def test_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TextPrunerConfig(**kwargs)


def test_backbone_config_errors():
    with pytest.raises(ValueError, match="no `base_model_config`"):
        TextPrunerConfig().get_backbone_config()
    with pytest.raises(ValueError, match="unknown backbone model_type 'nope'"):
        TextPrunerConfig(base_model_config={"model_type": "nope"}).get_backbone_config()


def test_save_and_reload(tmp_path, bert_tokenizer):
    torch.manual_seed(0)
    model = TextPrunerModel(TextPrunerConfig(base_model_config=bert_config(bert_tokenizer).to_dict(),
                                             max_length=64))
    model.save_pretrained(str(tmp_path))
    again = TextPrunerModel.from_pretrained(str(tmp_path))
    assert again.config.max_length == 64
    ids, mask = _inputs(vocab=len(bert_tokenizer))
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(input_ids=ids, attention_mask=mask).pruning_logits,
                                   again(input_ids=ids, attention_mask=mask).pruning_logits)
