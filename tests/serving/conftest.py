"""Fixtures for the server tests: the embedded default model served in-process, and a controllable fake."""

from __future__ import annotations

import threading
from typing import Optional

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi) is not installed")
pytest.importorskip("uvicorn", reason="the serve extra (uvicorn) is not installed")


@pytest.fixture(scope="session")
def default_pruner():
    """The embedded default model (offline)."""
    from text_pruner_rag import TextPruner

    return TextPruner.from_pretrained(device="cpu")


@pytest.fixture(scope="session")
def server(default_pruner):
    """The embedded default model served on 127.0.0.1 (uvicorn in a thread), default batching knobs."""
    from text_pruner_rag.serving import ThreadedServer, create_app

    with ThreadedServer(create_app(default_pruner, max_wait_ms=20)) as running:
        yield running


@pytest.fixture
def client(server):
    import httpx

    with httpx.Client(base_url=server.url, timeout=120) as http:
        yield http


class GatedPruner:
    """A fake pruner whose model calls wait for ``gate`` and record what they were given.

    Scores are ``len(context) / 100``; every sentence-free detail is left out: only what the server calls.
    """

    default_threshold = 0.5
    name_or_path: Optional[str] = None
    max_length = 128
    batch_size = 8

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.calls: list[tuple[str, int]] = []

    def _wait(self, name: str, size: int) -> None:
        self.calls.append((name, size))
        self.entered.set()
        assert self.gate.wait(30), "the test never opened the gate"

    def predict(self, pairs, batch_size=None, **_):
        self._wait("predict", len(pairs))
        for query, context in pairs:
            if not isinstance(context, str):
                raise TypeError("context must be a str")
            if context == "boom-value":
                raise ValueError("a context the model refuses")
        return np.asarray([len(c) / 100 for _, c in pairs], dtype=np.float32)

    def rank(self, query, documents, batch_size=None, **_):
        scores = self.predict([(query, d) for d in documents])
        return sorted(({"corpus_id": i, "score": float(s)} for i, s in enumerate(scores)), key=lambda e: -e["score"])

    def prune_many(self, query, contexts, *, policy=None, language=None, batch_size=None, **_):
        from text_pruner_rag.results import PruningResult, SentenceScore

        self._wait("prune_many", len(contexts))
        out = []
        for c in contexts:
            text = c if isinstance(c, str) else "".join(c)
            kept = len(text) / 100 > policy.threshold
            sentences = [SentenceScore(text, 0, len(text), len(text) / 100, kept)] if text else []
            out.append(PruningResult(text if kept else "", len(text) / 100, 0.0 if kept else 1.0, sentences, text))
        return out


@pytest.fixture
def gated():
    return GatedPruner()
