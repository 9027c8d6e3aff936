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

Weights are read from ``model.safetensors`` (or a sharded ``model.safetensors.index.json`` whose shard
names must be plain file names inside the folder). Pickle weights (``pytorch_model.bin``) are refused
unless the caller passes ``allow_pickle=True``, and even then are read with ``torch.load(weights_only=True)``.

Every check runs before the model is allocated: the architecture is first built on PyTorch's ``meta``
device (no memory) and its tensor names and shapes are compared with the safetensors headers, so a
config asking for a huge model fails in milliseconds. Weights holding NaN or infinity are refused.
Whatever is wrong with a checkpoint folder (config, weights, shards, tokenizer) is reported as one
:class:`CheckpointError` whose message names the folder or file.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import torch
from safetensors import SafetensorError, safe_open
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

    An existing folder is returned as is (``~`` expanded), without looking inside it: loading checks
    its files. Anything else is taken as a hub repository id and fetched with
    ``huggingface_hub.snapshot_download`` into the hub cache; only configuration, tokenizer,
    safetensors and model-card files are downloaded (``*.json``, ``*.safetensors``, ``*.txt``,
    ``*.model``, ``tokenizer*``, ``*.md``; plus ``*.bin`` when ``allow_pickle``); ``*.py`` files are
    never fetched, so no code from a checkpoint can run.

    Args:
        name_or_path (str | PathLike): a local checkpoint folder or a hub id (``"owner/name"``).
        allow_pickle (bool): also download ``*.bin`` (pickle) weights. Defaults to False.
        **hub_kwargs: passed to ``snapshot_download`` (``revision``, ``cache_dir``, ``token``,
            ``local_files_only``).

    Returns:
        Path: the local folder (the cache snapshot for a hub id).

    Raises:
        CheckpointError: ``name_or_path`` is an existing file, not a folder.
        FileNotFoundError: neither a folder nor a hub repository that can be fetched (offline,
            unknown id, no access); the message gives the hub error.
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


def _weight_files(folder: Path, allow_pickle: bool) -> tuple[list[Path], bool]:
    """The weight files of ``folder`` and whether they are pickle files; shard names are checked."""
    single = folder / "model.safetensors"
    if single.is_file():
        return [single], False
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        return [folder / name for name in _shard_names(index)], False
    pickle_file = folder / "pytorch_model.bin"
    if pickle_file.is_file():
        if not allow_pickle:
            raise CheckpointError(
                f"{folder}: only pickle weights (pytorch_model.bin) found. Pickle files can execute code "
                "when loaded; convert them to safetensors, or pass allow_pickle=True if you trust the source."
            )
        return [pickle_file], True
    raise CheckpointError(f"{folder}: no model.safetensors (or sharded index) found")


def _shard_names(index: Path) -> list[str]:
    """Shard file names of a ``model.safetensors.index.json``: plain names inside its folder."""
    weight_map = _read_json(index).get("weight_map")
    if not isinstance(weight_map, dict) or not weight_map:
        raise CheckpointError(
            f"{index}: `weight_map` must be a non-empty object mapping tensor names to shard files, "
            f"got {type(weight_map).__name__}"
        )
    names = set()
    for key, name in weight_map.items():
        if not isinstance(name, str) or not name:
            raise CheckpointError(f"{index}: `weight_map[{key!r}]` must be a shard file name, got {name!r}")
        path = Path(name)
        if path.is_absolute() or path.drive or ".." in path.parts or "\\" in name:
            raise CheckpointError(
                f"{index}: shard {name!r} points outside the checkpoint folder; shards must be file "
                "names inside it"
            )
        names.add(name)
    return sorted(names)


def _header_shapes(files: list[Path]) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape, read from the safetensors headers only (nothing is allocated)."""
    shapes: dict[str, tuple[int, ...]] = {}
    for path in files:
        with _named_errors(path):
            with safe_open(str(path), framework="pt") as handle:
                for key in handle.keys():
                    shapes[key] = tuple(handle.get_slice(key).get_shape())
    return shapes


def _read_tensors(files: list[Path], is_pickle: bool) -> dict[str, torch.Tensor]:
    tensors: dict[str, torch.Tensor] = {}
    for path in files:
        with _named_errors(path):
            if is_pickle:
                loaded = torch.load(str(path), map_location="cpu", weights_only=True)
                if not isinstance(loaded, dict) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
                    raise CheckpointError(f"{path}: expected a state dict of tensors")
                tensors.update(loaded)
            else:
                tensors.update(load_file(str(path)))
    return tensors


@contextmanager
def _named_errors(path: Path) -> Iterator[None]:
    """Re-raise a safetensors/IO failure while reading ``path`` as a CheckpointError naming it."""
    try:
        yield
    except CheckpointError:
        raise
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path}: weights file not found") from exc
    except (SafetensorError, OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as exc:
        kind = "safetensors" if path.suffix == ".safetensors" else "PyTorch weights"
        raise CheckpointError(f"{path}: not a valid {kind} file ({type(exc).__name__}: {exc})") from exc


def _is_finite(tensor: torch.Tensor) -> bool:
    if not tensor.is_floating_point():
        return True
    # A finite sum proves every value finite (NaN and infinity propagate) at a fraction of the cost of
    # an element-wise check; only a sum that overflows or is NaN/inf needs the exact check.
    if bool(torch.isfinite(tensor.sum(dtype=torch.float32))):
        return True
    return bool(torch.isfinite(tensor).all())


def _check_finite(tensors: dict[str, torch.Tensor], folder: Path) -> None:
    bad = sorted(k for k, v in tensors.items() if not _is_finite(v))
    if bad:
        raise CheckpointError(
            f"{folder}: {len(bad)} weight tensors hold non-finite values (NaN or infinity): {bad[:8]}; "
            "the checkpoint is corrupt (or came from a diverged training run)"
        )


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


def _build_model(config: TextPrunerConfig, folder: Path, device: Optional[str] = None) -> TextPrunerModel:
    """Build the architecture (on ``device``; ``"meta"`` allocates nothing); errors name the folder."""
    try:
        if device is None:
            return TextPrunerModel(config)
        with torch.device(device):
            return TextPrunerModel(config)
    except CheckpointError:
        raise
    except Exception as exc:  # transformers and torch raise many types for an unbuildable config
        backbone = (config.base_model_config or {}).get("model_type")
        raise CheckpointError(
            f"{folder / 'config.json'}: cannot build a {config.source_format} model with a {backbone!r} "
            f"backbone from this config ({type(exc).__name__}: {exc})"
        ) from exc


def load_pruner_model(folder: str | os.PathLike, *, allow_pickle: bool = False) -> TextPrunerModel:
    """Build the model from ``folder``'s config and load its weights with a strict key check.

    Order of the checks: config; weight files (shard names stay inside the folder); the architecture
    built on the ``meta`` device compared with the tensor names and shapes of the safetensors headers;
    the weights read and checked for NaN/infinity; only then is the model allocated and filled.

    Raises:
        CheckpointError: bad config, unknown or unbuildable backbone, missing or unreadable weights
            file (named), a malformed shard index, weights that do not match the architecture (the
            message lists missing and unexpected keys, or mismatched shapes), or non-finite weights.
    """
    folder = Path(folder)
    config = read_pruner_config(folder)
    files, is_pickle = _weight_files(folder, allow_pickle)
    tensors = _read_tensors(files, is_pickle) if is_pickle else None
    shapes = {k: tuple(v.shape) for k, v in tensors.items()} if is_pickle else _header_shapes(files)
    shapes = _remap_keys(shapes, config.source_format)
    shapes = {k: v for k, v in shapes.items() if not k.endswith(_IGNORED_KEY_SUFFIXES)}
    skeleton = _build_model(config, folder, device="meta")
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items() if not k.endswith(_IGNORED_KEY_SUFFIXES)}
    del skeleton
    missing = sorted(set(expected) - set(shapes))
    unexpected = sorted(set(shapes) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{folder}: weights do not match a {config.source_format} model with a "
            f"{config.base_model_config.get('model_type')} backbone: "
            f"{len(missing)} missing keys {missing[:8]}, {len(unexpected)} unexpected keys {unexpected[:8]}"
        )
    wrong = [f"{k}: checkpoint {v} vs model {expected[k]}" for k, v in shapes.items() if v != expected[k]]
    if wrong:
        raise CheckpointError(f"{folder}: tensor shapes do not match the config: {wrong[:5]}")
    if tensors is None:
        tensors = _read_tensors(files, is_pickle)
    _check_finite(tensors, folder)
    tensors = _remap_keys(tensors, config.source_format)
    tensors = {k: v for k, v in tensors.items() if not k.endswith(_IGNORED_KEY_SUFFIXES)}
    model = _build_model(config, folder)
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
        CheckpointError: no tokenizer files in the folder, files the tokenizer library cannot read, an
            empty vocabulary, a tokenizer that cannot encode a probe pair (e.g. no unknown token), or
            more tokens than the model's embeddings (``vocab_size``).
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
        try:
            backbone_config = read_pruner_config(folder).get_backbone_config()
        except CheckpointError:
            raise
        except ValueError as exc:
            raise CheckpointError(f"{folder / 'config.json'}: {exc}") from exc
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            str(folder), config=backbone_config, use_fast=True, trust_remote_code=False
        )
    except Exception as exc:  # tokenizers raises bare Exceptions for malformed files
        raise CheckpointError(f"{folder}: could not load a tokenizer ({type(exc).__name__}: {exc})") from exc
    _check_tokenizer(tokenizer, folder, backbone_config)
    return tokenizer


def _check_tokenizer(tokenizer: Any, folder: Path, backbone_config: Any) -> None:
    """Refuse a tokenizer that would fail (or index outside the embeddings) only at the first call."""
    if not getattr(tokenizer, "vocab_size", 0):
        raise CheckpointError(f"{folder}: the tokenizer has an empty vocabulary; its vocabulary file is empty or broken")
    try:
        tokenizer("probe", "text")
    except Exception as exc:  # e.g. WordPiece without its [UNK] token
        raise CheckpointError(f"{folder}: the tokenizer cannot encode text ({type(exc).__name__}: {exc})") from exc
    embeddings = getattr(backbone_config, "vocab_size", None)
    if embeddings and len(tokenizer) > int(embeddings):
        raise CheckpointError(
            f"{folder}: the tokenizer has {len(tokenizer)} tokens but the model's vocab_size is {embeddings}; "
            "token ids past the embeddings would crash the model (a tokenizer from another model?)"
        )
