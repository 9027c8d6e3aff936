"""/prune merges concurrent requests with different queries (same options) into one prune_batch call."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from text_pruner_rag.results import pruning_json
from text_pruner_rag.serving import ThreadedServer, create_app

CONTEXT = ("The Eiffel Tower is in Paris. It was designed by Gustave Eiffel's company. Bananas are rich in "
           "potassium. The tower is 330 metres tall.")


class GatedBatchPruner:
    """The real tiny pruner behind a gate: its model calls wait for ``gate`` and are recorded."""

    def __init__(self, pruner) -> None:
        self.pruner = pruner
        self.default_threshold = pruner.default_threshold
        self.name_or_path = None
        self.max_length = pruner.max_length
        self.gate, self.entered = threading.Event(), threading.Event()
        self.calls: list[tuple[str, list[str]]] = []

    def prune_batch(self, queries, contexts_per_query, **options):
        self.calls.append(("prune_batch", list(queries)))
        self.entered.set()
        assert self.gate.wait(30), "the test never opened the gate"
        return self.pruner.prune_batch(queries, contexts_per_query, **options)

    def prune_many(self, query, contexts, **options):  # pragma: no cover - the server must not call it
        self.calls.append(("prune_many", [query]))
        return self.pruner.prune_many(query, contexts, **options)


def _served(pruner, bodies):
    with ThreadedServer(create_app(pruner, max_batch=256, max_wait_ms=50)) as server, \
            ThreadPoolExecutor(len(bodies) + 1) as pool, httpx.Client(base_url=server.url, timeout=60) as client:
        pruner.gate.clear()
        first = pool.submit(client.post, "/prune", json={"query": "warm up", "contexts": ["x"]})
        assert pruner.entered.wait(10)  # the model thread is busy: the next requests queue up
        rest = [pool.submit(client.post, "/prune", json=body) for body in bodies]
        time.sleep(0.5)
        pruner.gate.set()
        answers = [f.result() for f in [first, *rest]]
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    return [a.json()["results"] for a in answers[1:]]


def test_different_queries_share_one_prune_batch_each_with_its_own_budget(tiny_pruner):
    gated = GatedBatchPruner(tiny_pruner)
    bodies = [
        {"query": "Who designed the tower?", "contexts": [CONTEXT, "Paris is in France."], "threshold": 0.0,
         "token_budget": 12},
        {"query": "What is rich in potassium?", "contexts": [CONTEXT], "threshold": 0.0, "token_budget": 12},
        {"query": "Who designed the tower?", "contexts": [CONTEXT], "threshold": 0.0, "token_budget": 12},
        {"query": "How tall is it?", "contexts": [CONTEXT], "threshold": 0.0},  # other options: another call
    ]
    served = _served(gated, bodies)
    # the warm-up alone; the three budgeted requests in one call (two with the same query stay apart)
    assert gated.calls[0] == ("prune_batch", ["warm up"])
    merged = sorted(sorted(queries) for name, queries in gated.calls[1:] if name == "prune_batch")
    assert len(gated.calls) == 3 and merged == [
        ["How tall is it?"],
        ["What is rich in potassium?", "Who designed the tower?", "Who designed the tower?"]]
    for body, results in zip(bodies, served):
        options = {k: v for k, v in body.items() if k not in ("query", "contexts")}
        expected = tiny_pruner.prune_many(body["query"], body["contexts"], **options)
        assert [r["pruned_text"] for r in results] == [e.pruned_text for e in expected]
        assert [s["kept"] for r in results for s in r["sentences"]] == \
            [s.kept for e in expected for s in e.sentences]
        assert [r["score"] for r in results] == pytest.approx([pruning_json(e)["score"] for e in expected], abs=1e-5)
        if "token_budget" in body:  # each request's budget spans its own contexts only
            total = sum(tiny_pruner.count_tokens([r["pruned_text"] for r in results if r["pruned_text"]]))
            assert 0 < total <= body["token_budget"]
