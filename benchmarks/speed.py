"""Speed benchmark: plain reranking vs pruning (one forward pass gives both; goal: ratio ≈ 1.0).

Times a plain cross-encoder reranking pass with the same model (:func:`plain_rerank`: one truncated
``(query, context)`` pair per context, ranking head only) and ``pruner.prune_many(query, contexts)``
(sentence splitting, windows, both heads, policy) over the same
contexts (groups of ``--group-size`` contexts per query), best of ``--repeats`` alternating passes
after a warm-up, and prints contexts (sequences) per second and the ratio prune time / rerank time.
No assertion on time: the numbers are for reading.

Usage::

    python benchmarks/speed.py --model PATH_OR_DEFAULT --n 256 --group-size 16 --batch-size 32 --dtype float32
    python benchmarks/speed.py --source dev --set qed_dev --data-dir ../shared/data --n 256
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Optional

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

_WORDS = (
    "river city market energy policy history museum science village garden winter music harbor engine "
    "language festival mountain railway bridge school library painting forest island coffee weather "
    "season council election stadium hospital airport castle temple desert ocean planet theory novel "
    "film season record album team player coach league trade price bank farm grain water light stone"
).split()


def synthetic_groups(n_contexts: int, group_size: int, sentences_per_context: int, seed: int = 0) -> list:
    """Deterministic pseudo-English ``(query, contexts)`` groups; each context ~20 words per sentence."""
    rng = np.random.default_rng(seed)

    def sentence(n_words: int) -> str:
        words = rng.choice(_WORDS, size=n_words).tolist()
        return " ".join(words).capitalize() + ". "

    groups = []
    for start in range(0, n_contexts, group_size):
        query = " ".join(rng.choice(_WORDS, size=8).tolist()) + "?"
        size = min(group_size, n_contexts - start)
        contexts = [
            "".join(sentence(int(rng.integers(12, 28))) for _ in range(sentences_per_context)) for _ in range(size)
        ]
        groups.append((query, contexts))
    return groups


def dev_groups(data_dir: str, set_name: str, n_contexts: int, group_size: int) -> list:
    """``(query, passage texts)`` groups from a dev set (at most ``group_size`` passages per query)."""
    from text_pruner_rag.training.devsets import build_dev_sets

    groups, total = [], 0
    for record in build_dev_sets(data_dir)[set_name]:
        texts = [p.text for p in record.passages if p.text.strip()][: min(group_size, n_contexts - total)]
        if texts:
            groups.append((record.query, texts))
            total += len(texts)
        if total >= n_contexts:
            break
    return groups


def _timed(fn, groups) -> float:
    start = time.perf_counter()
    for query, contexts in groups:
        fn(query, contexts)
    return time.perf_counter() - start


def plain_rerank(pruner, query: str, contexts: list, batch_size: int) -> list:
    """What a plain cross-encoder reranker does with the same model: one ``(query, context)`` pair per
    context, truncated to ``max_length`` tokens, ranking logit only (no sentence splitting, no windows,
    no token probabilities). This is the cost that pruning should add almost nothing to."""
    import torch

    model, tokenizer = pruner.model, pruner.tokenizer
    scores = []
    with torch.inference_mode():
        for start in range(0, len(contexts), batch_size):
            chunk = contexts[start:start + batch_size]
            enc = tokenizer([query] * len(chunk), chunk, truncation="only_second", max_length=pruner.max_length,
                            padding=True, return_tensors="pt").to(pruner.device)
            out = model(**{k: v for k, v in enc.items() if k in ("input_ids", "attention_mask", "token_type_ids")})
            scores.extend(model.ranking_scores(out.ranking_logits).tolist())
    return scores


def benchmark(pruner, groups: list, batch_size: Optional[int] = None, repeats: int = 3, warmup: bool = True) -> dict:
    """Rerank-only vs prune throughput on ``groups``.

    After a warm-up on the first two groups, each repeat times one full pass of each, alternating
    which goes first so drift and caching hit both alike; the best pass counts.

    Returns:
        dict: ``n_contexts``, ``rerank_seconds``/``prune_seconds`` (best of ``repeats``), their
        medians, ``rerank_seq_per_s``, ``prune_seq_per_s`` and ``ratio_prune_over_rerank``.
    """
    kwargs = {} if batch_size is None else {"batch_size": batch_size}

    def rerank(query, contexts):
        return plain_rerank(pruner, query, contexts, batch_size or pruner.batch_size)

    def prune(query, contexts):
        return pruner.prune_many(query, contexts, **kwargs)

    if warmup and groups:
        _timed(rerank, groups[:2]), _timed(prune, groups[:2])
    rerank_times, prune_times = [], []
    for repeat in range(max(1, repeats)):
        if repeat % 2:  # alternate which goes first
            prune_times.append(_timed(prune, groups))
            rerank_times.append(_timed(rerank, groups))
        else:
            rerank_times.append(_timed(rerank, groups))
            prune_times.append(_timed(prune, groups))
    n = sum(len(contexts) for _, contexts in groups)
    best_rerank, best_prune = min(rerank_times), min(prune_times)
    return {
        "n_contexts": n,
        "n_queries": len(groups),
        "batch_size": batch_size,
        "repeats": max(1, repeats),
        "rerank_seconds": best_rerank,
        "prune_seconds": best_prune,
        "rerank_seconds_median": statistics.median(rerank_times),
        "prune_seconds_median": statistics.median(prune_times),
        "rerank_seq_per_s": n / best_rerank if best_rerank > 0 else float("inf"),
        "prune_seq_per_s": n / best_prune if best_prune > 0 else float("inf"),
        "ratio_prune_over_rerank": best_prune / best_rerank if best_rerank > 0 else float("nan"),
    }


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default", help="checkpoint path or hub id; 'default' = embedded model")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--n", type=int, default=256, help="number of contexts")
    parser.add_argument("--group-size", type=int, default=16, help="contexts per query")
    parser.add_argument("--sentences", type=int, default=6, help="sentences per synthetic context")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--source", default="synthetic", choices=["synthetic", "dev"])
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--set", default="qed_dev", help="dev set for --source dev")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the result as JSON too")
    return parser.parse_args(argv)


def load_pruner(args: argparse.Namespace):
    """Load the pruner with its model in ``--dtype``."""
    import torch

    from text_pruner_rag import TextPruner

    if args.threads:
        torch.set_num_threads(args.threads)
    model = None if args.model == "default" else args.model
    return TextPruner.from_pretrained(model, device=args.device, dtype=getattr(torch, args.dtype))


def main(argv: Optional[list[str]] = None) -> dict:
    args = parse_args(argv)
    if args.source == "dev":
        groups = dev_groups(args.data_dir, args.set, args.n, args.group_size)
    else:
        groups = synthetic_groups(args.n, args.group_size, args.sentences, args.seed)
    out = benchmark(load_pruner(args), groups, batch_size=args.batch_size, repeats=args.repeats)
    out.update(model=args.model, device=args.device, dtype=args.dtype, source=args.source)
    print(f"{out['n_contexts']} contexts, {out['n_queries']} queries, device={args.device}, dtype={args.dtype}, "
          f"batch_size={args.batch_size}, best of {out['repeats']}")  # fmt: skip
    print(f"rerank only : {out['rerank_seq_per_s']:8.1f} seq/s ({out['rerank_seconds']:.3f} s)")
    print(f"prune       : {out['prune_seq_per_s']:8.1f} seq/s ({out['prune_seconds']:.3f} s)")
    print(f"ratio prune/rerank time: {out['ratio_prune_over_rerank']:.3f} (goal ~1.0)")
    if args.json:
        print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
