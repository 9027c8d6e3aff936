"""The ``text-pruner-e5-small-ja-en`` checkpoint of text-pruner-rag: bilingual english + japanese context pruner and reranker.

This distribution holds data only: the weights (``model.safetensors``), the tokenizer, ``config.json``
and the model card (``README.md``) in the ``checkpoint`` folder next to this file. text-pruner-rag finds
it through the ``text_pruner_rag.models`` entry point ``text-pruner-e5-small-ja-en``, so
``TextPruner.from_pretrained("text-pruner-e5-small-ja-en")`` loads it offline.
"""

from pathlib import Path

__all__ = ["NAME", "checkpoint_path"]

NAME = "text-pruner-e5-small-ja-en"
"""The model's name, as given to ``TextPruner.from_pretrained``."""


def checkpoint_path() -> Path:
    """Folder of the checkpoint (``config.json``, ``model.safetensors``, tokenizer files, ``README.md``).

    Returns:
        Path: an absolute path inside the installed package.

    Raises:
        FileNotFoundError: the folder or its ``config.json`` is missing (a broken install).
    """
    path = Path(__file__).resolve().parent / "checkpoint"
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"the checkpoint of {NAME} is missing ({path}); reinstall {NAME}")
    return path
