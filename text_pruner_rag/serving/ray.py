"""Scale out on Ray Serve: one replica per model copy, ``@serve.batch`` for batching, the same routes.

Ray Serve routes each request to one of ``num_replicas`` replicas (each loads its own copy of the
model, on any node of the Ray cluster) and batches the requests a replica receives with
``@serve.batch``: at most ``max_batch`` token windows (counted by ``batch_size_fn``, the same estimate
as the single-process server) or ``max_wait_ms`` of waiting. A batch runs through the same code as
:func:`~text_pruner_rag.serving.create_app` (merged ``predict`` for reranking, one ``prune_batch`` per
set of options), and the routes, request models, limits and errors are the same
(:class:`~text_pruner_rag.serving.app.Service`). When ``max_queue`` requests wait for a replica, Ray
Serve answers 503 itself.

Needs ``pip install text-pruner-rag[serve] "ray[serve]"``. Example::

    from ray import serve
    from text_pruner_rag.serving.ray import build_app

    serve.run(build_app(num_replicas=2), route_prefix="/")   # http://127.0.0.1:8000/rerank
"""

import asyncio
from typing import Any, Optional

# Real classes in the route annotations (no ``from __future__ import annotations``): Ray pickles the
# deployment class by value, and FastAPI on the replica reads the request models from them.
from .schemas import CohereRerankRequest, PruneRequest, RerankRequest

__all__ = ["build_app"]


def _windows(jobs: list) -> int:
    """``batch_size_fn`` of ``@serve.batch``: a batch's size in estimated token windows."""
    return sum(job.windows for job in jobs)


def build_app(
    model: Optional[str] = None,
    *,
    num_replicas: int = 1,
    max_batch: int = 64,
    max_wait_ms: float = 5.0,
    max_queue: int = 256,
    batch_size: Optional[int] = None,
    limits: Any = None,
    pruner_options: Optional[dict] = None,
    ray_actor_options: Optional[dict] = None,
) -> Any:
    """A bound Ray Serve application serving ``/rerank``, ``/v2/rerank``, ``/prune``, ``/health``, ``/info``.

    Args:
        model (str, optional): checkpoint folder or hub id each replica loads; None: the embedded default.
        num_replicas (int): model copies (Ray actors). Defaults to 1.
        max_batch (int): token windows per ``@serve.batch`` batch of one replica (>= 1). Defaults to 64.
        max_wait_ms (float): how long a replica waits to fill a batch, in milliseconds. Defaults to 5.
        max_queue (int): requests waiting per deployment before Ray Serve answers 503. Defaults to 256.
        batch_size (int, optional): windows per forward pass; None: the pruner's.
        limits (ServerLimits, optional): request size limits (413). Defaults to ``ServerLimits()``.
        pruner_options (dict, optional): keyword arguments of ``TextPruner.from_pretrained`` (device,
            backend, quantize, language, ...).
        ray_actor_options (dict, optional): resources of each replica, e.g. ``{"num_cpus": 1}``.

    Returns:
        ray.serve.Application: pass it to ``serve.run``.

    Raises:
        ImportError: ray (``ray[serve]``) or FastAPI is not installed.
        ValueError: a knob out of range.
    """
    try:
        from fastapi import FastAPI
        from ray import serve
    except ImportError as exc:
        raise ImportError(f"the Ray Serve deployment needs ray[serve] and fastapi ({exc}); install them with "
                          "pip install text-pruner-rag[serve] \"ray[serve]\"") from exc
    from .app import BodyLimit, ServerLimits, Service, _Runner, add_error_handlers, info_of

    for name, value in (("num_replicas", num_replicas), ("max_batch", max_batch), ("max_queue", max_queue)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be an integer >= 1, got {value!r}")
    if isinstance(max_wait_ms, bool) or not isinstance(max_wait_ms, (int, float)) or not max_wait_ms >= 0:
        raise ValueError(f"`max_wait_ms` must be a number >= 0, got {max_wait_ms!r}")
    limits = limits or ServerLimits()
    options = dict(pruner_options or {})
    if batch_size is not None:
        options["batch_size"] = batch_size
    batching = {"max_batch": max_batch, "max_wait_ms": float(max_wait_ms), "max_queue": max_queue,
                "batch_size": batch_size, "num_replicas": num_replicas}
    app = FastAPI(title="text-pruner-rag (Ray Serve)")
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)
    add_error_handlers(app)

    @serve.deployment(name="TextPruner", num_replicas=num_replicas, max_queued_requests=max_queue,
                      ray_actor_options=ray_actor_options or {})
    @serve.ingress(app)
    class TextPrunerDeployment:
        def __init__(self) -> None:
            from ..pruner import TextPruner

            pruner = TextPruner.from_pretrained(model, **options)
            self.runner = _Runner(pruner, batch_size)
            self.service = Service(pruner, self._execute, self.runner, limits)
            self.info = info_of(pruner, batching, limits)

        @serve.batch(max_batch_size=max_batch, batch_wait_timeout_s=max_wait_ms / 1000.0, batch_size_fn=_windows)
        async def _batch(self, jobs: list) -> list:
            await asyncio.to_thread(self.runner, jobs)  # the model runs off the replica's event loop
            return jobs

        async def _execute(self, job) -> None:
            done = await self._batch(job)
            job.result, job.error = done.result, done.error

        @app.post("/rerank")
        async def rerank(self, body: RerankRequest) -> list[dict]:
            return await self.service.rerank(body)

        @app.post("/v2/rerank")
        async def cohere_rerank(self, body: CohereRerankRequest) -> dict:
            return await self.service.cohere_rerank(body)

        @app.post("/prune")
        async def prune(self, body: PruneRequest) -> dict:
            return await self.service.prune(body)

        @app.get("/health")
        async def health(self) -> dict:
            return {"status": "ok"}

        @app.get("/info")
        async def get_info(self) -> dict:
            return {**self.info, "replica": serve.get_replica_context().replica_id.unique_id}

    return TextPrunerDeployment.bind()
