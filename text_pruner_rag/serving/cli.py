"""``text-pruner-rag serve``: the HTTP server from the command line.

Usage::

    text-pruner-rag serve                                   # embedded default model on 127.0.0.1:8080
    text-pruner-rag serve --model ./my-pruner --port 9000 --backend onnx --quantize int8
    text-pruner-rag serve --max-batch 128 --max-wait-ms 10 --batch-size 32

Routes, batching and limits: ``docs/serving.md`` and :func:`text_pruner_rag.serving.create_app`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_serve_parser", "run_serve"]


def add_serve_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``serve`` command to the ``text-pruner-rag`` sub-parsers; returns its parser."""
    from ..cli import _add_model_options, _non_negative_int, _number, _positive_int

    serve = subparsers.add_parser(
        "serve", help="serve the pruner over HTTP (/rerank, /v2/rerank, /prune, /health, /info)",
        description="Serve one model to many processes: /rerank (text-embeddings-inference shape), /v2/rerank "
                    "(Cohere v2 shape), /prune (the JSON of 'prune --json'), /health and /info. Concurrent "
                    "requests are batched together. Needs the serve extra (FastAPI, uvicorn).")
    _add_model_options(serve, query=False)
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=_non_negative_int, default=8080, help="TCP port (default: 8080)")
    serve.add_argument("--backend", choices=("torch", "onnx"), default="torch", help="inference backend (default: torch)")
    serve.add_argument("--quantize", choices=("int8",), default=None, help="with --backend onnx: int8 weights")
    batching = serve.add_argument_group("batching")
    batching.add_argument("--max-batch", type=_positive_int, default=64, metavar="WINDOWS",
                          help="token windows per merged batch of requests; 1 turns merging off (default: 64)")
    batching.add_argument("--max-wait-ms", type=_number, default=5.0, metavar="MS",
                          help="how long to wait for more requests after the first, in ms (default: 5)")
    batching.add_argument("--max-queue", type=_positive_int, default=256, metavar="N",
                          help="requests waiting at most; more get 503 (default: 256)")
    limits = serve.add_argument_group("request limits (413 over them)")
    limits.add_argument("--max-body-bytes", type=_positive_int, default=8 * 1024 * 1024, metavar="BYTES",
                        help="bytes of a request body (default: 8 MiB)")
    limits.add_argument("--max-texts", type=_positive_int, default=1000, metavar="N",
                        help="texts in one request (default: 1000)")
    limits.add_argument("--max-characters", type=_positive_int, default=2_000_000, metavar="N",
                        help="characters of the query and texts of one request (default: 2,000,000)")
    serve.add_argument("--log-level", choices=("critical", "error", "warning", "info", "debug"), default="info",
                       help="uvicorn's log level (default: info)")
    return serve


def _load(args: argparse.Namespace):
    from ..checkpoints import CheckpointError
    from ..cli import PROG, _looks_like_local_path, _one_line
    from ..pruner import TextPruner

    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.quantize and args.backend != "onnx":
        raise ValueError("--quantize int8 needs --backend onnx")
    if args.model is not None and _looks_like_local_path(args.model) and not Path(args.model).expanduser().exists():
        raise ValueError(f"--model: no such folder: {args.model}")
    try:
        return TextPruner.from_pretrained(args.model, device=args.device, language=args.language,
                                          batch_size=args.batch_size, backend=args.backend, quantize=args.quantize)
    except (CheckpointError, FileNotFoundError) as exc:
        raise ValueError(f"cannot load model {args.model or '(default)'}: {_one_line(exc)}") from None
    except ImportError as exc:  # onnx extra missing
        print(f"{PROG} serve: error: {exc}", file=sys.stderr)
        return None


def run_serve(args: argparse.Namespace) -> int:
    """Load the model, build the app and run uvicorn until interrupted; returns the exit code
    (0 after a clean stop, 1 a missing dependency, 2 bad usage)."""
    from ..cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, PROG, _one_line

    try:
        import uvicorn

        from .app import ServerLimits, create_app
    except ImportError as exc:
        print(f"{PROG} serve: error: {exc}; install the serve extra: pip install text-pruner-rag[serve]",
              file=sys.stderr)
        return EXIT_FAILURE
    try:
        limits = ServerLimits(max_body_bytes=args.max_body_bytes, max_texts=args.max_texts,
                              max_characters=args.max_characters)
        pruner = _load(args)
        if pruner is None:
            return EXIT_FAILURE
        app = create_app(pruner, max_batch=args.max_batch, max_wait_ms=args.max_wait_ms,
                         max_queue=args.max_queue, batch_size=args.batch_size, limits=limits)
    except (TypeError, ValueError) as exc:
        print(f"{PROG} serve: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{PROG} serve: {pruner.name_or_path} ({pruner.backend}) on http://{args.host}:{args.port}",
          file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return EXIT_OK
