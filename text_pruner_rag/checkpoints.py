"""Load our checkpoints and the public Provence-family checkpoints natively.

Supported ``config.json`` ``model_type`` values and what we read from them
(facts from the public checkpoints; no code from a checkpoint is ever executed, ``auto_map`` and
``trust_remote_code`` are ignored):

==================  ======================================================  ===========================
``model_type``      layout                                                  inference semantics
==================  ======================================================  ===========================
``text_pruner``     ours: ``ranking_model.*`` + ``pruning_head.classifier.*``  as recorded in the config
``open_provence``   OpenProvence (ModernBERT etc.): ``base_model_config``;     sigmoid ranking score,
                    ``ranking_model.*`` or flat (Trainer checkpoint) keys +    pruning head on
                    ``pruning_head.classifier.*``; threshold under the         ``hidden_states[-1]``,
                    misspelt ``default_threadshold`` key                       token-mean sentence rule
``Provence``        naver Provence (DeBERTa-v3): backbone config at the top;   raw-logit ranking score,
                    ``deberta.*``, ``pooler.dense.*``, ``classifier.*``,       last hidden state, naver
                    ``token_classifier.*``                                     fraction-above-T rule
``XProvence``       naver XProvence (XLM-R): ``roberta.*`` (with pooler),      raw-logit ranking score,
                    ``classifier.*``, ``token_classifier.*``                   as Provence
==================  ======================================================  ===========================

Weights are read from ``model.safetensors`` (or a sharded ``model.safetensors.index.json``). Pickle
weights (``pytorch_model.bin``) are refused unless the caller passes ``allow_pickle=True``, and even
then are read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any, Optional

import torch
from safetensors.torch import load_file

from .modeling import TextPrunerConfig, TextPrunerModel

logger = logging.getLogger(__name__)

__all__ = ["CheckpointError", "resolve_checkpoint", "read_pruner_config", "load_pruner_model", "load_tokenizer"]

DEFAULT_OPENPROVENCE_THRESHOLD = 0.1
_IGNORED_KEY_SUFFIXES = ("position_ids",)
_TOKENIZER_FILE_PATTERNS = ("tokenizer.json", "vocab.txt", "vocab.json", "*.model")
_DOWNLOAD_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "tokenizer*", "*.md"]


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded: the message says what is wrong and where."""


def resolve_checkpoint(name_or_path: str | os.PathLike, *, allow_pickle: bool = False, **hub_kwargs: Any) -> Path:
    """Return a local folder for ``name_or_path`` (a folder, or a hub id downloaded with huggingface_hub).

    Only configuration, tokenizer and safetensors files are downloaded (plus ``*.bin`` when
    ``allow_pickle``); ``*.py`` files are never fetched.

    Raises:
        FileNotFoundError: neither a folder nor a reachable hub repository.
    """
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise CheckpointError(f"{path} is a file; pass the checkpoint folder that holds config.json")
    from huggingface_hub import snapshot_download

    patterns = _DOWNLOAD_PATTERNS + (["*.bin"] if allow_pickle else [])
    try:
        return Path(snapshot_download(str(name_or_path), allow_patterns=patterns, **hub_kwargs))
    except Exception as exc:  # offline, unknown repo, ...
        raise FileNotFoundError(
            f"{name_or_path!r} is not a local folder and could not be fetched from the Hugging Face hub "
            f"({type(exc).__name__}: {exc}). Offline, pass a local checkpoint folder."
        ) from exc


def _read_json(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path.parent}: no config.json; not a checkpoint folder") from exc
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: malformed JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _openprovence_threshold(raw: dict[str, Any], where: Path) -> float:
    if "default_threadshold" in raw and raw["default_threadshold"] is not None:
        return float(raw["default_threadshold"])
    if raw.get("default_threshold") is not None:
        warnings.warn(
            f"{where}: OpenProvence config uses `default_threshold`; the canonical key is the "
            "misspelt `default_threadshold`. Using it anyway.",
            RuntimeWarning,
            stacklevel=3,
        )
        return float(raw["default_threshold"])
    return DEFAULT_OPENPROVENCE_THRESHOLD


def _top_level_backbone(raw: dict[str, Any], model_type: str) -> dict[str, Any]:
    skip = {"auto_map", "architectures", "model_type", "transformers_version", "_name_or_path"}
    values = {k: v for k, v in raw.items() if k not in skip}
    values["model_type"] = model_type
    return values


def read_pruner_config(folder: str | os.PathLike) -> TextPrunerConfig:
    """Read ``config.json`` of any supported family into a :class:`TextPrunerConfig`.

    Raises:
        CheckpointError: missing or malformed config, unknown ``model_type``, or missing backbone config.
    """
    folder = Path(folder)
    where = folder / "config.json"
    raw = _read_json(where)
    model_type = raw.get("model_type")
    try:
        if model_type == TextPrunerConfig.model_type:
            values = {k: v for k, v in raw.items() if k not in ("model_type", "transformers_version")}
            return TextPrunerConfig(**values)
        if model_type == "open_provence":
            base = raw.get("base_model_config")
            if not isinstance(base, dict) or "model_type" not in base:
                raise CheckpointError(
                    f"{where}: OpenProvence config has no `base_model_config` with a `model_type`; "
                    "it cannot be rebuilt offline"
                )
            dropout = (raw.get("pruning_config") or {}).get("classifier_dropout") or 0.0
            return TextPrunerConfig(
                base_model_config=base,
                max_length=int(raw.get("max_length", 512)),
                default_threshold=_openprovence_threshold(raw, where),
                pruning_dropout=float(dropout),
                source_format="open_provence",
                base_model_name_or_path=raw.get("base_model_name_or_path"),
            )
        if model_type in ("Provence", "XProvence"):
            xlmr = model_type == "XProvence"
            return TextPrunerConfig(
                base_model_config=_top_level_backbone(raw, "xlm-roberta" if xlmr else "deberta-v2"),
                ranking_head="pooler_linear" if xlmr else "sequence_classification",
                ranking_activation="none",
                pruning_head_input="last_hidden_state",
                sentence_rounding="fraction_above_threshold",
                max_length=min(512, int(raw.get("max_position_embeddings", 512))),
                default_threshold=0.1,
                source_format=model_type.lower(),
            )
    except (TypeError, ValueError) as exc:
        if isinstance(exc, CheckpointError):
            raise
        raise CheckpointError(f"{where}: malformed {model_type} config ({exc})") from exc
    known = ["text_pruner", "open_provence", "Provence", "XProvence"]
    raise CheckpointError(f"{where}: unknown model_type {model_type!r}; supported: {known}")


def _load_tensors(folder: Path, allow_pickle: bool) -> dict[str, torch.Tensor]:
    single = folder / "model.safetensors"
    if single.is_file():
        return load_file(str(single))
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        shards = sorted(set(_read_json(index).get("weight_map", {}).values()))
        tensors: dict[str, torch.Tensor] = {}
        for shard in shards:
            tensors.update(load_file(str(folder / shard)))
        return tensors
    pickle_file = folder / "pytorch_model.bin"
    if pickle_file.is_file():
        if not allow_pickle:
            raise CheckpointError(
                f"{folder}: only pickle weights (pytorch_model.bin) found. Pickle files can execute code "
                "when loaded; convert them to safetensors, or pass allow_pickle=True if you trust the source."
            )
        return torch.load(str(pickle_file), map_location="cpu", weights_only=True)
    raise CheckpointError(f"{folder}: no model.safetensors (or sharded index) found")


def _remap_keys(tensors: dict[str, torch.Tensor], source_format: str) -> dict[str, torch.Tensor]:
    if source_format in ("provence", "xprovence"):
        remapped = {}
        for key, value in tensors.items():
            if key.startswith("token_classifier."):
                remapped["pruning_head.classifier." + key[len("token_classifier."):]] = value
            else:
                remapped["ranking_model." + key] = value
        return remapped
    if not any(key.startswith("ranking_model.") for key in tensors):
        # OpenProvence Trainer checkpoints store backbone keys without the `ranking_model.` prefix.
        return {
            (key if key.startswith("pruning_head.") else "ranking_model." + key): value
            for key, value in tensors.items()
        }
    return tensors


def load_pruner_model(folder: str | os.PathLike, *, allow_pickle: bool = False) -> TextPrunerModel:
    """Build the model from ``folder``'s config and load its weights with a strict key check.

    Raises:
        CheckpointError: bad config, missing weights file, or weights that do not match the
            architecture (the message lists missing and unexpected keys).
    """
    folder = Path(folder)
    config = read_pruner_config(folder)
    model = TextPrunerModel(config)
    tensors = _remap_keys(_load_tensors(folder, allow_pickle), config.source_format)
    tensors = {k: v for k, v in tensors.items() if not k.endswith(_IGNORED_KEY_SUFFIXES)}
    expected = {k for k in model.state_dict() if not k.endswith(_IGNORED_KEY_SUFFIXES)}
    missing = sorted(expected - set(tensors))
    unexpected = sorted(set(tensors) - expected)
    if missing or unexpected:
        raise CheckpointError(
            f"{folder}: weights do not match a {config.source_format} model with a "
            f"{config.base_model_config.get('model_type')} backbone: "
            f"{len(missing)} missing keys {missing[:8]}, {len(unexpected)} unexpected keys {unexpected[:8]}"
        )
    shapes = [
        f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(model.state_dict()[k].shape)}"
        for k, v in tensors.items() if tuple(v.shape) != tuple(model.state_dict()[k].shape)
    ]
    if shapes:
        raise CheckpointError(f"{folder}: tensor shapes do not match the config: {shapes[:5]}")
    model.load_state_dict(tensors, strict=False)
    model.eval()
    return model


def load_tokenizer(folder: str | os.PathLike, backbone_config: Optional[Any] = None):
    """Load the (fast) tokenizer saved next to the weights.

    The backbone configuration is passed to ``AutoTokenizer`` explicitly so transformers never reads
    the checkpoint's own ``config.json`` (whose ``auto_map`` would trigger the interactive
    ``trust_remote_code`` prompt for the public Provence-family checkpoints); remote tokenizer code is
    never run.

    Args:
        folder: the checkpoint folder.
        backbone_config (PreTrainedConfig, optional): the backbone's configuration (picks the
            tokenizer class when ``tokenizer_config.json`` names none); read from ``folder`` when None.

    Raises:
        CheckpointError: no tokenizer files in the folder.
    """
    from transformers import AutoTokenizer

    folder = Path(folder)
    # Without vocabulary files transformers silently builds an empty tokenizer; refuse instead.
    if not any(next(folder.glob(pattern), None) is not None for pattern in _TOKENIZER_FILE_PATTERNS):
        raise CheckpointError(
            f"{folder}: no tokenizer files (tokenizer.json, vocab.txt, *.model, vocab.json + merges.txt); "
            "save the tokenizer next to the weights"
        )
    if backbone_config is None:
        backbone_config = read_pruner_config(folder).get_backbone_config()
    try:
        return AutoTokenizer.from_pretrained(
            str(folder), config=backbone_config, use_fast=True, trust_remote_code=False
        )
    except (OSError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{folder}: could not load a tokenizer ({exc})") from exc
