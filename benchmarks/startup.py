"""Startup cost: wall time of imports and of ``TextPruner.from_pretrained()`` in fresh processes.

Each statement runs ``--runs`` times in a new ``python -c`` process (so nothing is cached in the
interpreter; the OS file cache is warm after the first run); the median, min and max wall time of the
statement itself (measured inside the process with ``time.perf_counter``) are printed, with the heavy
modules (torch, transformers, onnxruntime, langchain_core, llama_index) that the statement left loaded.
Reference lines time ``import torch`` and ``import transformers`` alone: the floor under any
``from_pretrained``.

Usage::

    python benchmarks/startup.py --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]

STATEMENTS = {
    "import torch (reference)": "import torch",
    "import transformers (reference)": "import transformers",
    "import text_pruner_rag": "import text_pruner_rag",
    "import text_pruner_rag.integrations.langchain": "import text_pruner_rag.integrations.langchain",
    "import text_pruner_rag.integrations.llama_index": "import text_pruner_rag.integrations.llama_index",
    "TextPruner.from_pretrained()": "from text_pruner_rag import TextPruner; TextPruner.from_pretrained()",
    "TextPruner.from_pretrained(backend='onnx') (cached export)":
        "from text_pruner_rag import TextPruner; TextPruner.from_pretrained(backend='onnx')",
    "TextPruner.from_pretrained(backend='onnx', quantize='int8') (cached export)":
        "from text_pruner_rag import TextPruner; TextPruner.from_pretrained(backend='onnx', quantize='int8')",
}
HEAVY = ("torch", "transformers", "onnxruntime", "langchain_core", "llama_index")

_PROBE = """
import sys, time, json
start = time.perf_counter()
{statement}
elapsed = time.perf_counter() - start
print(json.dumps({{"seconds": elapsed, "loaded": [m for m in {heavy!r} if m in sys.modules]}}))
"""


def time_statement(statement: str, runs: int) -> dict:
    """Median/min/max seconds of ``statement`` over ``runs`` fresh interpreters, and the heavy modules it loaded."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    seconds, loaded = [], []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", _PROBE.format(statement=statement, heavy=HEAVY)],
                             capture_output=True, text=True, env=env, cwd=str(ROOT))
        if out.returncode != 0:
            return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
        result = json.loads(out.stdout.strip().splitlines()[-1])
        seconds.append(result["seconds"])
        loaded = result["loaded"]
    return {"median_s": statistics.median(seconds), "min_s": min(seconds), "max_s": max(seconds), "runs": runs,
            "loaded": loaded}


def main(argv: Optional[list[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default=None, help="comma-separated substrings of the statements to time")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = {}
    for name, statement in STATEMENTS.items():
        if args.only and not any(part in name for part in args.only.split(",")):
            continue
        report[name] = r = time_statement(statement, args.runs)
        if "error" in r:
            print(f"{name:78s} failed: {r['error']}")
            continue
        print(f"{name:78s} median {r['median_s']:.2f} s (min {r['min_s']:.2f}, max {r['max_s']:.2f}, "
              f"{r['runs']} runs) loads: {', '.join(r['loaded']) or '-'}", flush=True)
    try:
        print(f"load average: {os.getloadavg()[0]:.2f}")
    except OSError:  # pragma: no cover
        pass
    if args.json:
        print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
