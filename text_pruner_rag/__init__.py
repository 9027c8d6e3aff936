"""text-pruner-rag: query-dependent context pruning and reranking for RAG (Provence method).

Public API::

    from text_pruner_rag import TextPruner
    pruner = TextPruner.from_pretrained()
    result = pruner.prune(query, context)

This file is an index: every public name is imported from its module on first use (PEP 562), so
``import text_pruner_rag.chunking`` or ``import text_pruner_rag.records`` loads neither torch nor
transformers. The LangChain and LlamaIndex adapters live in ``text_pruner_rag.integrations`` and are
never imported from here.

transformers' ``AutoConfig``/``AutoModel`` know our ``model_type`` once :mod:`text_pruner_rag.modeling`
is imported: by any use of :class:`TextPruner`, :class:`TextPrunerModel` or :class:`TextPrunerConfig`,
and by ``import text_pruner_rag`` itself when transformers is already imported (the usual
``from transformers import AutoModel`` then ``import text_pruner_rag``).
"""

import sys
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from ._lazy import attach

try:
    __version__ = version("text-pruner-rag")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

_EXPORTS = {
    "TextPruner": ".pruner",
    "PruningResult": ".results",
    "SentenceScore": ".results",
    "RankedContext": ".results",
    "PruningPolicy": ".policy",
    "LanguageRouter": ".routing",
    "Pruner": ".protocols",
    "TextPrunerConfig": ".modeling",
    "TextPrunerModel": ".modeling",
}
__all__ = [*_EXPORTS, "__version__"]
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .modeling import TextPrunerConfig, TextPrunerModel
    from .policy import PruningPolicy
    from .protocols import Pruner
    from .routing import LanguageRouter
    from .pruner import TextPruner
    from .results import PruningResult, RankedContext, SentenceScore

if "transformers" in sys.modules:  # transformers already in use: register our Auto classes right away
    from . import modeling  # noqa: F401
