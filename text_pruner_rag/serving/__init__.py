"""Serve a pruner over HTTP: ``/rerank`` (text-embeddings-inference shape), ``/v2/rerank`` (Cohere v2
shape), ``/prune``, ``/health``, ``/info``, with concurrent requests batched together.

Needs the ``serve`` extra (``pip install text-pruner-rag[serve]``: FastAPI and uvicorn); the Ray Serve
deployment (:mod:`text_pruner_rag.serving.ray`) also needs ``ray[serve]``. Names are imported on first
use, so ``import text_pruner_rag.serving`` loads neither FastAPI nor torch.
"""

from typing import TYPE_CHECKING

from .._lazy import attach

_EXPORTS = {
    "create_app": ".app",
    "ServerLimits": ".app",
    "Batcher": ".batching",
    "ThreadedServer": ".server",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .app import ServerLimits, create_app
    from .batching import Batcher
    from .server import ThreadedServer
