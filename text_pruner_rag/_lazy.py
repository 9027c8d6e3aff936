"""PEP 562 lazy exports for the package ``__init__`` files.

Each ``__init__`` is an index: a table ``{public name: submodule}``. A name's submodule is imported on
first attribute access, so ``import text_pruner_rag.chunking`` (pure Python) loads neither torch nor
transformers, while ``from text_pruner_rag import TextPruner`` works as before.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable


def attach(package: str, exports: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for a package whose public names live in submodules.

    Args:
        package (str): the package's ``__name__``.
        exports (dict[str, str]): public name -> submodule, relative (``".pruner"``) or absolute.

    Returns:
        tuple: the module-level ``__getattr__(name)`` (imports the submodule, caches the value in the
        package namespace, raises ``AttributeError`` for unknown names) and ``__dir__()``.
    """

    def __getattr__(name: str) -> Any:
        module_name = exports.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module_name, package), name)
        setattr(importlib.import_module(package), name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(exports) | set(vars(importlib.import_module(package))))

    return __getattr__, __dir__
