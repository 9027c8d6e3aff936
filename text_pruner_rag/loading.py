"""Loading: device and dtype names, the embedded models' folders, checkpoint loading, the weights digest.

Nothing here runs a model. :func:`embedded_model_dir` is the one place that knows where an embedded
model's files are; everything else (``TextPruner.from_pretrained``, the command line, the model cards)
asks it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Optional, Union

import torch

from . import registry

__all__ = [
    "DEFAULT_MODEL_NAME",
    "JAPANESE_MODEL_NAME",
    "EMBEDDED_MODELS",
    "default_model_path",
    "embedded_model_dir",
    "embedded_model_names",
    "is_embedded_name",
    "load_checkpoint",
    "resolve_device",
    "resolve_dtype",
    "weights_digest",
]

PRETRAINED_DIR = registry.SOURCE_DIR
"""Checkpoints of a source checkout (the code wheel has none; models come from their distributions)."""
DEFAULT_MODEL_NAME = registry.DEFAULT_MODEL
"""The embedded default (English) model."""
JAPANESE_MODEL_NAME = "text-pruner-e5-small-ja-en"
"""The embedded bilingual (English + Japanese) model (the ``[ja]`` extra); the default model sends
Japanese calls to it when it is installed."""
EMBEDDED_MODELS = (DEFAULT_MODEL_NAME, JAPANESE_MODEL_NAME)
"""The models built in this repository (for the command line and tests); loading finds models through
:mod:`text_pruner_rag.registry` (installed model distributions), not through this tuple."""


def embedded_model_names() -> tuple[str, ...]:
    """Names of the embedded models installed here, the default first (see :mod:`~text_pruner_rag.registry`)."""
    names = list(registry.installed_models())
    return tuple(sorted(names, key=lambda name: name != DEFAULT_MODEL_NAME))


def embedded_model_dir(name: str) -> Optional[Path]:
    """Folder of the embedded model ``name`` (holding its ``config.json``), or None if it is not installed.

    Args:
        name (str): an embedded model name, see :func:`embedded_model_names`.

    Returns:
        Path | None: the folder; None when no installed model distribution registers ``name``.
    """
    return registry.installed_models().get(name)


def default_model_path(name: str = DEFAULT_MODEL_NAME) -> Path:
    """Folder of an installed embedded model (by default the default English model); see
    :func:`text_pruner_rag.registry.checkpoint_dir`.

    Raises:
        ValueError: ``name`` is not an embedded model.
        FileNotFoundError: (:class:`~text_pruner_rag.registry.ModelNotInstalledError`) its model
            distribution is not installed; the message names the pip command.
    """
    return registry.checkpoint_dir(name)


def is_embedded_name(name_or_path: Any) -> bool:
    """Whether ``name_or_path`` names an embedded model (and no local folder of that name exists)."""
    return registry.is_model_name(str(name_or_path)) and not Path(name_or_path).exists()


def weights_digest(name_or_path: Optional[Union[str, os.PathLike]]) -> Optional[str]:
    """First 16 hex digits of the SHA-256 of a checkpoint's ``model.safetensors``, to tell versions apart.

    Args:
        name_or_path: a checkpoint folder, an embedded model name, or None (the embedded default).

    Returns:
        str | None: the digest; None when the folder has no ``model.safetensors``.

    Raises:
        FileNotFoundError: an embedded model that is not installed.
    """
    if name_or_path is None or is_embedded_name(name_or_path):
        folder = default_model_path(str(name_or_path or DEFAULT_MODEL_NAME))
    else:
        folder = Path(name_or_path).expanduser()
    weights = folder / "model.safetensors"
    if not weights.is_file():
        return None
    digest = hashlib.sha256()
    with weights.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def load_checkpoint(
    name_or_path: Optional[Union[str, os.PathLike]], *, allow_pickle: bool = False, **hub: Any
) -> tuple[Any, Any, Path, Optional[str]]:
    """Read a checkpoint: ``(model, tokenizer, folder, embedded name or None)``.

    Args:
        name_or_path: None (the embedded default), an embedded model name, a folder or a hub id.
        allow_pickle (bool): accept ``pytorch_model.bin`` weights.
        **hub: ``revision``, ``token``, ``cache_dir``, ``local_files_only`` (None values are dropped).

    Raises:
        FileNotFoundError: the path does not exist and the hub cannot be reached, or an embedded model
            is missing.
        CheckpointError: the checkpoint is malformed.
    """
    from .checkpoints import load_checkpoint as load_model_and_tokenizer
    from .checkpoints import resolve_checkpoint

    embedded = None
    if name_or_path is None:
        embedded = DEFAULT_MODEL_NAME
    elif is_embedded_name(name_or_path):
        embedded = str(name_or_path)
    if embedded:
        folder = default_model_path(embedded)
    else:
        folder = resolve_checkpoint(name_or_path, allow_pickle=allow_pickle,
                                    **{k: v for k, v in hub.items() if v is not None})
    model, tokenizer = load_model_and_tokenizer(folder, allow_pickle=allow_pickle)
    return model, tokenizer, Path(folder), embedded


_DEVICE_HELP = "use 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto'"


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def resolve_device(device: Optional[str]) -> torch.device:
    """The torch device for a device name: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``, ``"auto"``/None.

    ``"auto"``/None picks CUDA, then MPS, then CPU.

    Raises:
        ValueError: an unknown name, or a device that does not exist on this machine.
    """
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"invalid device {device!r}; {_DEVICE_HELP}") from exc
    if resolved.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"invalid device {device!r}; {_DEVICE_HELP}")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available; use 'cpu' or 'auto'")
    if resolved.type == "cuda" and resolved.index is not None and resolved.index >= torch.cuda.device_count():
        raise ValueError(f"device {device!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
    if resolved.type == "mps" and not _mps_available():
        raise ValueError(f"device {device!r} requested but MPS is not available; use 'cpu' or 'auto'")
    return resolved


_DTYPES = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16,
           "fp16": torch.float16, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}


def resolve_dtype(dtype: Any) -> Optional[torch.dtype]:
    """The torch dtype for a name (``"float32"``, ``"bf16"``, ...) or a ``torch.dtype``; None for None/``"auto"``.

    Raises:
        ValueError: an unknown name.
    """
    if dtype is None or dtype == "auto":
        return None
    if isinstance(dtype, torch.dtype):
        return dtype
    if not isinstance(dtype, str) or dtype not in _DTYPES:
        raise ValueError(f"invalid dtype {dtype!r}; use one of {sorted(_DTYPES)} or a torch.dtype")
    return _DTYPES[dtype]
