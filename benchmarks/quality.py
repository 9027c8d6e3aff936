"""Quality benchmark: the pruner against baselines on the dev sets, in one run.

For each dev set, the pruner runs once at its threshold (its ``default_threshold`` unless
``--threshold`` is given); the optional ``--thresholds`` sweep reuses the same sentence
probabilities; every baseline (keep-all, random, BM25, MiniLM embeddings) is then run at the
pruner's global character compression. See ``text_pruner_rag.evaluation`` for the metrics.

Usage::

    python benchmarks/quality.py --model PATH_OR_DEFAULT --data-dir ../shared/data \\
        --sets qed_dev,xquad_en --limit 200 --thresholds 0.05,0.1,0.2,0.3,0.5 \\
        --out report.json --markdown report.md

Dev records come from ``text_pruner_rag.training.devsets.build_dev_sets(data_dir)``, or from JSONL
files of unified records given with ``--records FILE.jsonl`` (the set is named after the file stem).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

from text_pruner_rag.evaluation import DEFAULT_BASELINES, evaluate, format_markdown  # noqa: E402

logger = logging.getLogger("benchmarks.quality")


def _floats(values: list[str]) -> list[float]:
    return [float(x) for value in values for x in value.split(",") if x.strip()]


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default", help="checkpoint path or hub id; 'default' = embedded model")
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"), help="the shared data folder")
    parser.add_argument("--sets", default="qed_dev,xquad_en", help="comma-separated: qed_dev, qed_dev_single (human-selected sentence "
                        "only), xquad_en, jaquad_dev")
    parser.add_argument("--records", nargs="*", default=[], help="unified-record JSONL files (not --data-dir)")
    parser.add_argument("--limit", type=int, default=None, help="at most N records per set (the first N)")
    parser.add_argument("--threshold", type=float, default=None, help="pruner threshold (default: the checkpoint's)")
    parser.add_argument("--thresholds", nargs="*", default=[], help="sweep thresholds, e.g. 0.05,0.1,0.2 or 0.05 0.1")
    parser.add_argument("--baselines", default=",".join(DEFAULT_BASELINES), help="comma-separated baselines")
    parser.add_argument("--batch-size", type=int, default=None, help="pruner batch size")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0, help="random baseline and tie-breaking seed")
    parser.add_argument("--embedding-model", default=None, help="model of the embedding baseline")
    parser.add_argument("--other-article-negatives", type=int, default=0, metavar="N",
                        help="also evaluate `<set>_other_articles`: each query's gold passage plus N passages drawn "
                             "(seeded) from other articles, to measure how often unrelated passages are emptied")
    parser.add_argument("--out", default=None, help="write the JSON report here")
    parser.add_argument("--markdown", default=None, help="write the markdown tables here")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    args.thresholds = _floats(args.thresholds)
    args.set_names = [s.strip() for s in args.sets.split(",") if s.strip()]
    args.baseline_names = [b.strip() for b in args.baselines.split(",") if b.strip()]
    return args


def load_dev_sets(args: argparse.Namespace) -> dict[str, list[dict]]:
    """The requested dev sets, from ``--records`` files or ``build_dev_sets(--data-dir)``."""
    if args.records:
        sets = {}
        for path in map(Path, args.records):
            with path.open(encoding="utf-8") as f:
                sets[path.stem] = [json.loads(line) for line in f if line.strip()]
        return sets
    try:
        from text_pruner_rag.training.devsets import build_dev_sets
    except ImportError as exc:
        raise SystemExit(f"Cannot import build_dev_sets ({exc}); pass --records FILE.jsonl instead.") from exc
    # No limit here: `run` applies --limit per set, and other-article negatives draw from the whole set.
    sets = build_dev_sets(args.data_dir)
    sets["qed_dev_single"] = [r for r in sets["qed_dev"] if r.meta.get("explanation_type") == "single_sentence"]
    return sets


def _as_dict(record) -> dict:
    return record.to_dict() if hasattr(record, "to_dict") else dict(record)


def other_article_set(records: list, n: int, seed: int = 0, pool_records: Optional[list] = None) -> list[dict]:
    """Each record's positive passages plus ``n`` passages from records of *other* articles (label 0).

    An article is identified by the positive passage's title (its text when untitled). Draws are
    seeded, come from ``pool_records`` (default: ``records``; pass the whole dev set when ``records``
    is a prefix, which may cover a single article) and never take a passage containing one of the
    query's gold answers.
    """
    import random

    rows = [_as_dict(r) for r in records]
    pool = []
    for row in (rows if pool_records is None else [_as_dict(r) for r in pool_records]):
        for p in row["passages"]:
            pool.append((p.get("title") or row["passages"][0]["text"][:80], p))
    out = []
    for index, row in enumerate(rows):
        positives = [p for p in row["passages"] if p["label"] == 1]
        article = positives[0].get("title") or positives[0]["text"][:80] if positives else None
        rng = random.Random(f"{seed}|{index}")
        answers = [a.lower() for a in row.get("answers", []) if a]
        negatives, tries = [], 0
        while len(negatives) < n and tries < 50 * n:
            tries += 1
            title, p = pool[rng.randrange(len(pool))]
            if title == article or any(a in p["text"].lower() for a in answers) or p in negatives:
                continue
            negatives.append({**p, "label": 0, "relevance": [0] * len(p["spans"]), "teacher_score": None})
        out.append({**row, "id": f"{row['id']}+other", "passages": positives + negatives})
    return out


def load_pruner(model: str, device: str):
    """``TextPruner.from_pretrained`` (``model='default'`` = the embedded model)."""
    from text_pruner_rag import TextPruner

    return TextPruner.from_pretrained(None if model == "default" else model, device=device)


def run(args: argparse.Namespace, pruner=None, dev_sets: Optional[dict] = None) -> dict:
    """Evaluate every requested set; write ``--out``/``--markdown``; return the report."""
    started = time.perf_counter()
    dev_sets = load_dev_sets(args) if dev_sets is None else dev_sets
    if getattr(args, "other_article_negatives", 0):
        for name in list(args.set_names):
            if name in dev_sets:
                records = dev_sets[name][: args.limit] if args.limit else dev_sets[name]
                dev_sets[f"{name}_other_articles"] = other_article_set(records, args.other_article_negatives, args.seed,
                                                                       pool_records=dev_sets[name])
                args.set_names.append(f"{name}_other_articles")
    missing = [name for name in args.set_names if name not in dev_sets]
    if missing:
        raise SystemExit(f"Unknown dev set(s) {missing}; available: {sorted(dev_sets)}.")
    pruner = load_pruner(args.model, args.device) if pruner is None else pruner
    results = {}
    for name in args.set_names:
        records = dev_sets[name][: args.limit] if args.limit else dev_sets[name]
        logger.info("Evaluating %s (%d records)", name, len(records))
        results[name] = evaluate(
            pruner,
            records,
            threshold=args.threshold,
            sweep_thresholds=args.thresholds or None,
            baselines=args.baseline_names,
            batch_size=args.batch_size,
            seed=args.seed,
            embedding_model=args.embedding_model,
            show_progress_bar=not args.quiet,
        )
    report = {
        "model": args.model,
        "default_threshold": getattr(pruner, "default_threshold", None),
        "limit": args.limit,
        "seed": args.seed,
        "seconds": time.perf_counter() - started,
        "sets": results,
    }
    markdown = format_markdown(results)
    print(markdown)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    if args.markdown:
        Path(args.markdown).write_text(markdown, encoding="utf-8")
    return report


def main(argv: Optional[list[str]] = None) -> None:
    args = parse_args(argv)
    level = logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    run(args)


if __name__ == "__main__":
    main()
