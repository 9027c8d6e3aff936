"""Backend comparison on a dev set: ONNX Runtime fp32 / int8 vs PyTorch fp32, decisions and speed.

For every query of the dev set, its context group is pruned by each backend at the checkpoint's
default threshold; the script reports, against torch fp32:

* the fraction of sentence keep decisions that change (target < 1% for int8),
* the largest and mean absolute change of sentence keep probabilities and of reranking scores,
* how often the best-ranked context of a query changes,

and the throughput of ``prune_many`` per backend on the first ``--speed-queries`` groups (median of
``--repeats`` passes, backends alternating; batch size and thread count printed) with the speed-up
over torch fp32 (target >= 2x for int8 on CPU).

Data: the English dev suite of ``text-pruner-rag eval --suite dev`` (CAsT validation+test, WikiQA
dev+test, QED dev, XQuAD-en), read by the same readers and split into the same gold sentences as the
eval harness (``--data`` takes any dev set name or data file; ``--limit`` the first N queries of each).

Usage (one command; re-run it after retraining the model)::

    python benchmarks/backends.py --limit 300 --speed-queries 16 --repeats 3 --json runs/backends.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np

ROOT = Path(__file__).resolve().parent
if str(ROOT.parent) not in sys.path:
    sys.path.insert(0, str(ROOT.parent))
sys.path.insert(0, str(ROOT))

from speed import DEFAULT_DATA_DIR, _load  # noqa: E402

BACKENDS = {"torch": ("torch", None), "onnx-fp32": ("onnx", None), "onnx-int8": ("onnx", "int8")}


def dev_suite_groups(specs: list[str], data_dir: Optional[str], limit: Optional[int]) -> list:
    """``(spec, query, passages)`` groups of the dev sets ``specs`` (names of
    :data:`text_pruner_rag.evaluation.datasets.DEV_SETS` or data files), read and prepared exactly as
    ``text-pruner-rag eval`` does: each passage is its list of gold sentences, so every backend prunes
    the same sentences. ``limit``: the first queries of each spec."""
    from text_pruner_rag.evaluation.datasets import load_eval_data
    from text_pruner_rag.evaluation.harness import _prepare

    groups = []
    for spec in specs:
        records, _ = load_eval_data([spec], data_dir=data_dir, limit=limit)
        queries, _ = _prepare(records)
        groups.extend((spec, q.query, [p.sentences for p in q.passages]) for q in queries)
    return groups


def compare(reference: list, other: list) -> dict[str, Any]:
    """Decision, probability and score differences of ``other`` against ``reference`` (lists of
    per-query result lists)."""
    decisions = changed = 0
    prob_diffs, score_diffs, top_changed = [], [], 0
    for ref_group, got_group in zip(reference, other):
        for ref, got in zip(ref_group, got_group):
            for a, b in zip(ref.sentences, got.sentences):
                decisions += 1
                changed += a.kept != b.kept
                prob_diffs.append(abs(a.probability - b.probability))
            if ref.score is not None:
                score_diffs.append(abs(ref.score - got.score))
        best = lambda results: max(range(len(results)), key=lambda i: -1e9 if results[i].score is None else results[i].score)  # noqa: E731
        top_changed += best(ref_group) != best(got_group)
    return {"sentences": decisions, "decisions_changed": changed, "decisions_changed_fraction": changed / max(1, decisions),
            "max_probability_diff": max(prob_diffs, default=0.0), "mean_probability_diff": float(np.mean(prob_diffs or [0])),
            "max_score_diff": max(score_diffs, default=0.0), "mean_score_diff": float(np.mean(score_diffs or [0])),
            "queries": len(reference), "top1_changed": top_changed}


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--data", nargs="+", default=["cast_dev", "wikiqa_dev", "qed_dev", "xquad_en"],
                        help="dev set names or data files (default: the English dev suite)")
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    parser.add_argument("--limit", type=int, default=300, help="first N queries of each --data (0: all)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--speed-queries", type=int, default=32, help="groups timed for throughput (0 skips)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", default="torch,onnx-fp32,onnx-int8")
    parser.add_argument("--json", default=None, help="write the report to this file")
    return parser.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> dict:
    import torch

    from text_pruner_rag import TextPruner

    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    groups = dev_suite_groups(args.data, args.data_dir, args.limit or None)
    names = [n.strip() for n in args.backends.split(",")]
    model = None if args.model == "default" else args.model
    pruners = {}
    for name in names:
        backend, quantize = BACKENDS[name]
        start = time.perf_counter()
        pruners[name] = TextPruner.from_pretrained(model, device="cpu", backend=backend, quantize=quantize)
        print(f"loaded {name} in {time.perf_counter() - start:.1f} s", flush=True)
    batch_size = args.batch_size or pruners[names[0]].batch_size
    results = {}
    for name, p in pruners.items():
        start = time.perf_counter()
        results[name] = [p.prune_many(q, c, batch_size=batch_size, show_progress_bar=False) for _, q, c in groups]
        print(f"pruned the data with {name} in {time.perf_counter() - start:.0f} s", flush=True)
    n_contexts = sum(len(c) for _, _, c in groups)
    report: dict[str, Any] = {"queries": len(groups), "contexts": n_contexts, "data": args.data, "limit": args.limit,
                              "threshold": pruners[names[0]].default_threshold, "batch_size": batch_size,
                              "torch_threads": torch.get_num_threads(), "agreement": {}, "speed": {}}
    print(f"{len(groups)} queries, {n_contexts} contexts ({', '.join(args.data)}, limit {args.limit}), threshold {report['threshold']}, "
          f"batch_size={batch_size}, threads={torch.get_num_threads()}")
    for name in names[1:]:
        report["agreement"][name] = a = compare(results[names[0]], results[name])
        print(f"{name:10s} vs {names[0]}: {a['decisions_changed']}/{a['sentences']} sentence decisions changed "
              f"({100 * a['decisions_changed_fraction']:.2f}%), probability diff max {a['max_probability_diff']:.4f} "
              f"mean {a['mean_probability_diff']:.4f}, score diff max {a['max_score_diff']:.4f} "
              f"mean {a['mean_score_diff']:.4f}, top-1 context changed for {a['top1_changed']}/{a['queries']} queries")
        a["per_set"] = {}
        for spec in args.data:
            rows = [i for i, g in enumerate(groups) if g[0] == spec]
            a["per_set"][spec] = b = compare([results[names[0]][i] for i in rows], [results[name][i] for i in rows])
            print(f"    {spec:12s} {b['decisions_changed']}/{b['sentences']} ({100 * b['decisions_changed_fraction']:.2f}%) "
                  f"changed, probability diff max {b['max_probability_diff']:.4f}")
    if args.speed_queries > 0:
        timed = groups[: args.speed_queries]
        n = sum(len(c) for _, _, c in timed)
        times: dict[str, list[float]] = {name: [] for name in names}
        for repeat in range(max(1, args.repeats)):
            order = names[repeat % len(names):] + names[: repeat % len(names)]
            for name in order:
                start = time.perf_counter()
                for _, q, c in timed:
                    pruners[name].prune_many(q, c, batch_size=batch_size, show_progress_bar=False)
                times[name].append(time.perf_counter() - start)
        base = statistics.median(times[names[0]])
        for name in names:
            median = statistics.median(times[name])
            report["speed"][name] = {"contexts": n, "median_s": median, "min_s": min(times[name]),
                                     "max_s": max(times[name]), "contexts_per_s": n / median, "speedup": base / median}
            print(f"{name:10s}: {n / median:6.1f} contexts/s (median {median:.2f} s of {args.repeats}, "
                  f"range {min(times[name]):.2f}-{max(times[name]):.2f}), speed-up x{base / median:.2f}")
        report["load_after"] = _load()
        print(f"load average after timing: {report['load_after']}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


if __name__ == "__main__":
    main()
