"""LangChain and LlamaIndex adapters for :class:`~text_pruner_rag.TextPruner`.

Index (names are imported on first use, so importing this package pulls in neither framework):

- :class:`~text_pruner_rag.integrations.langchain.TextPrunerCompressor`, a LangChain
  ``BaseDocumentCompressor``, and :class:`~text_pruner_rag.integrations.langchain.TextPrunerCrossEncoder`,
  a LangChain ``BaseCrossEncoder`` (``pip install "text-pruner-rag[langchain]"``), and
  :class:`~text_pruner_rag.integrations.langchain_retriever.TextPrunerRetriever`, a LangChain
  ``BaseRetriever`` (a base retriever + the compressor, ``k`` results);
- :class:`~text_pruner_rag.integrations.llama_index.TextPrunerPostprocessor`, a LlamaIndex
  ``BaseNodePostprocessor`` (``pip install "text-pruner-rag[llama-index]"``);
- :class:`~text_pruner_rag.integrations.settings.PrunerSettings`: the options both adapters share and
  the order they apply them in, the ``on_error`` failure policy and how metadata is copied (see that
  module);
- :class:`~text_pruner_rag.protocols.Pruner`: what the adapters need from a pruner.
"""

from .._lazy import attach

_EXPORTS = {
    "TextPrunerCompressor": ".langchain",
    "TextPrunerCrossEncoder": ".langchain",
    "TextPrunerRetriever": ".langchain_retriever",
    "TextPrunerPostprocessor": ".llama_index",
    "PrunerSettings": ".settings",
    "OnEmpty": ".settings",
    "OnError": ".settings",
    "Pruner": "text_pruner_rag.protocols",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = attach(__name__, _EXPORTS)
