"""Run an ASGI app with uvicorn in a background thread (tests, benchmarks, notebooks)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Optional

__all__ = ["ThreadedServer"]


class ThreadedServer:
    """uvicorn serving ``app`` on ``host:port`` from a daemon thread; a context manager.

    Args:
        app: the ASGI app (e.g. :func:`~text_pruner_rag.serving.create_app`'s).
        host (str): interface to bind. Defaults to ``"127.0.0.1"`` (this machine only).
        port (int): TCP port; 0 picks a free one. Defaults to 0.
        startup_timeout (float): seconds to wait for the app's startup (model thread included). Defaults to 60.

    Attributes:
        url (str): ``http://host:port`` once started.

    Raises:
        RuntimeError: the server did not start within ``startup_timeout``.

    Example:
        >>> with ThreadedServer(create_app(pruner)) as server:   # doctest: +SKIP
        ...     httpx.post(f"{server.url}/rerank", json={"query": "q", "texts": ["a"]}).json()
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, startup_timeout: float = 60.0) -> None:
        import uvicorn

        self.host, self.startup_timeout = host, startup_timeout
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.port = self._socket.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_keep_alive=30)
        self._server = uvicorn.Server(config)
        self._thread: Optional[threading.Thread] = None

    def start(self) -> "ThreadedServer":
        """Start serving; returns once the app has started."""
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name="uvicorn", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server on {self.url} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving (lets requests in flight finish) and wait for the thread."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(30)
        self._socket.close()

    def __enter__(self) -> "ThreadedServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
