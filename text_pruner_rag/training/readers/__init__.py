"""Old import path of :mod:`text_pruner_rag.data.readers`, kept for existing imports.

The readers live in :mod:`text_pruner_rag.data.readers` (shared by training and evaluation); each
``text_pruner_rag.training.readers.<family>`` module is the very ``text_pruner_rag.data.readers.<family>``
module, and the names below resolve to the same objects.
"""

from ..._lazy import attach
from ...data.readers import _EXPORTS as _DATA_EXPORTS

_EXPORTS = {name: "text_pruner_rag.data.readers" for name in _DATA_EXPORTS}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = attach(__name__, _EXPORTS)
