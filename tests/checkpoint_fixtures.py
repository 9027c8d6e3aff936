"""Tiny random checkpoints in every supported on-disk layout, built offline with the real key names.

Each builder writes ``config.json`` + ``model.safetensors`` + the tokenizer files into a folder, the
way the public checkpoints are laid out (see docs/provence-reference.md §1):

* :func:`write_open_provence`: OpenProvence release layout (``model_type: "open_provence"``, the full
  ``ModernBertForSequenceClassification`` config under ``base_model_config``, ``ranking_model.*`` +
  ``pruning_head.classifier.*`` tensors, misspelt ``default_threadshold``), or the flat Trainer
  checkpoint layout (backbone keys at the root) with ``flat=True``.
* :func:`write_provence`: naver Provence (DeBERTa-v2 config at the top level, ``model_type: "Provence"``,
  ``deberta.*``, ``pooler.dense.*``, ``classifier.*``, ``token_classifier.*``).
* :func:`write_xprovence`: naver XProvence (XLM-R config at the top level, ``model_type: "XProvence"``,
  ``roberta.*`` with ``roberta.pooler.dense.*``, ``classifier.*`` = ``Linear(H, 1)``, ``token_classifier.*``).

The weights come from transformers' own backbone classes (never from our ``TextPrunerModel``), so a
loader that renames keys wrongly cannot agree with these files by construction. Every builder returns
a :class:`ForeignCheckpoint` holding the raw tensors so tests can recompute scores by hand.

The MiniLM BERT fast tokenizer is reused for every backbone (the loader only needs a fast tokenizer in
the folder); each tiny config's vocabulary size and special token ids are set to match it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch
from safetensors.torch import save_file

HIDDEN = 32
LAYERS = 2
HEADS = 4

# A file every public Provence-family checkpoint ships next to its weights; it must never run.
_TRAP_CODE = 'raise RuntimeError("remote code from the checkpoint was executed")\n'


@dataclass
class ForeignCheckpoint:
    """A written checkpoint folder and the tensors stored in it (key -> tensor, as on disk)."""

    folder: Path
    tensors: dict[str, torch.Tensor]
    config: dict[str, Any]


def _tiny_common(tokenizer) -> dict[str, Any]:
    return dict(hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
                vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id)


def _head_tensors(generator: torch.Generator, scale: float = 2.0) -> tuple[torch.Tensor, torch.Tensor]:
    """A ``Linear(H, 2)`` pruning head with large random weights (so keep probabilities spread out)."""
    weight = torch.randn(2, HIDDEN, generator=generator) * scale
    bias = torch.randn(2, generator=generator) * 0.5
    return weight, bias


def _json_ready(config: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(config, default=str))


def _write(folder: Path, config: dict[str, Any], tensors: dict[str, torch.Tensor], tokenizer) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(folder / "model.safetensors"))
    tokenizer.save_pretrained(str(folder))


def bert_config(tokenizer, **overrides):
    """A tiny ``BertConfig`` over the tokenizer's vocabulary (as ``tests/conftest.py::tiny_bert_config``)."""
    from transformers import AutoConfig

    values = dict(_tiny_common(tokenizer), intermediate_size=37, max_position_embeddings=512)
    values.update(overrides)
    return AutoConfig.for_model("bert", **values)


def modernbert_config(tokenizer, **overrides):
    """A tiny ``ModernBertConfig`` (one ranking label) whose special ids fit the BERT vocabulary."""
    from transformers import AutoConfig

    values = dict(_tiny_common(tokenizer), intermediate_size=48, max_position_embeddings=512,
                  cls_token_id=tokenizer.cls_token_id, sep_token_id=tokenizer.sep_token_id,
                  bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id,
                  global_attn_every_n_layers=1, local_attention=64)
    values.update(overrides)
    config = AutoConfig.for_model("modernbert", **values)
    config.num_labels = 1
    config.architectures = ["ModernBertForSequenceClassification"]
    return config


def deberta_v2_config(tokenizer, **overrides):
    """A tiny DeBERTa-v3-style ``DebertaV2Config`` (relative attention, no absolute positions)."""
    from transformers import AutoConfig

    values = dict(_tiny_common(tokenizer), intermediate_size=37, max_position_embeddings=512,
                  relative_attention=True, pos_att_type=["p2c", "c2p"], position_buckets=16,
                  max_relative_positions=-1, position_biased_input=False, type_vocab_size=0,
                  share_att_key=True, norm_rel_ebd="layer_norm", pooler_hidden_size=HIDDEN,
                  pooler_hidden_act="gelu", pooler_dropout=0.0, layer_norm_eps=1e-7)
    values.update(overrides)
    config = AutoConfig.for_model("deberta-v2", **values)
    config.num_labels = 1
    return config


def xlm_roberta_config(tokenizer, **overrides):
    """A tiny ``XLMRobertaConfig`` (514 positions and one token type, as the real XLM-R)."""
    from transformers import AutoConfig

    values = dict(_tiny_common(tokenizer), intermediate_size=37, max_position_embeddings=514,
                  type_vocab_size=1, bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id)
    values.update(overrides)
    config = AutoConfig.for_model("xlm-roberta", **values)
    config.num_labels = 1
    return config


def write_open_provence(
    folder: Path,
    tokenizer,
    *,
    flat: bool = False,
    threshold_key: Optional[str] = "default_threadshold",
    threshold: float = 0.3,
    seed: int = 0,
    max_length: int = 128,
) -> ForeignCheckpoint:
    """OpenProvence release (or, with ``flat=True``, Trainer ``checkpoint-*``) layout over ModernBERT."""
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(seed)
    backbone_config = modernbert_config(tokenizer)
    backbone = AutoModelForSequenceClassification.from_config(backbone_config)
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():  # a non-zero ranking bias so sigmoid(logit) and logit differ clearly
        backbone.classifier.bias.fill_(0.75)
    prefix = "" if flat else "ranking_model."
    tensors = {prefix + k: v.detach().clone() for k, v in backbone.state_dict().items()}
    weight, bias = _head_tensors(generator)
    tensors["pruning_head.classifier.weight"] = weight
    tensors["pruning_head.classifier.bias"] = bias
    base = _json_ready(backbone_config.to_dict())
    config: dict[str, Any] = {
        "model_type": "open_provence",
        "architectures": ["OpenProvenceForSequenceClassification"],
        "auto_map": {
            "AutoConfig": "modeling_open_provence_standalone.OpenProvenceConfig",
            "AutoModel": "modeling_open_provence_standalone.OpenProvenceForSequenceClassification",
            "AutoModelForSequenceClassification": "modeling_open_provence_standalone.OpenProvenceForSequenceClassification",
            "AutoModelForTokenClassification": "modeling_open_provence_standalone.OpenProvenceForTokenClassification",
        },
        "mode": "reranking_pruning",
        "base_model_name_or_path": "hotchpotch/japanese-reranker-xsmall-v2",
        "base_model_config": base,
        "tokenizer_name_or_path": None,
        "max_length": max_length,
        "num_pruning_labels": 2,
        "encoder_architecture": "modernbert",
        "vocab_size": backbone_config.vocab_size,
        "hidden_size": HIDDEN,
        "splitter_default_language": "ja",
        "transformers_version": "4.56.1",
    }
    if flat:  # Trainer checkpoints carry a minimal head config plus a top-level dropout
        config["pruning_config"] = {"hidden_size": HIDDEN}
        config["classifier_dropout"] = 0.1
    else:
        config["pruning_config"] = {
            "hidden_size": HIDDEN, "num_labels": 2, "classifier_dropout": 0.1,
            "sentence_pooling": "mean", "use_weighted_pooling": False,
            "model_type": "open_provence_head", "id2label": {"0": "LABEL_0", "1": "LABEL_1"},
            "label2id": {"LABEL_0": 0, "LABEL_1": 1},
        }
    if threshold_key is not None:
        config[threshold_key] = threshold
    _write(folder, config, tensors, tokenizer)
    (folder / "modeling_open_provence_standalone.py").write_text(_TRAP_CODE, encoding="utf-8")
    return ForeignCheckpoint(folder, tensors, config)


def write_provence(folder: Path, tokenizer, *, seed: int = 0) -> ForeignCheckpoint:
    """naver Provence layout: DeBERTa-v2 config at the top level, raw-logit ranking head."""
    from transformers import AutoModelForSequenceClassification

    torch.manual_seed(seed)
    backbone_config = deberta_v2_config(tokenizer)
    backbone = AutoModelForSequenceClassification.from_config(backbone_config)  # deberta.*, pooler.*, classifier.*
    generator = torch.Generator().manual_seed(seed + 1)
    tensors = {k: v.detach().clone() for k, v in backbone.state_dict().items()}
    tensors["classifier.weight"] = torch.randn(1, HIDDEN, generator=generator)
    tensors["classifier.bias"] = torch.tensor([-3.0])  # a raw logit far below 0: sigmoid would hide it
    weight, bias = _head_tensors(generator, scale=0.5)
    tensors["token_classifier.weight"] = weight
    tensors["token_classifier.bias"] = bias
    config = _json_ready(backbone_config.to_dict())
    for key in ("label2id", "problem_type", "_name_or_path"):
        config.pop(key, None)
    config.update({
        "model_type": "Provence",
        "architectures": ["Provence"],
        "auto_map": {"AutoConfig": "modeling_provence.ProvenceConfig", "AutoModel": "modeling_provence.Provence"},
        "id2label": {"0": "LABEL_0"},
        "transformers_version": "4.44.2",
    })
    _write(folder, config, tensors, tokenizer)
    (folder / "modeling_provence.py").write_text(_TRAP_CODE, encoding="utf-8")
    return ForeignCheckpoint(folder, tensors, config)


def write_xprovence(folder: Path, tokenizer, *, seed: int = 0) -> ForeignCheckpoint:
    """naver XProvence layout: XLM-R config at the top level, pooler + ``Linear(H, 1)`` ranking head."""
    from transformers import XLMRobertaModel

    torch.manual_seed(seed)
    backbone_config = xlm_roberta_config(tokenizer)
    backbone = XLMRobertaModel(backbone_config, add_pooling_layer=True)
    generator = torch.Generator().manual_seed(seed + 1)
    tensors = {"roberta." + k: v.detach().clone() for k, v in backbone.state_dict().items()}
    tensors["classifier.weight"] = torch.randn(1, HIDDEN, generator=generator)
    tensors["classifier.bias"] = torch.tensor([-2.0])
    weight, bias = _head_tensors(generator)
    tensors["token_classifier.weight"] = weight
    tensors["token_classifier.bias"] = bias
    config = _json_ready(backbone_config.to_dict())
    for key in ("label2id", "problem_type", "_name_or_path"):
        config.pop(key, None)
    config.update({
        "model_type": "XProvence",
        "architectures": ["XProvence"],
        "auto_map": {"AutoConfig": "modeling_xprovence_hf.XProvenceConfig",
                     "AutoModel": "modeling_xprovence_hf.XProvence"},
        "id2label": {"0": "LABEL_0"},
        "transformers_version": "4.46.0",
    })
    _write(folder, config, tensors, tokenizer)
    (folder / "modeling_xprovence_hf.py").write_text(_TRAP_CODE, encoding="utf-8")
    return ForeignCheckpoint(folder, tensors, config)


def keep_probabilities_by_hand(hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``softmax(hidden @ weight.T + bias)[..., 1]`` in float32: the Provence keep probability."""
    logits = hidden.float() @ weight.float().T + bias.float()
    return torch.softmax(logits, dim=-1)[..., 1]


def strip_prefix(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors under ``prefix`` with the prefix removed."""
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
