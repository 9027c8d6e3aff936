"""Native loading of every supported checkpoint layout, built offline with the real key names.

The reference numbers are recomputed by hand from the tensors on disk with transformers' own backbone
classes, so a loader that maps a key, a hidden state or an activation wrongly disagrees with them.
"""

from __future__ import annotations

import json
import math
import shutil
import warnings
from pathlib import Path

import pytest
import torch
from checkpoint_fixtures import (
    keep_probabilities_by_hand,
    strip_prefix,
    write_open_provence,
    write_provence,
    write_xprovence,
)
from safetensors.torch import load_file, save_file

from text_pruner_rag import TextPruner, TextPrunerModel
from text_pruner_rag.checkpoints import CheckpointError, load_pruner_model, load_tokenizer, read_pruner_config
from text_pruner_rag.chunking import split_sentences

QUERY = "Where is the Eiffel Tower?"
CONTEXT = (
    "The Eiffel Tower is a wrought-iron tower in Paris. It was built for the 1889 World's Fair. "
    "Bananas are rich in potassium. Paris is the capital of France and its largest city."
)


# -- fixtures ------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def open_provence_ckpt(tmp_path_factory, bert_tokenizer):
    return write_open_provence(tmp_path_factory.mktemp("open_provence"), bert_tokenizer)


@pytest.fixture(scope="session")
def open_provence_flat_ckpt(tmp_path_factory, bert_tokenizer):
    return write_open_provence(tmp_path_factory.mktemp("open_provence_flat"), bert_tokenizer, flat=True)


@pytest.fixture(scope="session")
def provence_ckpt(tmp_path_factory, bert_tokenizer):
    return write_provence(tmp_path_factory.mktemp("provence"), bert_tokenizer)


@pytest.fixture(scope="session")
def xprovence_ckpt(tmp_path_factory, bert_tokenizer):
    return write_xprovence(tmp_path_factory.mktemp("xprovence"), bert_tokenizer)


@pytest.fixture(scope="session")
def open_provence_pruner(open_provence_ckpt):
    return TextPruner.from_pretrained(open_provence_ckpt.folder, device="cpu")


@pytest.fixture(scope="session")
def provence_pruner(provence_ckpt):
    return TextPruner.from_pretrained(provence_ckpt.folder, device="cpu")


@pytest.fixture(scope="session")
def xprovence_pruner(xprovence_ckpt):
    return TextPruner.from_pretrained(xprovence_ckpt.folder, device="cpu")


@pytest.fixture()
def our_copy(tiny_model_dir, tmp_path) -> Path:
    """A private copy of the tiny checkpoint in our format, free to corrupt."""
    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_model_dir, folder)
    return folder


def _single_window(pruner: TextPruner, query: str, context: str):
    """The one window the pruner builds for a short context, as tensors, plus the sentence map."""
    sentences = split_sentences(context, "en")
    encoder = pruner.encoder
    template = encoder.template(query)
    encoded = encoder.encode_contexts([context], [sentences])[0]
    windows = encoder.windows(template, 0, context, sentences, encoded, "en")
    assert len(windows) == 1, "test context must fit in one window"
    window = windows[0]
    ids = torch.tensor([window.input_ids])
    types = torch.tensor([window.token_type_ids]) if window.token_type_ids is not None else None
    return ids, types, torch.tensor(window.sentence_ids), sentences


def _sentence_means(token_probs: torch.Tensor, sentence_ids: torch.Tensor, n: int) -> list[float]:
    return [float(token_probs[sentence_ids == i].mean()) for i in range(n)]


def _check_invariants(result, context):
    assert result.pruned_text == "".join(context[s.start:s.end] for s in result.sentences if s.kept)
    assert "".join(s.text for s in result.sentences) == context
    assert all(0.0 <= s.probability <= 1.0 for s in result.sentences)


# -- our format ----------------------------------------------------------------------------------
def test_our_format_round_trip_gives_identical_probabilities(tiny_pruner, tmp_path):
    before = tiny_pruner.prune(QUERY, CONTEXT, threshold=0.5)
    tiny_pruner.save_pretrained(tmp_path / "saved")
    assert (tmp_path / "saved" / "model.safetensors").is_file()
    assert json.loads((tmp_path / "saved" / "config.json").read_text())["model_type"] == "text_pruner"
    reloaded = TextPruner.from_pretrained(tmp_path / "saved", device="cpu")
    after = reloaded.prune(QUERY, CONTEXT, threshold=0.5)
    assert [s.probability for s in after.sentences] == [s.probability for s in before.sentences]
    assert after.score == before.score
    assert after.pruned_text == before.pruned_text
    assert reloaded.default_threshold == tiny_pruner.default_threshold == 0.5
    assert reloaded.max_length == 128


def test_automodel_loads_our_format_after_import(tiny_model_dir, tiny_pruner):
    from transformers import AutoConfig, AutoModel

    import text_pruner_rag  # noqa: F401  (registers the Auto classes)

    config = AutoConfig.from_pretrained(str(tiny_model_dir))
    assert type(config).__name__ == "TextPrunerConfig"
    model = AutoModel.from_pretrained(str(tiny_model_dir))
    assert isinstance(model, TextPrunerModel)
    ours = tiny_pruner.model.state_dict()
    for key, value in model.state_dict().items():
        assert torch.equal(value, ours[key]), key


def test_our_format_reads_every_recorded_setting(tiny_model_dir, tmp_path):
    raw = json.loads((tiny_model_dir / "config.json").read_text())
    raw.update(ranking_activation="none", sentence_rounding="fraction_above_threshold", default_threshold=0.25,
               max_length=64, pruning_head_input="last_hidden_state")
    shutil.copytree(tiny_model_dir, tmp_path / "c")
    (tmp_path / "c" / "config.json").write_text(json.dumps(raw))
    config = read_pruner_config(tmp_path / "c")
    assert (config.ranking_activation, config.sentence_rounding, config.default_threshold, config.max_length,
            config.pruning_head_input, config.source_format) == (
        "none", "fraction_above_threshold", 0.25, 64, "last_hidden_state", "text_pruner")


def test_sharded_safetensors_are_loaded(our_copy, tiny_pruner):
    tensors = load_file(str(our_copy / "model.safetensors"))
    keys = sorted(tensors)
    half = len(keys) // 2
    shards = {"model-00001-of-00002.safetensors": keys[:half], "model-00002-of-00002.safetensors": keys[half:]}
    for name, names in shards.items():
        save_file({k: tensors[k] for k in names}, str(our_copy / name))
    (our_copy / "model.safetensors").unlink()
    index = {"metadata": {}, "weight_map": {k: name for name, names in shards.items() for k in names}}
    (our_copy / "model.safetensors.index.json").write_text(json.dumps(index))
    model = load_pruner_model(our_copy)
    for key, value in tiny_pruner.model.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


# -- OpenProvence (ModernBERT) -------------------------------------------------------------------
def test_open_provence_reads_misspelt_threshold_and_settings(open_provence_pruner):
    config = open_provence_pruner.model.config
    assert open_provence_pruner.default_threshold == pytest.approx(0.3)
    assert config.source_format == "open_provence"
    assert config.ranking_activation == "sigmoid"
    assert config.pruning_head_input == "hidden_states[-1]"
    assert config.sentence_rounding == "token_mean"
    assert open_provence_pruner.max_length == 128
    assert open_provence_pruner.model.backbone_config.model_type == "modernbert"
    assert open_provence_pruner.model.pruning_head.dropout.p == pytest.approx(0.1)


def test_open_provence_correct_spelling_warns(tmp_path, bert_tokenizer):
    ckpt = write_open_provence(tmp_path / "op", bert_tokenizer, threshold_key="default_threshold", threshold=0.42)
    with pytest.warns(RuntimeWarning, match="default_threadshold"):
        config = read_pruner_config(ckpt.folder)
    assert config.default_threshold == pytest.approx(0.42)


def test_open_provence_without_threshold_defaults_to_0_1(tmp_path, bert_tokenizer):
    ckpt = write_open_provence(tmp_path / "op", bert_tokenizer, threshold_key=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        config = read_pruner_config(ckpt.folder)
    assert config.default_threshold == pytest.approx(0.1)


def test_open_provence_pruning_head_sees_pre_final_norm_state(open_provence_ckpt, open_provence_pruner):
    """Keep probabilities = softmax(head(hidden_states[-1])), the last layer *before* ModernBERT's final norm."""
    from transformers import AutoConfig, AutoModelForSequenceClassification

    base = dict(open_provence_ckpt.config["base_model_config"])
    model_type = base.pop("model_type")
    for key in ("id2label", "label2id", "architectures", "transformers_version", "_name_or_path"):
        base.pop(key, None)
    reference = AutoModelForSequenceClassification.from_config(AutoConfig.for_model(model_type, num_labels=1, **base))
    reference.load_state_dict(strip_prefix(open_provence_ckpt.tensors, "ranking_model."), strict=True)
    reference.eval()
    captured = {}
    reference.model.layers[-1].register_forward_hook(
        lambda module, args, output: captured.__setitem__("pre_norm", output[0] if isinstance(output, tuple) else output)
    )
    ids, _, sentence_ids, sentences = _single_window(open_provence_pruner, QUERY, CONTEXT)
    with torch.no_grad():
        out = reference(input_ids=ids, attention_mask=torch.ones_like(ids))
        post_norm = reference.model(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state
    weight = open_provence_ckpt.tensors["pruning_head.classifier.weight"]
    bias = open_provence_ckpt.tensors["pruning_head.classifier.bias"]
    expected_tokens = keep_probabilities_by_hand(captured["pre_norm"], weight, bias)[0]
    wrong_tokens = keep_probabilities_by_hand(post_norm, weight, bias)[0]

    # model level: every token of the window
    with torch.no_grad():
        ours = open_provence_pruner.model(input_ids=ids, attention_mask=torch.ones_like(ids))
    got_tokens = open_provence_pruner.model.keep_probabilities(ours.pruning_logits)[0]
    torch.testing.assert_close(got_tokens, expected_tokens, atol=1e-5, rtol=1e-4)
    assert (got_tokens - wrong_tokens).abs().max() > 1e-2

    # pipeline level: sentence probabilities and the reranking score
    result = open_provence_pruner.prune(QUERY, CONTEXT)
    _check_invariants(result, CONTEXT)
    expected = _sentence_means(expected_tokens, sentence_ids, len(sentences))
    wrong = _sentence_means(wrong_tokens, sentence_ids, len(sentences))
    got = [s.probability for s in result.sentences]
    assert got == pytest.approx(expected, abs=1e-5)
    assert got != pytest.approx(wrong, abs=1e-3)
    logit = float(out.logits[0, 0])
    assert result.score == pytest.approx(1.0 / (1.0 + math.exp(-logit)), abs=1e-5)
    assert result.score != pytest.approx(logit, abs=1e-2)


def test_open_provence_flat_layout_matches_release_layout(open_provence_flat_ckpt, open_provence_pruner):
    assert not any(k.startswith("ranking_model.") for k in open_provence_flat_ckpt.tensors)
    flat = TextPruner.from_pretrained(open_provence_flat_ckpt.folder, device="cpu")
    assert flat.model.pruning_head.dropout.p == pytest.approx(0.0)  # minimal Trainer head config
    a = flat.prune(QUERY, CONTEXT)
    b = open_provence_pruner.prune(QUERY, CONTEXT)
    assert [s.probability for s in a.sentences] == pytest.approx([s.probability for s in b.sentences], abs=1e-6)
    assert a.score == pytest.approx(b.score, abs=1e-6)


def test_open_provence_without_base_model_config_is_refused(open_provence_ckpt, tmp_path):
    shutil.copytree(open_provence_ckpt.folder, tmp_path / "op")
    raw = json.loads((tmp_path / "op" / "config.json").read_text())
    del raw["base_model_config"]
    (tmp_path / "op" / "config.json").write_text(json.dumps(raw))
    with pytest.raises(CheckpointError, match="base_model_config"):
        TextPruner.from_pretrained(tmp_path / "op", device="cpu")


def test_foreign_checkpoints_never_prompt_or_run_remote_code(monkeypatch, open_provence_ckpt, provence_ckpt,
                                                              xprovence_ckpt):
    """Each folder ships a .py file that raises when run and an auto_map; loading must ignore both."""
    asked = []
    monkeypatch.setattr("builtins.input", lambda *args, **kwargs: asked.append(args) or "n")
    for ckpt in (open_provence_ckpt, provence_ckpt, xprovence_ckpt):
        assert ckpt.config["auto_map"]
        tokenizer = load_tokenizer(ckpt.folder)
        assert tokenizer.is_fast
        load_pruner_model(ckpt.folder)
    assert asked == [], "the trust_remote_code prompt was shown"


# -- naver Provence (DeBERTa-v2) -----------------------------------------------------------------
def _provence_reference(ckpt, ids, types):
    from transformers import AutoConfig, DebertaV2Model

    config_values = {k: v for k, v in ckpt.config.items()
                     if k not in ("model_type", "architectures", "auto_map", "transformers_version", "id2label")}
    backbone = DebertaV2Model(AutoConfig.for_model("deberta-v2", **config_values))
    backbone.load_state_dict(strip_prefix(ckpt.tensors, "deberta."), strict=True)
    backbone.eval()
    with torch.no_grad():
        hidden = backbone(input_ids=ids, attention_mask=torch.ones_like(ids), token_type_ids=types).last_hidden_state
    t = ckpt.tensors
    pooled = torch.nn.functional.gelu(hidden[:, 0] @ t["pooler.dense.weight"].T + t["pooler.dense.bias"])
    logit = float((pooled @ t["classifier.weight"].T + t["classifier.bias"])[0, 0])
    tokens = keep_probabilities_by_hand(hidden, t["token_classifier.weight"], t["token_classifier.bias"])[0]
    return logit, tokens


def test_provence_settings(provence_pruner):
    config = provence_pruner.model.config
    assert config.source_format == "provence"
    assert config.ranking_activation == "none"
    assert config.pruning_head_input == "last_hidden_state"
    assert config.sentence_rounding == "fraction_above_threshold"
    assert provence_pruner.default_threshold == pytest.approx(0.1)
    assert provence_pruner.max_length == 512
    assert provence_pruner.model.backbone_config.model_type == "deberta-v2"


def test_provence_raw_logit_score_and_fraction_rule(provence_ckpt, provence_pruner):
    ids, types, sentence_ids, sentences = _single_window(provence_pruner, QUERY, CONTEXT)
    logit, tokens = _provence_reference(provence_ckpt, ids, types)
    means = _sentence_means(tokens, sentence_ids, len(sentences))

    def fraction_rule(t):
        return [float((tokens[sentence_ids == i] > t).float().mean()) > t for i in range(len(sentences))]

    candidates = [round(0.01 * k, 2) for k in range(5, 96)]
    differing = [t for t in candidates if fraction_rule(t) != [m > t for m in means]]
    assert differing, "fixture too weak: the two sentence rules never disagree"
    threshold = differing[0]

    result = provence_pruner.prune(QUERY, CONTEXT, threshold=threshold)
    _check_invariants(result, CONTEXT)
    assert result.score == pytest.approx(logit, abs=1e-4)  # raw logit, no sigmoid
    assert result.score < 0
    assert [s.probability for s in result.sentences] == pytest.approx(means, abs=1e-5)
    assert [s.kept for s in result.sentences] == fraction_rule(threshold)
    assert [s.kept for s in result.sentences] != [m > threshold for m in means]


def test_provence_missing_token_classifier_is_named(provence_ckpt, tmp_path):
    shutil.copytree(provence_ckpt.folder, tmp_path / "p")
    tensors = dict(provence_ckpt.tensors)
    del tensors["token_classifier.bias"]
    save_file(tensors, str(tmp_path / "p" / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"1 missing keys \['pruning_head.classifier.bias'\]"):
        load_pruner_model(tmp_path / "p")


# -- XProvence (XLM-R) ---------------------------------------------------------------------------
def test_xprovence_raw_logit_score_on_pooler_output(xprovence_ckpt, xprovence_pruner):
    from transformers import AutoConfig, XLMRobertaModel

    config = xprovence_pruner.model.config
    assert (config.source_format, config.ranking_head, config.ranking_activation, config.sentence_rounding) == (
        "xprovence", "pooler_linear", "none", "fraction_above_threshold")
    values = {k: v for k, v in xprovence_ckpt.config.items()
              if k not in ("model_type", "architectures", "auto_map", "transformers_version", "id2label")}
    backbone = XLMRobertaModel(AutoConfig.for_model("xlm-roberta", **values), add_pooling_layer=True)
    backbone.load_state_dict(strip_prefix(xprovence_ckpt.tensors, "roberta."), strict=True)
    backbone.eval()
    ids, _, sentence_ids, sentences = _single_window(xprovence_pruner, QUERY, CONTEXT)
    with torch.no_grad():
        out = backbone(input_ids=ids, attention_mask=torch.ones_like(ids))
    t = xprovence_ckpt.tensors
    logit = float((out.pooler_output @ t["classifier.weight"].T + t["classifier.bias"])[0, 0])
    tokens = keep_probabilities_by_hand(out.last_hidden_state, t["token_classifier.weight"],
                                        t["token_classifier.bias"])[0]
    result = xprovence_pruner.prune(QUERY, CONTEXT, threshold=0.5)
    _check_invariants(result, CONTEXT)
    assert result.score == pytest.approx(logit, abs=1e-4)
    assert [s.probability for s in result.sentences] == pytest.approx(
        _sentence_means(tokens, sentence_ids, len(sentences)), abs=1e-5)
    expected_kept = [float((tokens[sentence_ids == i] > 0.5).float().mean()) > 0.5 for i in range(len(sentences))]
    assert [s.kept for s in result.sentences] == expected_kept


def test_xprovence_keys_are_the_published_ones(xprovence_ckpt):
    keys = set(xprovence_ckpt.tensors)
    assert {"roberta.pooler.dense.weight", "classifier.weight", "classifier.bias",
            "token_classifier.weight", "token_classifier.bias"} <= keys
    assert xprovence_ckpt.tensors["classifier.weight"].shape == (1, 32)
    assert not any(k.startswith(("classifier.dense", "classifier.out_proj")) for k in keys)


# -- bad checkpoints -----------------------------------------------------------------------------
def _rewrite_tensors(folder: Path, change) -> None:
    tensors = load_file(str(folder / "model.safetensors"))
    change(tensors)
    save_file(tensors, str(folder / "model.safetensors"))


def test_missing_keys_are_listed(our_copy):
    _rewrite_tensors(our_copy, lambda t: t.pop("pruning_head.classifier.weight"))
    with pytest.raises(CheckpointError, match=r"1 missing keys \['pruning_head.classifier.weight'\]"):
        TextPruner.from_pretrained(our_copy, device="cpu")


def test_unexpected_keys_are_listed(our_copy):
    _rewrite_tensors(our_copy, lambda t: t.__setitem__("ranking_model.extra_head.weight", torch.zeros(2, 2)))
    with pytest.raises(CheckpointError, match=r"1 unexpected keys \['ranking_model.extra_head.weight'\]"):
        TextPruner.from_pretrained(our_copy, device="cpu")


def test_wrong_shapes_are_named(our_copy):
    _rewrite_tensors(our_copy, lambda t: t.__setitem__("pruning_head.classifier.weight", torch.zeros(3, 32)))
    with pytest.raises(CheckpointError, match=r"shapes.*pruning_head.classifier.weight: checkpoint \(3, 32\)"):
        TextPruner.from_pretrained(our_copy, device="cpu")


def test_unknown_model_type(our_copy):
    raw = json.loads((our_copy / "config.json").read_text())
    raw["model_type"] = "bert"
    (our_copy / "config.json").write_text(json.dumps(raw))
    with pytest.raises(CheckpointError, match="unknown model_type 'bert'"):
        TextPruner.from_pretrained(our_copy, device="cpu")


def test_malformed_json(our_copy):
    (our_copy / "config.json").write_text('{"model_type": "text_pruner",')
    with pytest.raises(CheckpointError, match="malformed JSON"):
        TextPruner.from_pretrained(our_copy, device="cpu")


def test_config_not_an_object(our_copy):
    (our_copy / "config.json").write_text("[1, 2]")
    with pytest.raises(CheckpointError, match="expected a JSON object"):
        read_pruner_config(our_copy)


def test_bad_setting_in_our_config(our_copy):
    raw = json.loads((our_copy / "config.json").read_text())
    raw["ranking_activation"] = "tanh"
    (our_copy / "config.json").write_text(json.dumps(raw))
    with pytest.raises(CheckpointError, match="ranking_activation"):
        read_pruner_config(our_copy)


def test_missing_config(our_copy):
    (our_copy / "config.json").unlink()
    with pytest.raises(CheckpointError, match="no config.json"):
        TextPruner.from_pretrained(our_copy, device="cpu")


def test_missing_weights(our_copy):
    (our_copy / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="no model.safetensors"):
        TextPruner.from_pretrained(our_copy, device="cpu")


def test_missing_tokenizer(our_copy):
    for path in our_copy.iterdir():
        if path.name.startswith(("tokenizer", "vocab", "special_tokens")):
            path.unlink()
    with pytest.raises(CheckpointError, match="no tokenizer files"):
        TextPruner.from_pretrained(our_copy, device="cpu")


def test_pickle_only_folder_refused_then_accepted_on_opt_in(our_copy, tiny_pruner):
    torch.save(load_file(str(our_copy / "model.safetensors")), str(our_copy / "pytorch_model.bin"))
    (our_copy / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="pickle"):
        TextPruner.from_pretrained(our_copy, device="cpu")
    pruner = TextPruner.from_pretrained(our_copy, device="cpu", allow_pickle=True)
    a = pruner.prune(QUERY, CONTEXT)
    b = tiny_pruner.prune(QUERY, CONTEXT)
    assert [s.probability for s in a.sentences] == [s.probability for s in b.sentences]


def test_file_instead_of_folder(tiny_model_dir):
    with pytest.raises(CheckpointError, match="is a file"):
        TextPruner.from_pretrained(tiny_model_dir / "config.json", device="cpu")


def test_missing_path_offline(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a local folder"):
        TextPruner.from_pretrained(tmp_path / "does-not-exist", device="cpu")


def test_unknown_backbone_model_type(open_provence_ckpt, tmp_path):
    shutil.copytree(open_provence_ckpt.folder, tmp_path / "op")
    raw = json.loads((tmp_path / "op" / "config.json").read_text())
    raw["base_model_config"]["model_type"] = "no-such-backbone"
    (tmp_path / "op" / "config.json").write_text(json.dumps(raw))
    with pytest.raises((CheckpointError, ValueError), match="no-such-backbone"):
        load_pruner_model(tmp_path / "op")


# -- crafted checkpoints: every failure is a CheckpointError naming the folder or file (issue 11) ----
def _edit_config(folder: Path, change) -> None:
    raw = json.loads((folder / "config.json").read_text())
    change(raw)
    (folder / "config.json").write_text(json.dumps(raw))


def _shard(folder: Path, weight_map) -> None:
    """Replace model.safetensors by an index whose weight_map is ``weight_map``."""
    (folder / "model.safetensors").rename(folder / "model-00001-of-00001.safetensors")
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))


def test_truncated_safetensors_name_the_file(our_copy):
    weights = our_copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"model\.safetensors.*not a valid safetensors file"):
        TextPruner.from_pretrained(our_copy, device="cpu")


@pytest.mark.parametrize("content", [b"", b"\x00" * 8, bytes(range(256)) * 40, b"\xff" * 8 + b"{}"])
def test_random_bytes_safetensors_name_the_file(our_copy, content):
    (our_copy / "model.safetensors").write_bytes(content)
    with pytest.raises(CheckpointError, match=r"model\.safetensors"):
        TextPruner.from_pretrained(our_copy, device="cpu")


@pytest.mark.parametrize("weight_map", [["model-00001-of-00001.safetensors"], "x", None, {"a": 3}])
def test_malformed_weight_map_is_named(our_copy, weight_map):
    _shard(our_copy, weight_map)
    with pytest.raises(CheckpointError, match=r"model\.safetensors\.index\.json.*weight_map"):
        TextPruner.from_pretrained(our_copy, device="cpu")


@pytest.mark.parametrize("shard", ["../outside.safetensors", "/etc/passwd", "sub/../../x.safetensors"])
def test_shard_names_must_stay_inside_the_folder(our_copy, shard):
    tensors = load_file(str(our_copy / "model.safetensors"))
    outside = our_copy.parent / "outside.safetensors"
    save_file(tensors, str(outside))  # a valid file exists there: only the name check can refuse it
    _shard(our_copy, {key: shard for key in tensors})
    with pytest.raises(CheckpointError, match="outside the checkpoint folder"):
        TextPruner.from_pretrained(our_copy, device="cpu")


def test_missing_shard_is_named(our_copy):
    _shard(our_copy, {"ranking_model.x": "model-00002-of-00002.safetensors"})
    with pytest.raises(CheckpointError, match=r"model-00002-of-00002\.safetensors"):
        TextPruner.from_pretrained(our_copy, device="cpu")


def test_empty_vocab_is_refused_at_load(our_copy):
    for path in our_copy.iterdir():
        if path.name.startswith(("tokenizer", "special_tokens")):
            path.unlink()
    (our_copy / "vocab.txt").write_text("", encoding="utf-8")
    with pytest.raises(CheckpointError, match=str(our_copy.name) + r".*empty vocabulary"):
        TextPruner.from_pretrained(our_copy, device="cpu")


def test_tokenizer_larger_than_the_embeddings_is_refused(our_copy):
    _edit_config(our_copy, lambda raw: raw["base_model_config"].update(vocab_size=100))
    _rewrite_tensors(our_copy, lambda t: t.__setitem__(
        "ranking_model.bert.embeddings.word_embeddings.weight",
        t["ranking_model.bert.embeddings.word_embeddings.weight"][:100].clone()))
    with pytest.raises(CheckpointError, match=r"tokenizer.*30522.*vocab_size.*100"):
        TextPruner.from_pretrained(our_copy, device="cpu")


def test_unknown_backbone_is_a_checkpoint_error(our_copy):
    _edit_config(our_copy, lambda raw: raw["base_model_config"].update(model_type="no-such-backbone"))
    with pytest.raises(CheckpointError, match=str(our_copy.name) + r".*no-such-backbone"):
        TextPruner.from_pretrained(our_copy, device="cpu")


@pytest.mark.parametrize("change", [
    {"hidden_size": 33},                # not a multiple of the attention heads
    {"num_hidden_layers": -1},
    {"hidden_size": "wide"},
])
def test_unbuildable_backbone_config_is_a_checkpoint_error(our_copy, change):
    _edit_config(our_copy, lambda raw: raw["base_model_config"].update(change))
    with pytest.raises(CheckpointError, match=str(our_copy.name)):
        TextPruner.from_pretrained(our_copy, device="cpu")


def test_huge_hidden_size_is_refused_before_allocating(our_copy, monkeypatch):
    """A config asking for ~10^12 parameters: the shapes are compared with the file's header first."""
    _edit_config(our_copy, lambda raw: raw["base_model_config"].update(
        hidden_size=2 ** 20, intermediate_size=2 ** 20, num_attention_heads=4))
    allocated = []
    original = TextPrunerModel.__init__

    def spy(self, config):
        allocated.append(str(torch.empty(0).device))
        original(self, config)

    monkeypatch.setattr(TextPrunerModel, "__init__", spy)
    with pytest.raises(CheckpointError, match=r"shapes do not match.*1048576"):
        TextPruner.from_pretrained(our_copy, device="cpu")
    assert allocated == ["meta"], "the model was built on a real device before the shapes were checked"


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_weights_are_refused(our_copy, bad):
    def poison(tensors):
        tensors["pruning_head.classifier.weight"][0, 3] = bad

    _rewrite_tensors(our_copy, poison)
    with pytest.raises(CheckpointError, match=r"non-finite.*pruning_head\.classifier\.weight"):
        TextPruner.from_pretrained(our_copy, device="cpu")


def test_non_finite_weights_in_a_foreign_layout_use_its_key_names(provence_ckpt, tmp_path):
    shutil.copytree(provence_ckpt.folder, tmp_path / "p")
    tensors = dict(provence_ckpt.tensors)
    tensors["classifier.bias"] = torch.tensor([float("nan")])
    save_file(tensors, str(tmp_path / "p" / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"non-finite.*'classifier\.bias'"):
        load_pruner_model(tmp_path / "p")
