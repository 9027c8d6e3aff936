"""Load benchmark of the model server: N concurrent clients against ``create_app`` on this machine.

One run measures three set-ups on the same requests and prints requests/s and p50/p95 latency of each,
then the ratios:

1. **in-process**: the same requests as direct ``prune_many``/``predict`` calls, one after another in
   this process (no HTTP, no batching): the cost of the model alone.
2. **server, batched**: ``--clients`` threads posting concurrently to the server (uvicorn in a thread on
   127.0.0.1, ``--max-batch`` windows, ``--max-wait-ms``), so requests are merged into shared forward passes.
3. **server, max-batch 1**: the same server with merging turned off (each request alone).

``--route rerank`` sends ``/rerank`` requests (each client its own query; merged across queries);
``--route prune`` sends ``/prune`` requests (queries drawn from a few, so same-query requests merge).
Passages come from ``examples/data/wiki_paragraphs.jsonl``. No assertion: the numbers are for reading.

Usage::

    python benchmarks/serve.py                                  # both routes, 8 clients
    python benchmarks/serve.py --route rerank --clients 16 --requests 8 --texts 4
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "examples" / "data"


def _workload(route: str, clients: int, requests: int, texts: int) -> list[list[dict]]:
    """Per client, its request bodies."""
    passages = [json.loads(line)["text"] for line in (DATA / "wiki_paragraphs.jsonl").open(encoding="utf-8")]
    queries = [json.loads(line)["query"] for line in (DATA / "queries.jsonl").open(encoding="utf-8")]
    plan = []
    for c in range(clients):
        bodies = []
        for r in range(requests):
            start = (c * requests + r) * texts % len(passages)
            chosen = [passages[(start + k) % len(passages)] for k in range(texts)]
            if route == "rerank":
                bodies.append({"query": queries[(c + r) % len(queries)], "texts": chosen})
            else:
                bodies.append({"query": queries[r % 2], "contexts": chosen})
        plan.append(bodies)
    return plan


def _summary(latencies: list[float], wall: float) -> dict:
    ordered = sorted(latencies)
    return {"requests_per_s": len(ordered) / wall, "p50_ms": 1000 * statistics.median(ordered),
            "p95_ms": 1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]}


def in_process(pruner, route: str, plan: list[list[dict]]) -> dict:
    latencies, began = [], time.perf_counter()
    for bodies in plan:
        for body in bodies:
            t = time.perf_counter()
            if route == "rerank":
                pruner.predict([(body["query"], text) for text in body["texts"]])
            else:
                pruner.prune_many(body["query"], body["contexts"])
            latencies.append(time.perf_counter() - t)
    return _summary(latencies, time.perf_counter() - began)


def served(pruner, route: str, plan: list[list[dict]], max_batch: int, max_wait_ms: float) -> dict:
    import httpx

    from text_pruner_rag.serving import ThreadedServer, create_app

    app = create_app(pruner, max_batch=max_batch, max_wait_ms=max_wait_ms, max_queue=4096)
    with ThreadedServer(app) as server:
        def client(bodies: list[dict]) -> list[float]:
            out = []
            with httpx.Client(base_url=server.url, timeout=600) as http:
                for body in bodies:
                    t = time.perf_counter()
                    response = http.post(f"/{route}", json=body)
                    response.raise_for_status()
                    out.append(time.perf_counter() - t)
            return out

        with httpx.Client(base_url=server.url) as http:  # warm-up
            http.post(f"/{route}", json=plan[0][0]).raise_for_status()
        began = time.perf_counter()
        with ThreadPoolExecutor(len(plan)) as pool:
            latencies = [x for part in pool.map(client, plan) for x in part]
        wall = time.perf_counter() - began
        result = _summary(latencies, wall)
        with httpx.Client(base_url=server.url) as http:
            result["model_batches"] = http.get("/info").json()["batches_run"] - 1
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--route", choices=("rerank", "prune", "both"), default="both")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default: 8)")
    parser.add_argument("--requests", type=int, default=6, help="requests per client (default: 6)")
    parser.add_argument("--texts", type=int, default=3, help="texts per request (default: 3)")
    parser.add_argument("--max-batch", type=int, default=64, help="windows per merged batch (default: 64)")
    parser.add_argument("--max-wait-ms", type=float, default=5.0, help="batching wait (default: 5)")
    parser.add_argument("--model", default=None, help="checkpoint (default: the embedded default model)")
    args = parser.parse_args()

    import torch

    from text_pruner_rag import TextPruner

    pruner = TextPruner.from_pretrained(args.model, device="cpu")
    pruner.prune_many("warm up", ["A first sentence. A second one."])
    print(f"model {pruner.name_or_path}, torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.2f}; {args.clients} clients x {args.requests} requests x "
          f"{args.texts} texts")
    routes = ("rerank", "prune") if args.route == "both" else (args.route,)
    for route in routes:
        plan = _workload(route, args.clients, args.requests, args.texts)
        rows = {"in-process": in_process(pruner, route, plan),
                "server, batched": served(pruner, route, plan, args.max_batch, args.max_wait_ms),
                "server, max-batch 1": served(pruner, route, plan, 1, args.max_wait_ms)}
        print(f"\n/{route}")
        print(f"  {'set-up':<22}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'model calls':>13}")
        for name, row in rows.items():
            print(f"  {name:<22}{row['requests_per_s']:>8.2f}{row['p50_ms']:>9.0f}{row['p95_ms']:>9.0f}"
                  f"{row.get('model_batches', sum(map(len, plan))):>13}")
        batched, alone, direct = rows["server, batched"], rows["server, max-batch 1"], rows["in-process"]
        print(f"  batching win (req/s, batched / max-batch 1):    {batched['requests_per_s'] / alone['requests_per_s']:.2f}x")
        print(f"  server vs in-process (req/s, batched / direct): {batched['requests_per_s'] / direct['requests_per_s']:.2f}x")
        print(f"  p95 latency, batched / max-batch 1:             {batched['p95_ms'] / alone['p95_ms']:.2f}x")


if __name__ == "__main__":
    main()
