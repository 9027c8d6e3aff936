"""text-pruner-rag: query-dependent context pruning and reranking for RAG (Provence method).

Public API::

    from text_pruner_rag import TextPruner
    pruner = TextPruner.from_pretrained()
    result = pruner.prune(query, context)

Importing the package registers :class:`TextPrunerConfig`/:class:`TextPrunerModel` with transformers'
``AutoConfig``/``AutoModel``. The LangChain and LlamaIndex adapters live in
``text_pruner_rag.integrations`` and are never imported from here.
"""

from importlib.metadata import PackageNotFoundError, version

from .modeling import TextPrunerConfig, TextPrunerModel
from .policy import PruningPolicy
from .pruner import TextPruner
from .results import PruningResult, RankedContext, SentenceScore

try:
    __version__ = version("text-pruner-rag")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = [
    "TextPruner",
    "PruningResult",
    "SentenceScore",
    "RankedContext",
    "PruningPolicy",
    "TextPrunerConfig",
    "TextPrunerModel",
    "__version__",
]
