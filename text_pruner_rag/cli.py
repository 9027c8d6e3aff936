"""``text-pruner-rag`` command line: prune a text for a query, or rerank texts.

Usage::

    text-pruner-rag prune --query "Who wrote Hamlet?" notes.txt          # prints the pruned text
    cat notes.txt | text-pruner-rag prune --query "Who wrote Hamlet?" -   # read the context from stdin
    text-pruner-rag prune --query Q notes.txt --json                       # score, compression, sentences
    text-pruner-rag rerank --query Q a.txt b.txt c.txt                     # "score<TAB>file", best first

Without ``--model`` the embedded default model is used (offline). Exit codes: 0 success, 1 the
embedded default model is missing or pruning failed unexpectedly, 2 bad usage (unknown option, missing
file, a pruning option out of range, bad device or model path); errors go to stderr.

The pruning options of ``prune`` (``--threshold``, ``--min-sentences``, ``--keep-first``,
``--keep-ratio``, ``--context-token-budget``, ``--token-budget``) are those of
:class:`~text_pruner_rag.policy.PruningPolicy`, which checks them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Optional, Sequence

__all__ = ["main", "build_parser"]

PROG = "text-pruner-rag"
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class _UsageError(Exception):
    """Bad usage: reported on stderr with exit code 2."""


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


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--query", "-q", required=True, help="the question the text is pruned for")
    parser.add_argument("--model", "-m", default=None, metavar="PATH",
                        help="checkpoint folder or hub id (default: the embedded default model)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N, mps or auto (default: auto)")
    parser.add_argument("--language", choices=("auto", "en", "ja"), default="auto",
                        help="sentence splitting language (default: auto, per text)")
    parser.add_argument("--batch-size", type=int, default=32, help="windows per forward pass (default: 32)")


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
    prune.add_argument("--json", action="store_true",
                       help="print a JSON object: score, compression_rate, pruned_text, threshold, policy, "
                            "sentences")

    rerank = commands.add_parser("rerank", help="order texts by relevance to a query",
                                 description="Print one line per FILE, 'score<TAB>FILE', most relevant first.")
    rerank.add_argument("files", nargs="+", metavar="FILE", help="UTF-8 text files ('-' reads stdin once)")
    _add_model_options(rerank)
    rerank.add_argument("--top-n", type=_non_negative_int, default=None, help="print only the best N")
    rerank.add_argument("--json", action="store_true", help="print a JSON list of {file, score}")
    return parser


def _read_text(name: str, stdin_used: list) -> str:
    if name == "-":
        if stdin_used:
            raise _UsageError("stdin ('-') can be read only once")
        stdin_used.append(True)
        return sys.stdin.read()
    path = Path(name)
    if not path.exists():
        raise _UsageError(f"no such file: {name}")
    if path.is_dir():
        raise _UsageError(f"{name} is a directory, not a text file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise _UsageError(f"{name} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise _UsageError(f"cannot read {name}: {exc.strerror or exc}") from None


def _looks_like_local_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~", ".\\")) or Path(name).is_absolute() or name.count("/") > 1


def _load_pruner(args: argparse.Namespace):
    from .checkpoints import CheckpointError
    from .pruner import TextPruner

    if args.batch_size < 1:
        raise _UsageError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.model is None:
        from .pruner import default_model_path

        try:
            default_model_path()
        except FileNotFoundError as exc:
            print(f"{PROG}: error: no model: {exc}. Pass --model PATH (a checkpoint folder).", file=sys.stderr)
            return None
    elif _looks_like_local_path(args.model) and not Path(args.model).expanduser().exists():
        raise _UsageError(f"--model: no such folder: {args.model}")
    try:
        return TextPruner.from_pretrained(args.model, device=args.device, language=args.language,
                                          batch_size=args.batch_size)
    except (FileNotFoundError, CheckpointError) as exc:
        raise _UsageError(f"cannot load model {args.model or '(default)'}: {exc}") from None
    except ValueError as exc:  # invalid device and other bad options
        raise _UsageError(str(exc)) from None


def _check_query(query: str) -> None:
    if not query.strip():
        raise _UsageError("--query must not be empty")


def _policy(args: argparse.Namespace):
    """The PruningPolicy of the command line options (its own range checks: a bad value is a usage error)."""
    from .policy import PruningPolicy

    try:
        return PruningPolicy.from_options(**{name: getattr(args, name) for name in PruningPolicy.option_names()})
    except (TypeError, ValueError) as exc:
        option = next((f"--{n.replace('_', '-')}" for n in PruningPolicy.option_names() if f"`{n}`" in str(exc)), None)
        raise _UsageError(f"{option}: {exc}" if option else str(exc)) from None


def _prune(args: argparse.Namespace) -> int:
    _check_query(args.query)
    policy = _policy(args)
    context = _read_text(args.file, [])
    pruner = _load_pruner(args)
    if pruner is None:
        return EXIT_FAILURE
    policy = policy.resolve(pruner.default_threshold)
    result = pruner.prune(args.query, context, policy=policy)
    if args.json:
        payload = {
            "score": result.score,
            "compression_rate": result.compression_rate,
            "pruned_text": result.pruned_text,
            "threshold": policy.threshold,
            "policy": dataclasses.asdict(policy),
            "sentences": [
                {"text": s.text, "start": s.start, "end": s.end, "probability": s.probability, "kept": s.kept}
                for s in result.sentences
            ],
        }
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
    if pruner is None:
        return EXIT_FAILURE
    ranked = pruner.rerank(args.query, texts, top_n=args.top_n)
    if args.json:
        rows = [{"file": args.files[r.index], "score": r.score} for r in ranked]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
    else:
        for r in ranked:
            score = "nan" if r.score is None else f"{r.score:.6f}"
            sys.stdout.write(f"{score}\t{args.files[r.index]}\n")
    return EXIT_OK


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit code (0 ok, 1 failure, 2 bad usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse reports usage errors itself (exit 2) and --help/--version (0)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: a command is required (prune or rerank)", file=sys.stderr)
        return EXIT_USAGE
    try:
        return _prune(args) if args.command == "prune" else _rerank(args)
    except _UsageError as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (TypeError, ValueError) as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
