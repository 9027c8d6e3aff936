"""Quality benchmark: ``text-pruner-rag eval`` over the dev suite (one implementation, this is a thin caller).

Usage::

    python benchmarks/quality.py --out runs/quality                    # = text-pruner-rag eval --suite dev --out runs/quality
    python benchmarks/quality.py --out runs/quality --limit 200        # first 200 queries of each dev set
    python benchmarks/quality.py --data qed_dev --data-dir ../shared/data/raw --out runs/qed --model PATH

Every option of ``text-pruner-rag eval`` is accepted (``--help`` lists them); without ``--data`` or
``--suite`` the dev suite (``--suite dev``: CAsT validation+test, WikiQA dev+test, QED dev, XQuAD-en)
is run. Writes ``report.json``, ``report.md`` and the plots per dev set, and ``summary.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

from text_pruner_rag import cli  # noqa: E402


def eval_arguments(argv: Sequence[str]) -> list[str]:
    """The ``text-pruner-rag`` arguments for ``argv``: ``eval``, and ``--suite dev`` unless data is named."""
    argv = list(argv)
    names_data = any(a in ("--data", "--suite") or a.startswith(("--data=", "--suite=")) for a in argv)
    asks_help = any(a in ("-h", "--help") for a in argv)
    return ["eval", *([] if names_data or asks_help else ["--suite", "dev"]), *argv]


def main(argv: Optional[Sequence[str]] = None) -> int:
    return cli.main(eval_arguments(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
