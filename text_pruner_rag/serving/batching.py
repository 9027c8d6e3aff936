"""Dynamic batching: concurrent requests share one model thread and its forward passes.

Requests become :class:`Job` objects in a bounded queue. One model thread takes the first waiting job,
then keeps taking jobs for at most ``max_wait_ms`` milliseconds or until the batch holds
``max_batch`` token windows (a job that would overflow waits for the next batch; a job larger than
``max_batch`` runs alone), and hands the whole batch to one ``run_batch`` call. A full queue refuses
new jobs at once (:class:`QueueFull`, a 503 for the server) instead of letting latency grow without
bound. This is the scheme of text-embeddings-inference and Ray Serve's ``@serve.batch``: a short wait
buys larger forward passes.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Optional, Sequence

logger = logging.getLogger(__name__)

__all__ = ["Job", "Batcher", "QueueFull"]


class QueueFull(RuntimeError):
    """The request queue holds ``max_queue`` jobs already; the caller should retry later."""


@dataclass(eq=False)
class Job:
    """One request waiting for the model.

    Attributes:
        kind (str): ``"score"`` (reranking scores only) or ``"prune"`` (pruning decisions).
        payload (Any): what the batch runner needs (query, contexts, options).
        windows (int): estimated token windows the job needs (>= 1), counted against ``max_batch``.
        group (Hashable): jobs with equal ``kind`` and ``group`` may be merged into one model call.
        result (Any): set by the batch runner (per-job output, input order).
        error (BaseException | None): set by the batch runner when the job failed.
    """

    kind: str
    payload: Any
    windows: int = 1
    group: Hashable = None
    result: Any = None
    error: Optional[BaseException] = None
    _done: Optional[Callable[[], None]] = field(default=None, repr=False)


_STOP = object()


class Batcher:
    """A bounded job queue drained by one model thread in merged batches.

    Args:
        run_batch (Callable[[list[Job]], None]): runs a batch; must set ``result`` or ``error`` on each job
            (an exception it raises is set as the error of every job of the batch).
        max_batch (int): token windows per merged batch (>= 1); 1 turns merging off.
        max_wait_ms (float): how long (milliseconds, >= 0) the thread waits for more jobs after the first.
        max_queue (int): jobs waiting at most (>= 1); more raise :class:`QueueFull`.

    Raises:
        ValueError: an argument out of range.
    """

    def __init__(self, run_batch: Callable[[list[Job]], None], *, max_batch: int = 64, max_wait_ms: float = 5.0,
                 max_queue: int = 256) -> None:
        for name, value, low in (("max_batch", max_batch, 1), ("max_queue", max_queue, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"`{name}` must be an integer >= {low}, got {value!r}")
        if isinstance(max_wait_ms, bool) or not isinstance(max_wait_ms, (int, float)) or not max_wait_ms >= 0:
            raise ValueError(f"`max_wait_ms` must be a number >= 0, got {max_wait_ms!r}")
        self.run_batch = run_batch
        self.max_batch, self.max_wait_ms, self.max_queue = max_batch, float(max_wait_ms), max_queue
        self._queue: queue.Queue = queue.Queue(maxsize=max_queue)
        self._carry: Optional[Job] = None
        self._thread: Optional[threading.Thread] = None
        self.batches_run = 0
        """Merged batches run so far (for ``/info`` and tests)."""

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the model thread (idempotent)."""
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="text-pruner-model", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Let the thread finish the jobs already queued, then stop it."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)
        self._thread = None

    @property
    def alive(self) -> bool:
        """Whether the model thread is running."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def waiting(self) -> int:
        """Jobs in the queue now (approximate)."""
        return self._queue.qsize()

    # -- submitting ---------------------------------------------------------------------------------
    async def submit(self, job: Job) -> Job:
        """Queue ``job`` and wait until the model thread has run it; returns the job (``result``/``error`` set).

        Raises:
            QueueFull: ``max_queue`` jobs are waiting already.
            RuntimeError: the model thread is not running.
        """
        if not self.alive:
            raise RuntimeError("the model thread is not running (server starting or stopping)")
        loop = asyncio.get_running_loop()
        finished = loop.create_future()

        def done() -> None:
            loop.call_soon_threadsafe(lambda: finished.done() or finished.set_result(None))

        job._done = done
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            raise QueueFull(f"the request queue is full ({self.max_queue} requests waiting); retry later") from None
        await finished
        return job

    # -- model thread -------------------------------------------------------------------------------
    def _next_batch(self) -> Optional[list[Job]]:
        """The next merged batch, or None when asked to stop."""
        first = self._carry if self._carry is not None else self._queue.get()
        self._carry = None
        if first is _STOP:
            return None
        batch, windows = [first], first.windows
        deadline = time.monotonic() + self.max_wait_ms / 1000.0
        while windows < self.max_batch:
            remaining = deadline - time.monotonic()
            try:
                job = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if job is _STOP or windows + job.windows > self.max_batch:
                self._carry = job  # first of the next batch (or the stop signal, after this batch)
                break
            batch.append(job)
            windows += job.windows
        return batch

    def _loop(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            try:
                self.run_batch(batch)
            except BaseException as exc:  # noqa: BLE001 - reported to every waiting request
                logger.exception("batch of %d requests failed", len(batch))
                for job in batch:
                    if job.error is None and job.result is None:
                        job.error = exc
            self.batches_run += 1
            for job in batch:
                if job._done is not None:
                    job._done()


def split_back(values: Sequence[Any], sizes: Sequence[int]) -> list[list[Any]]:
    """Cut ``values`` (the outputs of merged jobs, concatenated) into one list per job of ``sizes``."""
    out, start = [], 0
    for size in sizes:
        out.append(list(values[start:start + size]))
        start += size
    return out
