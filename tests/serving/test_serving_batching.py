"""Batching: merged model calls, the window cap, no merging at max_batch=1, a full queue gives 503."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from text_pruner_rag.serving import Batcher, ThreadedServer, create_app
from text_pruner_rag.serving.batching import Job, QueueFull


def _run_jobs(batcher: Batcher, jobs: list[Job]) -> list[Job]:
    async def main():
        return await asyncio.gather(*(batcher.submit(job) for job in jobs), return_exceptions=True)

    batcher.start()
    try:
        return asyncio.run(main())
    finally:
        batcher.stop()


def _recording_batcher(**knobs):
    batches = []

    def run_batch(jobs):
        time.sleep(0.05)  # the next jobs queue up meanwhile
        batches.append([job.payload for job in jobs])
        for job in jobs:
            job.result = job.payload

    return Batcher(run_batch, **knobs), batches


def test_jobs_are_merged_up_to_max_batch_windows():
    batcher, batches = _recording_batcher(max_batch=5, max_wait_ms=200)
    jobs = [Job("score", i, windows=2) for i in range(6)]
    done = _run_jobs(batcher, jobs)
    assert [job.result for job in done] == list(range(6))
    assert [len(b) for b in batches] == [2, 2, 2]  # 2 + 2 windows fit in 5, a third job would not
    assert sorted(p for b in batches for p in b) == list(range(6))


def test_max_batch_one_runs_every_job_alone():
    batcher, batches = _recording_batcher(max_batch=1, max_wait_ms=200)
    _run_jobs(batcher, [Job("score", i) for i in range(4)])
    assert batches == [[0], [1], [2], [3]]


def test_a_job_larger_than_max_batch_runs_alone():
    batcher, batches = _recording_batcher(max_batch=3, max_wait_ms=200)
    _run_jobs(batcher, [Job("score", 0, windows=10), Job("score", 1), Job("score", 2)])
    assert batches == [[0], [1, 2]]


def test_full_queue_refuses_at_once():
    batcher, _ = _recording_batcher(max_batch=1, max_wait_ms=0, max_queue=1)
    results = _run_jobs(batcher, [Job("score", i) for i in range(8)])
    refused = [r for r in results if isinstance(r, QueueFull)]
    assert refused and "queue is full (1 requests waiting)" in str(refused[0])
    assert all(r.result == r.payload for r in results if isinstance(r, Job))


@pytest.mark.parametrize("knobs, message", [
    (dict(max_batch=0), "`max_batch` must be an integer >= 1, got 0"),
    (dict(max_queue=True), "`max_queue` must be an integer >= 1, got True"),
    (dict(max_wait_ms=-1), "`max_wait_ms` must be a number >= 0, got -1"),
])
def test_bad_knobs(knobs, message):
    with pytest.raises(ValueError, match=f"^{message}$".replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        Batcher(lambda jobs: None, **knobs)


def test_different_queries_share_one_predict_call(gated):
    gated.gate.clear()
    with ThreadedServer(create_app(gated, max_batch=64, max_wait_ms=50)) as server, \
            ThreadPoolExecutor(6) as pool, httpx.Client(base_url=server.url, timeout=60) as client:
        first = pool.submit(client.post, "/rerank", json={"query": "q0", "texts": ["a"]})
        assert gated.entered.wait(10)  # the model thread is busy with the first request
        rest = [pool.submit(client.post, "/rerank", json={"query": f"q{i}", "texts": ["ab", "abc"]})
                for i in range(1, 6)]
        time.sleep(0.5)  # all five wait in the queue
        gated.gate.set()
        answers = [f.result() for f in [first, *rest]]
    assert all(a.status_code == 200 for a in answers)
    assert gated.calls == [("predict", 1), ("predict", 10)]  # five queries, ten pairs, one model call
    assert answers[1].json() == [{"index": 1, "score": pytest.approx(0.03)}, {"index": 0, "score": pytest.approx(0.02)}]


def test_prune_merges_only_same_query_and_options(gated):
    gated.gate.clear()
    bodies = [{"query": "q", "contexts": ["aa"]}, {"query": "q", "contexts": ["bbb", "c"]},
              {"query": "other", "contexts": ["dd"]}, {"query": "q", "contexts": ["ee"], "threshold": 0.9},
              {"query": "q", "contexts": ["ff"], "token_budget": 5}, {"query": "q", "contexts": ["gg"], "token_budget": 5}]
    with ThreadedServer(create_app(gated, max_batch=64, max_wait_ms=50)) as server, \
            ThreadPoolExecutor(8) as pool, httpx.Client(base_url=server.url, timeout=60) as client:
        first = pool.submit(client.post, "/prune", json={"query": "z", "contexts": ["x"]})
        assert gated.entered.wait(10)
        rest = [pool.submit(client.post, "/prune", json=body) for body in bodies]
        time.sleep(0.5)
        gated.gate.set()
        answers = [f.result() for f in [first, *rest]]
    assert all(a.status_code == 200 for a in answers)
    # the first alone; then "q" (3 contexts), "other", the 0.9 threshold and each token_budget request on their own
    assert sorted(size for _, size in gated.calls[1:]) == [1, 1, 1, 1, 3]
    assert [r["sentences"][0]["text"] for r in answers[2].json()["results"]] == ["bbb", "c"]


def test_queue_full_is_503_and_bad_job_in_a_merged_call_fails_alone(gated):
    gated.gate.clear()
    with ThreadedServer(create_app(gated, max_batch=64, max_wait_ms=50, max_queue=2)) as server, \
            ThreadPoolExecutor(8) as pool, httpx.Client(base_url=server.url, timeout=60) as client:
        first = pool.submit(client.post, "/rerank", json={"query": "q", "texts": ["a"]})
        assert gated.entered.wait(10)
        queued = [pool.submit(client.post, "/rerank", json={"query": "q", "texts": [t]}) for t in ("ok", "boom-value")]
        time.sleep(0.5)
        refused = client.post("/rerank", json={"query": "q", "texts": ["late"]})
        gated.gate.set()
        good, bad = (f.result() for f in queued)
        assert first.result().status_code == 200
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert "queue is full" in refused.json()["error"]
    assert good.status_code == 200 and good.json()[0]["score"] == pytest.approx(0.02)
    assert bad.status_code == 422 and bad.json() == {"error": "a context the model refuses", "error_type": "validation"}
