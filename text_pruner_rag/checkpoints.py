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

import errno
import fnmatch
import functools
import inspect
import json
import logging
import os
import pickle
import stat
import typing
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file

from .modeling import TextPrunerConfig, TextPrunerModel

logger = logging.getLogger(__name__)

__all__ = [
    "CheckpointError",
    "check_regular_file",
    "load_checkpoint",
    "load_pruner_model",
    "load_tokenizer",
    "read_pruner_config",
    "resolve_checkpoint",
]

DEFAULT_OPENPROVENCE_THRESHOLD = 0.1
_IGNORED_KEY_SUFFIXES = ("position_ids",)
_TOKENIZER_FILE_PATTERNS = ("tokenizer.json", "vocab.txt", "vocab.json", "*.model")
# Every file a loader may open; each must be a regular file (not a folder, FIFO or broken link).
_READ_FILE_PATTERNS = (
    "config.json", "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "tokenizer.json",
    "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "vocab.txt", "vocab.json",
    "merges.txt", "*.model", "chat_template.*",
)
# JSON files of the tokenizer: read and parsed by us first so their errors name the file.
_TOKENIZER_JSON_FILES = ("tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
                         "vocab.json")
_DOWNLOAD_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "tokenizer*", "*.md"]


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded: the message says what is wrong and where."""


def _entry_problem(path: Path, want: str) -> Optional[str]:
    """Why ``path`` is not a readable ``want`` (``"file"`` or ``"folder"``), or None. Never opens it.

    Symbolic links are followed; a loop, a dangling link, a FIFO, a socket or a device is named as
    such (a FIFO is never opened: opening one blocks until a writer appears).
    """
    try:
        info = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symbolic link loop"
        if isinstance(exc, FileNotFoundError) and os.path.lexists(path):
            return f"is a dangling symbolic link (to {os.readlink(path)!r}, which does not exist)"
        if isinstance(exc, FileNotFoundError):
            return "not found"
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISDIR(info.st_mode):
        return None if want == "folder" else "is a folder, not a file"
    if stat.S_ISREG(info.st_mode):
        return None if want == "file" else "is a file; pass the checkpoint folder that holds config.json"
    kind = "is a FIFO (named pipe)" if stat.S_ISFIFO(info.st_mode) else "is a socket or device"
    return f"{kind}, not a {want}; it is not opened"


def check_regular_file(path: str | os.PathLike) -> Path:
    """Check that ``path`` is a regular file (symbolic links followed) without opening it.

    Returns:
        Path: ``path``.

    Raises:
        CheckpointError: ``path`` is missing, a folder, a symbolic link loop, a dangling link, a FIFO,
            a socket or a device; the message starts with the path.
    """
    path = Path(path)
    problem = _entry_problem(path, "file")
    if problem:
        raise CheckpointError(f"{path}: {problem}")
    return path


def _check_folder_files(folder: Path) -> None:
    """Every file a loader may open in ``folder`` is a regular file (checked before any is opened)."""
    try:
        names = sorted(os.listdir(folder))  # lists broken links too
    except OSError as exc:
        raise CheckpointError(f"{folder}: cannot list the folder ({exc.strerror or exc})") from exc
    for name in names:
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in _READ_FILE_PATTERNS):
            check_regular_file(folder / name)


def resolve_checkpoint(name_or_path: str | os.PathLike, *, allow_pickle: bool = False, **hub_kwargs: Any) -> Path:
    """Return a local folder for ``name_or_path`` (a folder, or a hub id downloaded with huggingface_hub).

    An existing folder is returned as is (``~`` expanded, symbolic links followed), without looking
    inside it: loading checks its files. Anything that exists locally but is not a folder (a file, a
    FIFO, a symbolic link loop, a dangling link) is refused without asking the hub. Anything else is
    taken as a hub repository id and fetched with ``huggingface_hub.snapshot_download`` into the hub
    cache; only configuration, tokenizer, safetensors and model-card files are downloaded (``*.json``,
    ``*.safetensors``, ``*.txt``, ``*.model``, ``tokenizer*``, ``*.md``; plus ``*.bin`` when
    ``allow_pickle``); ``*.py`` files are never fetched, so no code from a checkpoint can run.

    Args:
        name_or_path (str | PathLike): a local checkpoint folder or a hub id (``"owner/name"``).
            The current folder must be spelt ``"."``: an empty string is refused.
        allow_pickle (bool): also download ``*.bin`` (pickle) weights. Defaults to False.
        **hub_kwargs: passed to ``snapshot_download`` (``revision``, ``cache_dir``, ``token``,
            ``local_files_only``).

    Returns:
        Path: the local folder (the cache snapshot for a hub id).

    Raises:
        CheckpointError: ``name_or_path`` is empty or blank, or exists locally but is not a folder
            (a file, FIFO, device, symbolic link loop or dangling link); the message names it.
        FileNotFoundError: neither a folder nor a hub repository that can be fetched (offline,
            unknown id, no access); the message gives the hub error.
    """
    if not str(os.fspath(name_or_path)).strip():
        raise CheckpointError(
            f"checkpoint path {os.fspath(name_or_path)!r} is empty; pass a checkpoint folder (\".\" for the "
            "current folder) or a hub id"
        )
    path = Path(name_or_path).expanduser()
    if os.path.lexists(path):
        problem = _entry_problem(path, "folder")
        if problem:
            raise CheckpointError(f"{path}: {problem}")
        return path
    from huggingface_hub import snapshot_download

    patterns = _DOWNLOAD_PATTERNS + (["*.bin"] if allow_pickle else [])
    try:
        return Path(snapshot_download(str(name_or_path), allow_patterns=patterns, **hub_kwargs))
    except Exception as exc:  # offline, unknown repo, ...
        raise FileNotFoundError(
            f"{name_or_path!r} is not a local folder and could not be fetched from the Hugging Face hub "
            f"({type(exc).__name__}: {exc}). Offline, pass a local checkpoint folder."
        ) from exc


def _read_text(path: Path) -> str:
    """The UTF-8 text of ``path``; any failure is a CheckpointError naming it."""
    check_regular_file(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CheckpointError(
            f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at byte offset {exc.start})"
        ) from exc


def _read_json(path: Path) -> dict[str, Any]:
    if not os.path.lexists(path):
        raise CheckpointError(f"{path.parent}: no {path.name}; not a checkpoint folder")
    text = _read_text(path)
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointError(f"{path}: malformed JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


_JSON_NAMES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
               dict: "an object", type(None): "null"}
_ANNOTATION_NAMESPACE = {"torch": torch, "typing": typing, "Any": Any, "Optional": Optional, "Union": typing.Union,
                         "Literal": typing.Literal, "Sequence": typing.Sequence}


def _json_kinds(annotation: Any) -> Optional[tuple[set, Optional[tuple]]]:
    """(JSON types a value may have, allowed literal strings or None) for a config ``__init__``
    annotation; None when the annotation says nothing checkable (``Any``, a class of its own)."""
    if isinstance(annotation, str):
        try:
            annotation = eval(annotation, _ANNOTATION_NAMESPACE)  # noqa: S307 (annotations of installed classes)
        except Exception:  # an annotation naming a type we do not import
            return None
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        values = typing.get_args(annotation)
        return {type(v) for v in values}, values
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        kinds: set = set()
        literals: list = []
        for arg in typing.get_args(annotation):
            part = _json_kinds(arg)
            if part is None:
                return None
            kinds |= part[0]
            literals.extend(part[1] or ())
        return kinds, (tuple(literals) if literals and kinds <= {str, type(None)} else None)
    base = origin or annotation
    if base is torch.dtype:
        return {str}, None
    if base in (list, tuple, typing.Sequence) or (isinstance(base, type) and issubclass(base, (list, tuple))):
        return {list}, None
    if isinstance(base, type) and issubclass(base, dict):
        return {dict}, None
    if base in (int, float, bool, str, type(None)):
        return ({int, float} if base is float else {base}), None
    return None


# Options that backbone code reads with ``getattr(config, key, default)`` (not in any ``__init__``).
_UNDECLARED_KINDS: dict[str, tuple[set, Optional[tuple]]] = {
    "position_buckets": ({int}, None),            # DeBERTa-v2/v3 relative attention
    "share_att_key": ({bool}, None),
    "norm_rel_ebd": ({str}, None),
    "global_attn_every_n_layers": ({int}, None),  # ModernBERT, older configs
    "output_attentions": ({bool}, None),          # a property of every transformers config
}
# Keys every loader ignores whatever they hold (provenance only).
_INFORMATIONAL_KEYS = frozenset({"architectures", "auto_map", "transformers_version", "_name_or_path"})


@functools.lru_cache(maxsize=None)
def _declared_kinds(config_class: type) -> dict[str, tuple[set, Optional[tuple]]]:
    """Key -> allowed JSON types, from the ``__init__`` annotations of ``config_class`` and its bases,
    then from the attribute types of a default instance for options set from ``**kwargs``."""
    kinds: dict[str, tuple[set, Optional[tuple]]] = dict(_UNDECLARED_KINDS)
    try:
        defaults = vars(config_class())
    except Exception:  # a config class that needs arguments: annotations only
        defaults = {}
    for key, value in defaults.items():
        if value is not None and type(value) in (bool, int, float, str) and not key.startswith("_"):
            kinds[key] = ({int, float, type(None)} if type(value) is float else {type(value), type(None)}), None
    for cls in reversed(config_class.__mro__):
        init = cls.__dict__.get("__init__")
        if init is None:
            continue
        try:
            parameters = inspect.signature(init).parameters
        except (TypeError, ValueError):
            continue
        for name, parameter in parameters.items():
            if parameter.annotation is inspect.Parameter.empty:
                continue
            found = _json_kinds(parameter.annotation)
            if found is not None:
                kinds[name] = found
    return kinds


def _check_json_types(values: dict[str, Any], config_class: type, where: Path, prefix: str = "") -> None:
    """Refuse a value whose JSON type the config class does not declare for its key.

    The expected types come from the ``__init__`` annotations of ``config_class`` (transformers
    declares every backbone option this way): a bool is never taken for a number, a number in a
    string is not a number, an integer option refuses ``2.5``, a ``Literal`` option refuses other
    strings. Keys without a usable annotation are left to the config class.
    """
    declared = _declared_kinds(config_class)
    for key, value in values.items():
        if key not in declared or key in _INFORMATIONAL_KEYS:
            continue
        kinds, literals = declared[key]
        kind = type(value)
        ok = kind in kinds and not (kind is bool and bool not in kinds)
        if kind is int and float in kinds:
            ok = True
        if ok and literals is not None and isinstance(value, str) and value not in literals:
            raise CheckpointError(f"{where}: `{prefix}{key}` must be one of {list(literals)}, got {value!r}")
        if not ok:
            expected = " or ".join(sorted({_JSON_NAMES[k] for k in kinds if k in _JSON_NAMES}))
            raise CheckpointError(
                f"{where}: `{prefix}{key}` must be {expected}, got {_JSON_NAMES.get(kind, kind.__name__)} {value!r}"
            )


def _check_backbone_types(values: dict[str, Any], where: Path, prefix: str) -> None:
    """Type-check a backbone config dict against its transformers config class (by ``model_type``)."""
    from transformers import CONFIG_MAPPING

    model_type = values.get("model_type")
    if not isinstance(model_type, str) or not model_type:
        raise CheckpointError(f"{where}: `{prefix}model_type` must be a non-empty string, got {model_type!r}")
    if model_type not in CONFIG_MAPPING:
        return  # reported with the supported names when the model is built
    _check_json_types(values, CONFIG_MAPPING[model_type], where, prefix)


def _expect(raw: dict[str, Any], key: str, kinds: tuple[type, ...], where: Path, prefix: str = "") -> Any:
    """``raw[key]`` (None when absent) if it is null or one of ``kinds``; a bool is not a number."""
    value = raw.get(key)
    if value is None or (isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)):
        return value
    expected = " or ".join(sorted({_JSON_NAMES[k] for k in kinds}))
    raise CheckpointError(
        f"{where}: `{prefix}{key}` must be {expected} (or null), got {_JSON_NAMES.get(type(value), 'a value')} {value!r}"
    )


def _openprovence_threshold(raw: dict[str, Any], where: Path) -> float:
    value = _expect(raw, "default_threadshold", (int, float), where)
    if value is not None:
        return float(value)
    value = _expect(raw, "default_threshold", (int, float), where)
    if value is not None:
        warnings.warn(
            f"{where}: OpenProvence config uses `default_threshold`; the canonical key is the "
            "misspelt `default_threadshold`. Using it anyway.",
            RuntimeWarning,
            stacklevel=3,
        )
        return float(value)
    return DEFAULT_OPENPROVENCE_THRESHOLD


def _top_level_backbone(raw: dict[str, Any], model_type: str) -> dict[str, Any]:
    skip = {"auto_map", "architectures", "model_type", "transformers_version", "_name_or_path"}
    values = {k: v for k, v in raw.items() if k not in skip}
    values["model_type"] = model_type
    return values


def _backbone_dict(raw: dict[str, Any], where: Path, what: str) -> dict[str, Any]:
    base = raw.get("base_model_config")
    if not isinstance(base, dict) or "model_type" not in base:
        raise CheckpointError(
            f"{where}: {what} config has no `base_model_config` object with a `model_type` (got "
            f"{_JSON_NAMES.get(type(base), 'a value')}); it cannot be rebuilt offline"
        )
    _check_backbone_types(base, where, "base_model_config.")
    return base


def _check_window(config: TextPrunerConfig, where: Path) -> TextPrunerConfig:
    """The window (``max_length``) must fit the backbone's position embeddings."""
    positions = (config.base_model_config or {}).get("max_position_embeddings")
    if isinstance(positions, int) and not isinstance(positions, bool) and config.max_length > positions:
        raise CheckpointError(
            f"{where}: `max_length` {config.max_length} exceeds the backbone's `max_position_embeddings` "
            f"{positions}; windows that long could not be embedded"
        )
    return config


def read_pruner_config(folder: str | os.PathLike) -> TextPrunerConfig:
    """Read ``config.json`` of any supported family into a :class:`TextPrunerConfig`.

    Every key we read, and every backbone key whose type transformers declares, is type-checked
    (JSON types: a bool is not a number, ``"8"`` is not an integer); informational keys
    (``architectures``, ``auto_map``, ``transformers_version``, OpenProvence's ``mode``,
    ``vocab_size``, ...) are ignored whatever they hold.

    Raises:
        CheckpointError: missing, unreadable (a folder, FIFO, broken link), non-UTF-8 or malformed
            config; a value of the wrong JSON type (the message names the key); unknown
            ``model_type``; missing backbone config; ``max_length`` above the backbone's positions.
    """
    folder = Path(folder)
    where = folder / "config.json"
    raw = _read_json(where)
    model_type = raw.get("model_type")
    try:
        if model_type == TextPrunerConfig.model_type:
            values = {k: v for k, v in raw.items() if k not in ("model_type", "transformers_version", "architectures")}
            _backbone_dict(raw, where, "text_pruner")
            _check_json_types(values, TextPrunerConfig, where)
            return _check_window(TextPrunerConfig(**values), where)
        if model_type == "open_provence":
            base = _backbone_dict(raw, where, "OpenProvence")
            pruning = _expect(raw, "pruning_config", (dict,), where) or {}
            dropout = _expect(pruning, "classifier_dropout", (int, float), where, "pruning_config.")
            max_length = _expect(raw, "max_length", (int,), where)
            return _check_window(TextPrunerConfig(
                base_model_config=base,
                max_length=512 if max_length is None else max_length,
                default_threshold=_openprovence_threshold(raw, where),
                pruning_dropout=float(dropout or 0.0),
                source_format="open_provence",
                base_model_name_or_path=_expect(raw, "base_model_name_or_path", (str,), where),
            ), where)
        if model_type in ("Provence", "XProvence"):
            xlmr = model_type == "XProvence"
            backbone = _top_level_backbone(raw, "xlm-roberta" if xlmr else "deberta-v2")
            _check_backbone_types(backbone, where, "")
            positions = _expect(raw, "max_position_embeddings", (int,), where)
            return TextPrunerConfig(
                base_model_config=backbone,
                ranking_head="pooler_linear" if xlmr else "sequence_classification",
                ranking_activation="none",
                pruning_head_input="last_hidden_state",
                sentence_rounding="fraction_above_threshold",
                max_length=min(512, 512 if positions is None else positions),
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
        shards = [folder / name for name in _shard_names(index)]
        for shard in shards:
            if os.path.lexists(shard):
                check_regular_file(shard)
        return shards, False
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
    _check_folder_files(folder)
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
    _check_folder_files(folder)
    # Without vocabulary files transformers silently builds an empty tokenizer; refuse instead.
    if not any(next(folder.glob(pattern), None) is not None for pattern in _TOKENIZER_FILE_PATTERNS):
        raise CheckpointError(
            f"{folder}: no tokenizer files (tokenizer.json, vocab.txt, *.model, vocab.json + merges.txt); "
            "save the tokenizer next to the weights"
        )
    _check_tokenizer_files(folder)
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
        files = ", ".join(str(folder / name) for name in sorted(os.listdir(folder))
                          if name.startswith(("tokenizer", "special_tokens", "added_tokens", "vocab", "merges"))
                          or name.endswith(".model"))
        raise CheckpointError(
            f"{folder}: could not load a tokenizer from {files or 'its files'} ({type(exc).__name__}: {exc})"
        ) from exc
    _check_tokenizer(tokenizer, folder, backbone_config)
    return tokenizer


def _check_tokenizer_files(folder: Path) -> None:
    """Read each tokenizer file we know the format of, so that an error names the file."""
    for name in _TOKENIZER_JSON_FILES:
        if os.path.lexists(folder / name):
            _read_json(folder / name)
    for name in ("vocab.txt", "merges.txt"):
        if os.path.lexists(folder / name):
            _read_text(folder / name)
    if os.path.lexists(folder / "tokenizer.json"):  # parsed once, by the tokenizers library
        from tokenizers import Tokenizer

        text = _read_text(folder / "tokenizer.json")
        try:
            Tokenizer.from_str(text)
        except Exception as exc:  # tokenizers raises a bare Exception for a malformed file
            raise CheckpointError(
                f"{folder / 'tokenizer.json'}: not a valid tokenizers file ({type(exc).__name__}: {exc})"
            ) from exc


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


def _check_token_types(model: TextPrunerModel, tokenizer: Any, folder: Path) -> None:
    """The tokenizer's pair token type ids must fit the backbone's token-type embeddings."""
    types = tokenizer("probe", "text").get("token_type_ids")
    size = getattr(model.backbone_config, "type_vocab_size", None)
    if not types or not getattr(model, "_accepts_token_type_ids", False) or not isinstance(size, int) or size <= 0:
        return  # the backbone reads no token types (DeBERTa-v3 with 0 types, ModernBERT, XLM-R pooler heads)
    if max(types) >= size:
        raise CheckpointError(
            f"{folder / 'config.json'}: `type_vocab_size` is {size} but the tokenizer gives token type ids up "
            f"to {max(types)}; they would index past the token-type embeddings (a tokenizer from another model?)"
        )


def load_checkpoint(folder: str | os.PathLike, *, allow_pickle: bool = False) -> tuple[TextPrunerModel, Any]:
    """Load the model and the tokenizer of a local checkpoint folder and check they work together.

    Runs :func:`load_pruner_model` and :func:`load_tokenizer`, then checks that the token type ids
    of the tokenizer's pair template fit the backbone's token-type embeddings (token ids are checked
    against ``vocab_size`` by :func:`load_tokenizer`). No forward pass is run: a probe pass cost about
    a third of the load time on CPU, and these static checks catch the index errors it would find.

    Args:
        folder (str | PathLike): the checkpoint folder (see :func:`resolve_checkpoint`).
        allow_pickle (bool): accept ``pytorch_model.bin`` weights. Defaults to False.

    Returns:
        tuple: ``(model, tokenizer)``, the model in eval mode on CPU.

    Raises:
        CheckpointError: anything wrong with the folder's files (see :func:`load_pruner_model` and
            :func:`load_tokenizer`), or token type ids past the token-type embeddings.
    """
    folder = Path(folder)
    model = load_pruner_model(folder, allow_pickle=allow_pickle)
    tokenizer = load_tokenizer(folder, model.backbone_config)
    _check_token_types(model, tokenizer, folder)
    return model, tokenizer
