"""The Ray Serve deployment on a local Ray cluster with 2 replicas: same routes, same answers."""

from __future__ import annotations

import math
import socket

import pytest

pytestmark = pytest.mark.slow

ray = pytest.importorskip("ray", reason="ray is not installed (the ray extra: pip install text-pruner-rag[ray])")
serve = pytest.importorskip("ray.serve", reason="ray[serve] is not installed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def ray_url(tiny_model_dir):
    from text_pruner_rag.serving.ray import build_app

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    port = _free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(build_app(str(tiny_model_dir), num_replicas=2, max_wait_ms=10,
                        pruner_options={"device": "cpu"}, ray_actor_options={"num_cpus": 0.5}),
              name="pruner", route_prefix="/")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()
        ray.shutdown()


def test_two_replicas_answer_like_the_python_api(ray_url, tiny_pruner):
    import httpx
    from concurrent.futures import ThreadPoolExecutor

    status = serve.status().applications["pruner"].deployments["TextPruner"]
    assert status.replica_states.get("RUNNING") == 2
    texts = ["Paris is in France. It is big.", "Bananas are yellow.", ""]
    with httpx.Client(base_url=ray_url, timeout=120) as client:
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: client.post("/rerank", json={"query": "Where is Paris?", "texts": texts}),
                                    range(16)))
        expected = tiny_pruner.rerank("Where is Paris?", texts)
        for answer in answers:
            assert answer.status_code == 200, answer.text
            assert [r["index"] for r in answer.json()] == [e.index for e in expected]
            assert [r["score"] for r in answer.json()] == pytest.approx([e.score if math.isfinite(e.score) else None for e in expected], abs=1e-5)
        pruned = client.post("/prune", json={"query": "Where is Paris?", "contexts": texts[:2], "threshold": 0.5})
        assert [r["pruned_text"] for r in pruned.json()["results"]] == [
            r.pruned_text for r in tiny_pruner.prune_many("Where is Paris?", texts[:2], threshold=0.5)]
        cohere = client.post("/v2/rerank", json={"model": "m", "query": "Where is Paris?", "documents": texts[:2]})
        assert [r["index"] for r in cohere.json()["results"]] == [e.index for e in expected[:2]]
        bad = client.post("/prune", json={"query": "q", "contexts": ["a"], "threshold": 2})
        assert bad.status_code == 422 and bad.json()["error"] == "`threshold` must be in [0, 1], got 2.0"
        replicas = {client.get("/info").json()["replica"] for _ in range(20)}
    assert len(replicas) == 2
