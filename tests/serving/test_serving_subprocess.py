"""`text-pruner-rag serve` as a separate process on 127.0.0.1, called over HTTP; bad usage exits 2."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]


def _env() -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_subprocess_answers_like_the_python_api(tiny_model_dir, tiny_pruner):
    port = _free_port()
    command = [sys.executable, "-m", "text_pruner_rag.cli", "serve", "--model", str(tiny_model_dir), "--device", "cpu",
               "--port", str(port), "--max-batch", "8", "--max-wait-ms", "2", "--log-level", "warning"]
    process = subprocess.Popen(command, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.stdout.read()
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        info = httpx.get(f"{url}/info").json()
        assert info["model"] == str(tiny_model_dir) and info["batching"]["max_batch"] == 8
        texts = ["Paris is in France. It is big.", "Bananas are yellow."]
        rows = httpx.post(f"{url}/rerank", json={"query": "Where is Paris?", "texts": texts}).json()
        expected = tiny_pruner.rerank("Where is Paris?", texts)
        assert [r["index"] for r in rows] == [e.index for e in expected]
        assert [r["score"] for r in rows] == pytest.approx([e.score if math.isfinite(e.score) else None for e in expected], abs=1e-5)
    finally:
        process.terminate()
        process.wait(30)


@pytest.mark.parametrize("args, message", [
    (["--max-batch", "0"], "--max-batch: must be >= 1, got 0"),
    (["--model", "./no/such/folder"], "--model: no such folder: ./no/such/folder"),
    (["--quantize", "int8"], "--quantize int8 needs --backend onnx"),
])
def test_bad_usage_exits_2(args, message, capsys):
    from text_pruner_rag.cli import main

    assert main(["serve", *args]) == 2
    assert message in capsys.readouterr().err
