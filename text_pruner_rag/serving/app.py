"""The ASGI app: ``/rerank``, ``/v2/rerank``, ``/prune``, ``/health``, ``/info`` over one pruner.

:func:`create_app` wraps a loaded pruner (:class:`~text_pruner_rag.TextPruner` or anything with its
``predict``/``rank``/``prune_many``) in a FastAPI app. One model thread runs every request; concurrent
requests are merged (:mod:`~text_pruner_rag.serving.batching`):

- reranking requests (``/rerank``, ``/v2/rerank``) become one ``pruner.predict(pairs)`` call, whatever
  their queries, so different queries share forward passes (a request the embedded default model
  routes to its bilingual model, i.e. with Japanese in its query or texts, runs alone through
  ``pruner.rank``, so that all its scores come from one model, as in the Python API);
- pruning requests (``/prune``) with the same options and language become one ``prune_batch`` call,
  whatever their queries: each request is one query of it, so its ``token_budget`` spans its own
  contexts only and its results equal its own ``prune_many`` (with the embedded default model, each
  request is read by the model its own query and contexts pick).

Status codes: 200; 404/405 for unknown routes and methods; 413 for a body, a text count or a character
count over :class:`ServerLimits`; 422 for a body that is not valid JSON of the route's shape, or a value
the Python API refuses (same checks and messages: empty query, threshold outside ``[0, 1]``, ...); 503
when the request queue is full (``Retry-After: 1``) or the model thread is not running. Errors are
``{"error": message, "error_type": kind}`` (text-embeddings-inference's error shape).
"""

from __future__ import annotations

import logging
import math
import uuid
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any, Awaitable, Callable, Optional, Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from ..loading import weights_digest
from ..policy import PruningPolicy, check_threshold
from ..results import pruning_json
from .batching import Batcher, Job, QueueFull, split_back
from .schemas import PRUNING_OPTIONS, CohereRerankRequest, PruneRequest, RerankRequest

logger = logging.getLogger(__name__)

__all__ = ["create_app", "ServerLimits", "Service", "pruning_json", "add_error_handlers", "BodyLimit", "info_of"]


@dataclass(frozen=True)
class ServerLimits:
    """Request size limits; a request over one gets a 413.

    Args:
        max_body_bytes (int): bytes of a request body. Defaults to 8 MiB.
        max_texts (int): texts (``texts``, ``documents`` or ``contexts``) in one request. Defaults to 1,000.
        max_characters (int): characters of the query and all texts of one request together. Defaults to 2,000,000.
    """

    max_body_bytes: int = 8 * 1024 * 1024
    max_texts: int = 1000
    max_characters: int = 2_000_000

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be an integer >= 1, got {value!r}")


class _HTTPError(Exception):
    def __init__(self, status: int, message: str, error_type: str, headers: Optional[dict] = None) -> None:
        super().__init__(message)
        self.status, self.message, self.error_type, self.headers = status, message, error_type, headers


def _error(status: int, message: str, error_type: str, headers: Optional[dict] = None) -> JSONResponse:
    return JSONResponse({"error": message, "error_type": error_type}, status_code=status, headers=headers)


def _finite(value: Any) -> Optional[float]:
    """``value`` as a float, or None for None, NaN and infinities (JSON has no such numbers)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


# -- request checks (the Python API's rules, before anything is queued) ----------------------------
def _check_text(text: str, name: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _HTTPError(422, f"`{name}` is not valid Unicode: lone surrogate at position {exc.start}",
                         "validation") from None


def _check_request(query: str, texts: Sequence[Any], field: str, limits: ServerLimits) -> None:
    if not query.strip():
        raise _HTTPError(422, "`query` must not be empty", "validation")
    if len(texts) > limits.max_texts:
        raise _HTTPError(413, f"`{field}` holds {len(texts)} texts; this server accepts at most "
                              f"{limits.max_texts} per request", "payload_too_large")
    characters = len(query) + sum(len(t) if isinstance(t, str) else sum(map(len, t)) for t in texts)
    if characters > limits.max_characters:
        raise _HTTPError(413, f"the request holds {characters} characters; this server accepts at most "
                              f"{limits.max_characters} per request", "payload_too_large")
    _check_text(query, "query")
    for i, text in enumerate(texts):
        for j, part in enumerate([text] if isinstance(text, str) else text):
            _check_text(part, f"{field}[{i}]" if isinstance(text, str) else f"{field}[{i}][{j}]")


def _policy(options: dict, default_threshold: float) -> PruningPolicy:
    try:
        return PruningPolicy.from_options(**options).resolve(default_threshold)
    except (TypeError, ValueError) as exc:
        raise _HTTPError(422, str(exc), "validation") from None


def _top_n(value: Optional[int]) -> Optional[int]:
    if value is not None and value < 0:
        raise _HTTPError(422, f"`top_n` must be >= 0, got {value}", "validation")
    return value


# -- the model side: what the model thread runs -----------------------------------------------------
class _Runner:
    """Runs a batch of jobs on the pruner (in the model thread)."""

    def __init__(self, pruner: Any, batch_size: Optional[int]) -> None:
        self.pruner, self.batch_size = pruner, batch_size

    def windows(self, query: str, texts: Sequence[Any]) -> int:
        """Estimated token windows of a request: about 4 characters per token, at least 1 per text."""
        max_length = int(getattr(self.pruner, "max_length", 512) or 512)
        per_window = 4 * max(16, max_length - len(query) // 4 - 4)
        sizes = (len(t) if isinstance(t, str) else sum(map(len, t)) for t in texts)
        return max(1, sum(max(1, -(-size // per_window)) for size in sizes))

    def __call__(self, jobs: list[Job]) -> None:
        groups: dict[tuple, list[Job]] = {}
        for job in jobs:
            group = self._model_of(job) if job.kind == "score" else job.group
            groups.setdefault((job.kind, group), []).append(job)
        for (kind, group), members in groups.items():
            if kind == "score":
                self._guarded(lambda members, model=group: self._score(model, members), members)
            else:
                self._guarded(self._prune_group, members)

    def _model_of(self, job: Job) -> Any:
        """The model that reads a rerank request whole, as ``rerank`` picks it (the router's
        ``model_for``); requests read by the same model share one ``predict`` call. A bad request
        gets its own group, so its error reaches it alone."""
        model_for = getattr(self.pruner, "model_for", None)
        if model_for is None:
            return self.pruner
        try:
            return model_for(*job.payload)
        except (TypeError, ValueError):
            return object()

    def _guarded(self, run, jobs: list[Job]) -> None:
        """Run merged jobs; when the merged call refuses its input, run each job alone so only the bad one fails."""
        try:
            run(jobs)
        except (TypeError, ValueError) as exc:
            if len(jobs) == 1:
                jobs[0].error = exc
            else:
                for job in jobs:
                    self._guarded(run, [job])

    def _score(self, model: Any, jobs: list[Job]) -> None:
        """Every pair of every job in one ``predict`` call of ``model`` (different queries share forward
        passes); scores equal each request's own ``rerank``, since the same model reads all of it."""
        if not hasattr(model, "predict"):  # the group of a request the router refused: its own error
            model = self.pruner
        pairs = [(job.payload[0], text) for job in jobs for text in job.payload[1]]
        scores = model.predict(pairs, batch_size=self.batch_size).tolist() if pairs else []
        for job, part in zip(jobs, split_back(scores, [len(job.payload[1]) for job in jobs])):
            job.result = [_finite(s) for s in part]

    def _prune_group(self, jobs: list[Job]) -> None:
        """Jobs with one policy and language, whatever their queries: one ``prune_batch`` call, each job
        one query of it, so each keeps its own ``token_budget`` and results equal its own ``prune_many``.

        A pruner without ``prune_batch`` gets one ``prune_many`` per query (per job with a token budget).
        """
        _, _, policy, language, _ = jobs[0].payload
        prune_batch = getattr(self.pruner, "prune_batch", None)
        if prune_batch is None:
            self._prune_by_query(jobs)
            return
        titles = [job.payload[4] for job in jobs]
        results = prune_batch([job.payload[0] for job in jobs], [list(job.payload[1]) for job in jobs],
                              policy=policy, language=language, batch_size=self.batch_size,
                              title=titles if any(t is not None for t in titles) else None)
        for job, part in zip(jobs, results):
            job.result = part

    def _prune_by_query(self, jobs: list[Job]) -> None:
        """One ``prune_many`` per query over the contexts of its jobs (per job when a budget spans the call
        or the job has a title)."""
        by_query: dict[Any, list[Job]] = {}
        for job in jobs:
            alone = job.payload[2].token_budget is not None or job.payload[4] is not None
            by_query.setdefault(object() if alone else job.payload[0], []).append(job)
        for members in by_query.values():
            query, _, policy, language, title = members[0].payload
            contexts = [c for job in members for c in job.payload[1]]
            results = self.pruner.prune_many(query, contexts, policy=policy, language=language, title=title,
                                             batch_size=self.batch_size) if contexts else []
            for job, part in zip(members, split_back(results, [len(job.payload[1]) for job in members])):
                job.result = part


def _raw(score: Optional[float], activation: str) -> Optional[float]:
    """The ranking logit of a score: the inverse sigmoid for a sigmoid checkpoint (``p`` clipped to
    ``[1e-7, 1 - 1e-7]``, so a float32-saturated score gives about +-16.1), else the score itself."""
    if score is None or activation != "sigmoid":
        return score
    p = min(max(score, 1e-7), 1.0 - 1e-7)
    return math.log(p) - math.log1p(-p)


def _ranked(scores: Sequence[Optional[float]]) -> list[int]:
    """Indices by descending score; ties keep input order; None (no text to score) last."""
    return sorted(range(len(scores)), key=lambda i: (scores[i] is None, -(scores[i] or 0.0)))


def _weights_digest(name_or_path: Optional[str]) -> Optional[str]:
    try:
        return weights_digest(name_or_path) if name_or_path is not None else None
    except Exception:  # noqa: BLE001 - a hub id or a missing file: no digest to show
        return None


class Service:
    """What the routes do, whatever carries jobs to the model (a :class:`Batcher` thread in
    :func:`create_app`, Ray Serve's ``@serve.batch`` in :mod:`text_pruner_rag.serving.ray`).

    Args:
        pruner: the loaded pruner.
        execute: ``async (job) -> None``: runs a job through ``runner`` (sets its result or error); may
            raise an HTTP error of its own (503 when full).
        runner (_Runner): the batch runner (windows estimate, merge groups, model calls).
        limits (ServerLimits): request size limits.
    """

    def __init__(self, pruner: Any, execute: Callable[[Job], Awaitable[None]], runner: "_Runner",
                 limits: ServerLimits) -> None:
        self.pruner, self.execute, self.runner, self.limits = pruner, execute, runner, limits
        config = getattr(getattr(pruner, "model", None), "config", None)
        self.activation = getattr(config, "ranking_activation", "sigmoid")

    async def run(self, job: Job) -> Any:
        await self.execute(job)
        if isinstance(job.error, (TypeError, ValueError)):
            raise _HTTPError(422, " ".join(str(job.error).split()), "validation")
        if job.error is not None:
            logger.error("request failed: %r", job.error)
            raise _HTTPError(500, f"internal error: {type(job.error).__name__}", "backend")
        return job.result

    async def scores(self, query: str, texts: list[str]) -> list[Optional[float]]:
        """Reranking scores (None: no text to score), input order."""
        runner = self.runner
        return await self.run(Job("score", (query, texts), runner.windows(query, texts)))

    async def pruned(self, query: str, contexts: list, policy: PruningPolicy, language: Optional[str],
                     title: Any = None) -> list:
        """PruningResults, input order (merged with requests of the same policy and language, whatever
        their query: one ``prune_batch`` call in which each request keeps its own token budget and titles)."""
        return await self.run(Job("prune", (query, contexts, policy, language, title),
                                  self.runner.windows(query, contexts), (policy, language)))

    async def rerank(self, body: RerankRequest) -> list[dict]:
        """Text-embeddings-inference ``/rerank``: ``[{"index", "score", "text"?}]``, best first."""
        _check_request(body.query, body.texts, "texts", self.limits)
        values = await self.scores(body.query, body.texts)
        out = []
        for i in _ranked(values):
            score = _raw(values[i], self.activation) if body.raw_scores else values[i]
            entry: dict[str, Any] = {"index": i, "score": score}
            if body.return_text:
                entry["text"] = body.texts[i]
            out.append(entry)
        return out

    async def cohere_rerank(self, body: CohereRerankRequest) -> dict:
        """Cohere v2 ``/rerank``: ``{"id", "results": [{"index", "relevance_score"}], "meta"}``, best first."""
        _check_request(body.query, body.documents, "documents", self.limits)
        top_n = _top_n(body.top_n)
        spans = body.relevant_spans if body.relevant_spans and body.relevant_spans.mode == "enabled" else None
        if spans is None:
            values = await self.scores(body.query, body.documents)
            results = [{"index": i, "relevance_score": values[i]} for i in _ranked(values)]
        else:
            results = await _with_spans(body, spans, self.pruned, self.pruner.default_threshold)
        return {"id": str(uuid.uuid4()), "results": results if top_n is None else results[:top_n],
                "meta": {"api_version": {"version": "2"}}}

    async def prune(self, body: PruneRequest) -> dict:
        """``{"results": [the CLI's prune --json object per context]}``, in input order."""
        _check_request(body.query, body.contexts, "contexts", self.limits)
        policy = _policy({name: getattr(body, name) for name in PRUNING_OPTIONS}, self.pruner.default_threshold)
        results = await self.pruned(body.query, body.contexts, policy, body.language, body.title)
        return {"results": [pruning_json(r, policy) for r in results]}


# -- the app ---------------------------------------------------------------------------------------
def create_app(
    pruner: Any,
    *,
    max_batch: int = 64,
    max_wait_ms: float = 5.0,
    max_queue: int = 256,
    batch_size: Optional[int] = None,
    limits: Optional[ServerLimits] = None,
) -> FastAPI:
    """A FastAPI app serving ``pruner`` (see the module docstring for routes and status codes).

    Args:
        pruner: a loaded :class:`~text_pruner_rag.TextPruner` (or an object with its ``predict``,
            ``rank``, ``prune_many``, ``default_threshold`` and ``name_or_path``).
        max_batch (int): token windows per merged batch of requests (>= 1; 1 = no merging). Defaults to 64.
        max_wait_ms (float): milliseconds the model thread waits for more requests after the first
            (>= 0). Defaults to 5.
        max_queue (int): requests waiting at most; more get a 503. Defaults to 256.
        batch_size (int, optional): windows per forward pass; None: the pruner's.
        limits (ServerLimits, optional): request size limits. Defaults to ``ServerLimits()``.

    Returns:
        FastAPI: the app; the model thread starts and stops with its lifespan (uvicorn runs it).
        ``app.state.batcher`` is the :class:`~text_pruner_rag.serving.batching.Batcher`.

    Raises:
        ValueError: a batching knob or limit out of range.
    """
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"`batch_size` must be an integer >= 1 or None, got {batch_size!r}")
    limits = limits or ServerLimits()
    runner = _Runner(pruner, batch_size)
    batcher = Batcher(runner, max_batch=max_batch, max_wait_ms=max_wait_ms, max_queue=max_queue)
    info = info_of(pruner, {"max_batch": max_batch, "max_wait_ms": float(max_wait_ms), "max_queue": max_queue,
                            "batch_size": batch_size or getattr(pruner, "batch_size", None)}, limits)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher.start()
        try:
            yield
        finally:
            batcher.stop()

    app = FastAPI(title="text-pruner-rag", version=info["version"], lifespan=lifespan)
    app.state.batcher, app.state.pruner = batcher, pruner
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)
    add_error_handlers(app)

    async def execute(job: Job) -> None:
        try:
            await batcher.submit(job)
        except QueueFull as exc:
            raise _HTTPError(503, str(exc), "overloaded", {"Retry-After": "1"}) from None
        except RuntimeError as exc:
            raise _HTTPError(503, str(exc), "unavailable") from None

    service = Service(pruner, execute, runner, limits)
    app.post("/rerank")(service.rerank)
    app.post("/v2/rerank")(service.cohere_rerank)
    app.post("/prune")(service.prune)

    @app.get("/health")
    async def health() -> JSONResponse:
        """200 ``{"status": "ok"}`` while the model thread runs, else 503."""
        if batcher.alive:
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "unavailable"}, status_code=503)

    @app.get("/info")
    async def getinfo_of() -> dict:
        """Model, weights digest, default threshold, backend, batching knobs and limits."""
        return {**info, "batches_run": batcher.batches_run, "queued": batcher.waiting}

    return app


async def _with_spans(body: CohereRerankRequest, spans, pruned, default_threshold: float) -> list[dict]:
    """Cohere ``relevant_spans``: the sentences kept at the span threshold, most probable first."""
    try:
        threshold = default_threshold if spans.threshold is None else check_threshold(spans.threshold)
    except (TypeError, ValueError) as exc:
        raise _HTTPError(422, f"relevant_spans: {exc}", "validation") from None
    results = await pruned(body.query, body.documents, PruningPolicy(threshold=threshold), None)
    values = [_finite(r.score) for r in results]
    out = []
    for i in _ranked(values):
        kept = sorted((s for s in results[i].sentences if s.kept), key=lambda s: -s.probability)
        if spans.max_spans is not None:
            kept = kept[: spans.max_spans]
        entry: dict[str, Any] = {"index": i, "relevance_score": values[i]}
        if kept:
            entry["relevant_spans"] = [{"start": s.start, "end": s.end, "score": s.probability} for s in kept]
        out.append(entry)
    return out


def info_of(pruner: Any, batching: dict, limits: ServerLimits) -> dict:
    """The ``/info`` object: model, weights digest (SHA-256 of ``model.safetensors``, 16 hex digits),
    default threshold, backend, batching knobs and limits."""
    from .. import __version__

    name = getattr(pruner, "name_or_path", None)
    return {
        "model": name,
        "weights_sha256": _weights_digest(name),
        "default_threshold": pruner.default_threshold,
        "backend": getattr(pruner, "backend", "torch"),
        "quantize": getattr(pruner, "quantize", None),
        "max_length": getattr(pruner, "max_length", None),
        "routes": dict(getattr(pruner, "routes", None) or {}),
        "batching": batching,
        "limits": asdict(limits),
        "version": __version__,
    }


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(_HTTPError)
    async def http_error(request: Request, exc: _HTTPError) -> JSONResponse:
        return _error(exc.status, exc.message, exc.error_type, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors()[:5]:
            if err.get("type") == "json_invalid":
                parts.append(f"the body is not valid JSON ({(err.get('ctx') or {}).get('error', 'decode error')})")
                continue
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
        more = len(exc.errors()) - 5
        message = "invalid request: " + "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
        return _error(422, message, "validation")


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` gets a 413 before any parsing.

    The body is read here (up to the limit, whatever Content-Length says) and replayed to the app.
    """

    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body, sent = b"".join(chunks), False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send) -> None:
        response = _error(413, f"request body over {self.max_bytes} bytes", "payload_too_large")
        await response({"type": "http"}, None, send)
