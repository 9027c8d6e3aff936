"""Speed benchmark on CPU: engine overhead, pruning vs reranking, scaling with length, memory.

One run prints four figures, each timing the median of ``--repeats`` passes after a warm-up (passes
of compared variants alternate, so drift on a shared machine hits both alike), with the batch size,
torch/ONNX Runtime thread count, backend and machine load (``os.getloadavg``) printed beside them:

1. **engine vs bare forward**: ``prune_many`` throughput divided by the throughput of the bare model
   forward on exactly the same padded batches (recorded from a ``prune_many`` call; the bare pass
   runs only the model and both heads' activations on pre-built inputs). Target >= 0.85. Also the time
   of ``prune_many`` with the model call replaced by a constant (everything but the model), and the
   ratio it implies, ``bare / (bare + engine-only)``: less sensitive to a busy machine than the ratio of
   two model-bound timings.
2. **prune+rerank vs rerank-only**: ``prune_many`` (reranking score *and* pruning) throughput divided
   by a plain cross-encoder reranking pass through the same model (:func:`plain_rerank`: one
   truncated ``(query, context)`` pair per context, no sentence splitting, no windows). Target >= 0.95.
3. **10x longer context**: time of ``prune`` on a context 10x longer divided by the time on the base
   context. Target <= 11.
4. **memory for a 1 MB context**: Python heap peak (``tracemalloc``) and process peak RSS growth
   (``resource.getrusage``) while pruning a ``--memory-mb`` context (measured first, right after a
   warm-up, so the RSS peak is not hidden by an earlier one).

5. **many queries** (``--only many``): ``prune_batch`` over ``--queries`` queries x
   ``--contexts-per-query`` contexts (default 32 x 10; XQuAD-en paragraphs from ``--data-dir``, or
   synthetic text when that folder has no XQuAD-en) against a loop of one ``prune_many`` per query on
   the same input: the throughput ratio ``loop time / prune_batch time``.

No assertion on time: the numbers are for reading (``--json`` prints everything).

Usage::

    python benchmarks/speed.py                                   # embedded model, torch fp32, XQuAD-en passages
    python benchmarks/speed.py --backend onnx --quantize int8    # the ONNX Runtime int8 path
    python benchmarks/speed.py --source synthetic --n 256 --group-size 16 --threads 2 --repeats 5
    python benchmarks/speed.py --only many --data-dir ../shared/data/raw   # prune_batch vs prune_many loop
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

DEFAULT_DATA_DIR = ROOT.parent / "shared" / "data" / "raw"

_WORDS = (
    "river city market energy policy history museum science village garden winter music harbor engine "
    "language festival mountain railway bridge school library painting forest island coffee weather "
    "season council election stadium hospital airport castle temple desert ocean planet theory novel "
    "film season record album team player coach league trade price bank farm grain water light stone"
).split()


# -- data ---------------------------------------------------------------------------------------------
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


def xquad_groups(data_dir: str, n_contexts: int, group_size: int) -> list:
    """``(question, paragraphs)`` groups from XQuAD-en (``<data_dir>/xquad_en/xquad.en.json``): each
    question with its own paragraph first and the next paragraphs of the same article (RAG-like
    top-k), ``group_size`` paragraphs per question, until ``n_contexts`` paragraphs in all."""
    path = Path(data_dir) / "xquad_en" / "xquad.en.json"
    articles = json.loads(path.read_text(encoding="utf-8"))["data"]
    groups, total = [], 0
    for article in articles:
        paragraphs = [p["context"] for p in article["paragraphs"]]
        for i, paragraph in enumerate(article["paragraphs"]):
            if total >= n_contexts:
                return groups
            size = min(group_size, len(paragraphs), n_contexts - total)
            contexts = [paragraphs[(i + k) % len(paragraphs)] for k in range(size)]
            groups.append((paragraph["qas"][0]["question"], contexts))
            total += size
    return groups


def dev_groups(data_dir: str, set_name: str, n_contexts: int, group_size: int) -> list:
    """``(query, passage texts)`` groups from a project dev set (at most ``group_size`` passages per query)."""
    from text_pruner_rag.data.devsets import build_dev_sets

    groups, total = [], 0
    for record in build_dev_sets(data_dir)[set_name]:
        texts = [p.text for p in record.passages if p.text.strip()][: min(group_size, n_contexts - total)]
        if texts:
            groups.append((record.query, texts))
            total += len(texts)
        if total >= n_contexts:
            break
    return groups


def long_context(n_chars: int, seed: int = 0) -> str:
    """Pseudo-English text of exactly ``n_chars`` characters (sentences of 12-28 words)."""
    rng = np.random.default_rng(seed)
    parts, size = [], 0
    while size < n_chars:
        words = rng.choice(_WORDS, size=int(rng.integers(12, 28))).tolist()
        piece = " ".join(words).capitalize() + (".\n\n" if rng.random() < 0.05 else ". ")
        parts.append(piece)
        size += len(piece)
    return "".join(parts)[:n_chars]


# -- timing helpers -----------------------------------------------------------------------------------
def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _alternating(variants: dict[str, Callable[[], Any]], repeats: int) -> dict[str, list[float]]:
    """Time each variant ``repeats`` times, rotating which goes first in each round."""
    names = list(variants)
    times: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(max(1, repeats)):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(_timed(variants[name]))
    return times


def _summary(seconds: list[float]) -> dict[str, float]:
    return {"median_s": statistics.median(seconds), "min_s": min(seconds), "max_s": max(seconds)}


def _threads() -> dict[str, Any]:
    import torch

    return {"torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count()}


def _load() -> Optional[float]:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover - not on Unix
        return None


# -- the bare forward on the engine's own batches -----------------------------------------------------
def record_batches(pruner, query: str, contexts: list, batch_size: int) -> list[tuple]:
    """The padded ``(input_ids, attention_mask, token_type_ids)`` numpy batches that ``prune_many``
    feeds the model for these contexts (recorded from one real call)."""
    batches: list[tuple] = []
    if pruner._runner is None:
        original = pruner._torch_forward

        def recording(ids, mask, types):
            batches.append((ids.copy(), mask.copy(), None if types is None else types.copy()))
            return original(ids, mask, types)

        pruner._torch_forward = recording
        try:
            pruner.prune_many(query, contexts, batch_size=batch_size, show_progress_bar=False)
        finally:
            del pruner._torch_forward
    else:
        runner = pruner._runner

        def recording_runner(ids, mask, types):
            batches.append((ids.copy(), mask.copy(), None if types is None else types.copy()))
            return runner(ids, mask, types)

        pruner._runner = recording_runner
        try:
            pruner.prune_many(query, contexts, batch_size=batch_size, show_progress_bar=False)
        finally:
            pruner._runner = runner
    return batches


def bare_forward(pruner, batches: list[tuple]) -> Callable[[], None]:
    """A function running only the model (both heads and their activations) on pre-built batches."""
    if pruner._runner is not None:
        runner = pruner._runner
        feeds = [runner_feed(runner, ids, mask, types) for ids, mask, types in batches]
        names = ["keep_probabilities", "ranking_scores"]

        def run_onnx() -> None:
            for feed in feeds:
                runner.session.run(names, feed)

        return run_onnx

    import torch

    model, device = pruner.model, pruner.device
    tensors = [
        {"input_ids": torch.from_numpy(ids).to(device), "attention_mask": torch.from_numpy(mask).to(device),
         "token_type_ids": None if types is None else torch.from_numpy(types).to(device)}
        for ids, mask, types in batches
    ]

    def run_torch() -> None:
        with torch.inference_mode():
            for inputs in tensors:
                out = model(**inputs)
                model.keep_probabilities(out.pruning_logits).cpu()
                model.ranking_scores(out.ranking_logits).cpu()

    return run_torch


def runner_feed(runner, ids, mask, types) -> dict:
    from text_pruner_rag.backends.onnx import _feed

    return _feed(runner.session, ids, mask, np.zeros_like(ids) if types is None else types)


def engine_vs_bare(pruner, groups: list, batch_size: int, repeats: int) -> dict:
    """Figure 1: ``prune_many`` throughput / bare-forward throughput on the same batches."""
    recorded = [record_batches(pruner, q, c, batch_size) for q, c in groups]
    bare_fns = [bare_forward(pruner, batches) for batches in recorded]
    n = sum(len(c) for _, c in groups)
    times = _alternating({
        "prune_many": lambda: [pruner.prune_many(q, c, batch_size=batch_size, show_progress_bar=False) for q, c in groups],
        "bare_forward": lambda: [fn() for fn in bare_fns],
    }, repeats)
    prune, bare = statistics.median(times["prune_many"]), statistics.median(times["bare_forward"])
    engine_only = statistics.median(_engine_only_times(pruner, groups, batch_size, repeats))
    return {
        "engine_only": engine_only, "engine_only_ratio": bare / (bare + engine_only),
        "n_contexts": n, "n_windows": sum(len(b[0]) for batches in recorded for b in batches),
        "prune_many": _summary(times["prune_many"]), "bare_forward": _summary(times["bare_forward"]),
        "prune_seq_per_s": n / prune, "bare_seq_per_s": n / bare,
        "throughput_ratio": bare / prune, "target": ">= 0.85",
    }


def _engine_only_times(pruner, groups: list, batch_size: int, repeats: int) -> list[float]:
    """Seconds of ``prune_many`` over ``groups`` with the model call replaced by a constant (everything
    but the model: splitting, tokenising, windows, batch arrays, aggregation, results)."""
    def constant(ids, mask, types):
        return np.full(ids.shape, 0.5, dtype=np.float32), np.zeros(ids.shape[0], dtype=np.float32)

    runner, pruner._runner = pruner._runner, constant
    try:
        return _alternating({"engine": lambda: [pruner.prune_many(q, c, batch_size=batch_size, show_progress_bar=False)
                                                for q, c in groups]}, repeats)["engine"]
    finally:
        pruner._runner = runner


# -- plain reranking through the same model -----------------------------------------------------------
def plain_rerank(pruner, query: str, contexts: list, batch_size: int) -> list:
    """What a plain cross-encoder reranker does with the same model: one ``(query, context)`` pair per
    context, truncated to ``max_length`` tokens, ranking score only (no sentence splitting, no windows,
    no token probabilities). This is the cost that pruning should add almost nothing to. With the ONNX
    backend the same graph runs (its keep probabilities are computed and dropped)."""
    import torch

    model, tokenizer = pruner.model, pruner.tokenizer
    scores: list = []
    with torch.inference_mode():
        for start in range(0, len(contexts), batch_size):
            chunk = contexts[start:start + batch_size]
            if pruner._runner is not None:
                enc = tokenizer([query] * len(chunk), chunk, truncation="only_second", max_length=pruner.max_length,
                                padding=True, return_tensors="np")
                _, ranking = pruner._runner(enc["input_ids"].astype(np.int64), enc["attention_mask"].astype(np.int64),
                                            enc["token_type_ids"].astype(np.int64) if "token_type_ids" in enc else None)
                scores.extend(ranking.tolist())
                continue
            enc = tokenizer([query] * len(chunk), chunk, truncation="only_second", max_length=pruner.max_length,
                            padding=True, return_tensors="pt").to(pruner.device)
            out = model(**{k: v for k, v in enc.items() if k in ("input_ids", "attention_mask", "token_type_ids")})
            scores.extend(model.ranking_scores(out.ranking_logits).tolist())
    return scores


def benchmark(pruner, groups: list, batch_size: Optional[int] = None, repeats: int = 3, warmup: bool = True) -> dict:
    """Figure 2: rerank-only vs prune (+rerank) throughput on ``groups``.

    Returns:
        dict: ``n_contexts``, ``rerank_seconds``/``prune_seconds`` (medians of ``repeats``), their
        min/max, ``rerank_seq_per_s``, ``prune_seq_per_s``, ``ratio_prune_over_rerank`` (time ratio)
        and ``throughput_ratio`` (prune throughput / rerank throughput, target >= 0.95).
    """
    size = batch_size or pruner.batch_size

    def rerank():
        for query, contexts in groups:
            plain_rerank(pruner, query, contexts, size)

    def prune():
        for query, contexts in groups:
            pruner.prune_many(query, contexts, batch_size=size, show_progress_bar=False)

    if warmup and groups:
        for query, contexts in groups[:2]:
            plain_rerank(pruner, query, contexts, size)
            pruner.prune_many(query, contexts, batch_size=size, show_progress_bar=False)
    times = _alternating({"rerank": rerank, "prune": prune}, repeats)
    n = sum(len(contexts) for _, contexts in groups)
    rerank_s, prune_s = statistics.median(times["rerank"]), statistics.median(times["prune"])
    return {
        "n_contexts": n,
        "n_queries": len(groups),
        "batch_size": size,
        "repeats": max(1, repeats),
        "rerank_seconds": rerank_s,
        "prune_seconds": prune_s,
        "rerank": _summary(times["rerank"]),
        "prune": _summary(times["prune"]),
        "rerank_seq_per_s": n / rerank_s if rerank_s > 0 else float("inf"),
        "prune_seq_per_s": n / prune_s if prune_s > 0 else float("inf"),
        "ratio_prune_over_rerank": prune_s / rerank_s if rerank_s > 0 else float("nan"),
        "throughput_ratio": rerank_s / prune_s if prune_s > 0 else float("nan"),
        "target": ">= 0.95",
    }


# -- scaling and memory -------------------------------------------------------------------------------
# -- many queries: prune_batch vs a loop of prune_many -----------------------------------------------
def many_groups(data_dir: Optional[str], n_queries: int, per_query: int, sentences: int, seed: int = 0) -> tuple[str, list]:
    """``(source, groups)``: ``n_queries`` XQuAD-en questions (the first of each paragraph), each with its
    own paragraph first and the next ``per_query - 1`` paragraphs of the corpus, when ``data_dir`` holds
    XQuAD-en (``<data_dir>/xquad_en/xquad.en.json``); else synthetic groups of that shape."""
    path = Path(data_dir) / "xquad_en" / "xquad.en.json" if data_dir else None
    if path is not None and path.is_file():
        paragraphs = [p for a in json.loads(path.read_text(encoding="utf-8"))["data"] for p in a["paragraphs"]]
        if len(paragraphs) >= max(n_queries, per_query):
            return "xquad-en", [(paragraphs[i]["qas"][0]["question"],
                                 [paragraphs[(i + k) % len(paragraphs)]["context"] for k in range(per_query)])
                                for i in range(n_queries)]
    return "synthetic", synthetic_groups(n_queries * per_query, per_query, sentences, seed)


def batch_vs_loop(pruner, groups: list, batch_size: int, repeats: int) -> dict:
    """Seconds of one ``prune_batch`` over every group vs one ``prune_many`` per group (alternating
    passes); ``speedup`` = loop / batch (> 1: the batched call is faster). Also checks that both
    keep the same sentences."""
    queries, contexts = [q for q, _ in groups], [c for _, c in groups]

    def batch():
        return pruner.prune_batch(queries, contexts, batch_size=batch_size, show_progress_bar=False)

    def loop():
        return [pruner.prune_many(q, c, batch_size=batch_size, show_progress_bar=False) for q, c in groups]

    same = [[s.kept for r in rs for s in r.sentences] for rs in batch()] == \
        [[s.kept for r in rs for s in r.sentences] for rs in loop()]
    times = _alternating({"batch": batch, "loop": loop}, repeats)
    b, l = statistics.median(times["batch"]), statistics.median(times["loop"])
    n = sum(len(c) for c in contexts)
    return {"n_queries": len(groups), "n_contexts": n, "batch": _summary(times["batch"]), "loop": _summary(times["loop"]),
            "batch_ctx_per_s": n / b, "loop_ctx_per_s": n / l, "speedup": l / b, "same_kept_sentences": same}


def length_scaling(pruner, base_chars: int, factor: int, batch_size: int, repeats: int) -> dict:
    """Figure 3: ``prune`` time on a ``factor`` times longer context / time on the base context."""
    query = "Which railway bridge was built near the harbor?"
    short, long = long_context(base_chars, seed=1), long_context(base_chars * factor, seed=2)
    pruner.prune(query, short)
    times = _alternating({
        "base": lambda: pruner.prune_many(query, [short], batch_size=batch_size, show_progress_bar=False),
        "long": lambda: pruner.prune_many(query, [long], batch_size=batch_size, show_progress_bar=False),
    }, repeats)
    base, longer = statistics.median(times["base"]), statistics.median(times["long"])
    return {"base_chars": len(short), "long_chars": len(long), "factor": factor,
            "base": _summary(times["base"]), "long": _summary(times["long"]),
            "time_ratio": longer / base, "target": f"<= {factor + 1}"}


def _peak_rss_mb() -> Optional[float]:
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Unix
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def memory(pruner, megabytes: float, batch_size: int) -> dict:
    """Figure 4: Python heap peak (tracemalloc) and peak-RSS growth while pruning one large context."""
    text = long_context(int(megabytes * 1_000_000), seed=3)
    query = "Which railway bridge was built near the harbor?"
    pruner.prune(query, long_context(3000, seed=4))  # warm-up
    rss_before = _peak_rss_mb()
    tracemalloc.start()
    start = time.perf_counter()
    result = pruner.prune_many(query, [text], batch_size=batch_size, show_progress_bar=False)[0]
    seconds = time.perf_counter() - start
    _, heap_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = _peak_rss_mb()
    return {"context_chars": len(text), "sentences": len(result.sentences), "seconds": seconds,
            "tracemalloc_peak_mb": heap_peak / 1e6,
            "peak_rss_before_mb": rss_before, "peak_rss_after_mb": rss_after,
            "peak_rss_growth_mb": None if rss_before is None else rss_after - rss_before}


# -- command line -------------------------------------------------------------------------------------
def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default", help="checkpoint path or hub id; 'default' = embedded model")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--backend", default="torch", choices=["torch", "onnx"])
    parser.add_argument("--quantize", default=None, choices=["int8"])
    parser.add_argument("--n", type=int, default=128, help="number of contexts for figures 1 and 2")
    parser.add_argument("--group-size", type=int, default=16, help="contexts per query")
    parser.add_argument("--sentences", type=int, default=6, help="sentences per synthetic context")
    parser.add_argument("--batch-size", type=int, default=None, help="windows per forward pass (default: the pruner's)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch (and ONNX Runtime) CPU threads")
    parser.add_argument("--source", default="xquad", choices=["xquad", "synthetic", "dev"])
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR))
    parser.add_argument("--set", default="qed_dev", help="dev set for --source dev")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--base-chars", type=int, default=4000, help="base context length for figure 3 (characters)")
    parser.add_argument("--memory-mb", type=float, default=1.0, help="context size for figure 4 (MB); 0 skips it")
    parser.add_argument("--only", default="bare,rerank,length,memory",
                        help="comma-separated figures to run: bare, rerank, length, memory, many")
    parser.add_argument("--queries", type=int, default=32, help="queries of figure 5 (many)")
    parser.add_argument("--contexts-per-query", type=int, default=10, help="contexts per query of figure 5 (many)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON too")
    return parser.parse_args(argv)


def load_pruner(args: argparse.Namespace):
    """Load the pruner with its model in ``--dtype`` on ``--backend``."""
    import torch

    from text_pruner_rag import TextPruner

    if args.threads:
        torch.set_num_threads(args.threads)
    model = None if args.model == "default" else args.model
    return TextPruner.from_pretrained(model, device=args.device, dtype=getattr(torch, args.dtype),
                                      backend=args.backend, quantize=args.quantize)


def _groups(args: argparse.Namespace) -> list:
    if args.source == "dev":
        return dev_groups(args.data_dir, args.set, args.n, args.group_size)
    if args.source == "xquad":
        return xquad_groups(args.data_dir, args.n, args.group_size)
    return synthetic_groups(args.n, args.group_size, args.sentences, args.seed)


def main(argv: Optional[list[str]] = None) -> dict:
    args = parse_args(argv)
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    pruner = load_pruner(args)
    batch_size = args.batch_size or pruner.batch_size
    setting = {"model": args.model, "backend": pruner.backend, "quantize": pruner.quantize, "device": args.device,
               "dtype": args.dtype, "batch_size": batch_size, "max_length": pruner.max_length, "repeats": args.repeats,
               **_threads(), "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
               "python": platform.python_version()}
    out: dict[str, Any] = {"setting": setting}
    settings = (f"batch_size={batch_size}, threads={setting['torch_threads']}, backend={pruner.backend}"
                f"{'/' + pruner.quantize if pruner.quantize else ''}, median of {args.repeats}")
    print(f"model={args.model} device={args.device} dtype={args.dtype} max_length={pruner.max_length} "
          f"cpu_count={setting['cpu_count']} load={_load()}")
    if "memory" in only and args.memory_mb > 0:
        out["memory"] = m = memory(pruner, args.memory_mb, batch_size)
        m["load_after"] = _load()
        print(f"[memory]  {m['context_chars'] / 1e6:.2f} MB context ({m['sentences']} sentences) in {m['seconds']:.1f} s: "
              f"tracemalloc peak {m['tracemalloc_peak_mb']:.0f} MB, peak RSS +{m['peak_rss_growth_mb']:.0f} MB "
              f"(to {m['peak_rss_after_mb']:.0f} MB)  [{settings}, load {m['load_after']}]")
    groups = _groups(args) if only & {"bare", "rerank"} else []
    if groups:
        for query, contexts in groups[:2]:  # warm-up
            pruner.prune_many(query, contexts, batch_size=batch_size, show_progress_bar=False)
    if "bare" in only:
        out["engine_vs_bare"] = e = engine_vs_bare(pruner, groups, batch_size, args.repeats)
        e["load_after"] = _load()
        print(f"[engine]  prune_many {e['prune_seq_per_s']:.1f} ctx/s vs bare forward {e['bare_seq_per_s']:.1f} ctx/s "
              f"on the same {e['n_windows']} windows ({e['n_contexts']} {args.source} contexts): "
              f"throughput ratio {e['throughput_ratio']:.3f} (target >= 0.85); everything but the model takes "
              f"{e['engine_only']:.2f} s per pass (median), i.e. bare / (bare + engine-only) = {e['engine_only_ratio']:.3f}  "
              f"[{settings}, load {e['load_after']}]")
    if "rerank" in only:
        out["prune_vs_rerank"] = r = benchmark(pruner, groups, batch_size=batch_size, repeats=args.repeats, warmup=False)
        r["load_after"] = _load()
        print(f"[rerank]  prune+rerank {r['prune_seq_per_s']:.1f} ctx/s vs rerank-only {r['rerank_seq_per_s']:.1f} ctx/s: "
              f"throughput ratio {r['throughput_ratio']:.3f} (target >= 0.95)  [{settings}, load {r['load_after']}]")
    if "length" in only:
        out["length_scaling"] = s = length_scaling(pruner, args.base_chars, 10, batch_size, args.repeats)
        s["load_after"] = _load()
        print(f"[length]  {s['base_chars']} chars: {s['base']['median_s']:.2f} s, {s['long_chars']} chars: "
              f"{s['long']['median_s']:.2f} s: time ratio {s['time_ratio']:.2f} (target <= 11)  "
              f"[{settings}, load {s['load_after']}]")
    if "many" in only:
        source, many = many_groups(args.data_dir, args.queries, args.contexts_per_query, args.sentences, args.seed)
        pruner.prune_batch([q for q, _ in many[:2]], [c for _, c in many[:2]], batch_size=batch_size)  # warm-up
        out["prune_batch_vs_loop"] = b = batch_vs_loop(pruner, many, batch_size, args.repeats)
        b["source"], b["load_after"] = source, _load()
        print(f"[many]    prune_batch {b['batch_ctx_per_s']:.1f} ctx/s vs a loop of prune_many {b['loop_ctx_per_s']:.1f} "
              f"ctx/s on {b['n_queries']} queries x {args.contexts_per_query} {source} contexts: throughput ratio "
              f"{b['speedup']:.2f} (same kept sentences: {b['same_kept_sentences']})  [{settings}, load {b['load_after']}]")
    if args.json:
        print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
