"""Teacher scores: reranking scores per (query, passage) pair and sentence scores per sentence, cached on disk.

The teacher is either a sentence-transformers ``CrossEncoder`` (its ``predict`` with the default
activation, sigmoid for one-label models: the scale OpenProvence distils) or any checkpoint that
:class:`~text_pruner_rag.TextPruner` loads (its reranking score). Scores are cached in a JSON-lines
file named after the teacher, keyed by a hash of the query and passage text, so re-runs and resumed
runs never score a pair twice.

The *sentence* teacher (:func:`attach_sentence_teacher_scores`) is an embedding model read with
sentence-transformers: each sentence's score is the cosine similarity of the query's and the
sentence's normalised embeddings (no prompt or prefix). The loss uses these scores only to order
sentences whose labels are equal (:func:`text_pruner_rag.training.losses.sentence_teacher_loss`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Callable, Optional, Sequence

from ..data.records import Record

logger = logging.getLogger(__name__)

__all__ = ["attach_sentence_teacher_scores", "attach_teacher_scores", "load_teacher"]


def _key(query: str, text: str) -> str:
    return hashlib.sha1(f"{query}\x00{text}".encode("utf-8")).hexdigest()


def load_teacher(name_or_path: str, batch_size: int = 32) -> Callable[[list[tuple[str, str]]], list[float]]:
    """Return ``score(pairs) -> scores`` for a CrossEncoder or a pruner checkpoint."""
    config_file = Path(name_or_path) / "config.json"
    if config_file.is_file():
        model_type = json.loads(config_file.read_text(encoding="utf-8")).get("model_type")
        if model_type in ("text_pruner", "open_provence", "Provence", "XProvence"):
            from ..pruner import TextPruner

            pruner = TextPruner.from_pretrained(name_or_path, batch_size=batch_size)

            def score_with_pruner(pairs):
                # One batched pass per query (all its passages together), not one call per pair.
                by_query: dict[str, list[int]] = {}
                for i, (q, _) in enumerate(pairs):
                    by_query.setdefault(q, []).append(i)
                scores = [0.0] * len(pairs)
                for q, indices in by_query.items():
                    results = pruner.prune_many(q, [pairs[i][1] for i in indices])
                    for i, r in zip(indices, results):
                        scores[i] = r.score or 0.0
                return scores

            return score_with_pruner
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(name_or_path)

    def score_with_cross_encoder(pairs):
        return [float(s) for s in model.predict(pairs, batch_size=batch_size, show_progress_bar=False)]

    return score_with_cross_encoder


def _cache_file(cache_dir: str | Path, teacher: str, prefix: str = "") -> Path:
    """The JSON-lines cache of one teacher: ``<cache_dir>/<prefix><sha1(teacher)[:12]>.jsonl``."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    return cache_dir / (prefix + hashlib.sha1(teacher.encode()).hexdigest()[:12] + ".jsonl")


def _read_cache(cache_file: Path, field: str) -> dict:
    """``{key: item[field]}`` of every line of a cache file (empty when there is none yet)."""
    if not cache_file.is_file():
        return {}
    items = (json.loads(line) for line in cache_file.read_text(encoding="utf-8").splitlines() if line.strip())
    return {item["key"]: item[field] for item in items}


def attach_teacher_scores(records: list[Record], teacher: str, cache_dir: str | Path,
                          batch_size: int = 32, languages: Optional[Sequence[str]] = None) -> list[Record]:
    """Fill every passage's ``teacher_score`` from the cache, scoring missing pairs with ``teacher``.

    With ``languages``, only records of those languages are scored; the others are returned unchanged
    (no teacher score: the ranking loss falls back to their binary labels).
    """
    cache_file = _cache_file(cache_dir, teacher)
    cache = {k: float(v) for k, v in _read_cache(cache_file, "score").items()}
    chosen = [languages is None or r.language in languages for r in records]
    missing = {}
    for r in (r for r, keep in zip(records, chosen) if keep):
        for p in r.passages:
            k = _key(r.query, p.text)
            if k not in cache:
                missing[k] = (r.query, p.text)
    if missing:
        logger.info("scoring %d pairs with teacher %s (%d cached)", len(missing), teacher, len(cache))
        score = load_teacher(teacher, batch_size)
        keys = list(missing)
        with open(cache_file, "a", encoding="utf-8") as handle:
            for start in range(0, len(keys), 256):
                chunk = keys[start:start + 256]
                for k, s in zip(chunk, score([missing[k] for k in chunk])):
                    cache[k] = s
                    handle.write(json.dumps({"key": k, "score": s}) + "\n")
    return [replace(r, passages=[replace(p, teacher_score=cache[_key(r.query, p.text)]) for p in r.passages])
            if keep else r for r, keep in zip(records, chosen)]




def attach_sentence_teacher_scores(records: list[Record], model: str, cache_dir: str | Path,
                                   batch_size: int = 64) -> list[Record]:
    """Fill every passage's ``sentence_teacher``: cosine(query, sentence) under an embedding model.

    Args:
        records (list[Record]): unified records.
        model (str): a sentence-transformers model folder or id (e.g. all-MiniLM-L6-v2's folder).
        cache_dir (str | Path): scores are cached per (query, passage text) in a JSON-lines file named
            after the model, so resumed runs embed nothing twice.
        batch_size (int): embedding batch size. Defaults to 64.

    Returns:
        list[Record]: copies of the records with ``sentence_teacher`` set on every passage (one cosine
        in [-1, 1] per span).

    Raises:
        ImportError: sentence-transformers is not installed.
    """
    cache_file = _cache_file(cache_dir, model, "sentences-")
    cache: dict[str, list[float]] = _read_cache(cache_file, "scores")
    missing: dict[str, tuple[str, list[str]]] = {}
    for r in records:
        for p in r.passages:
            k = _key(r.query, p.text)
            if k not in cache or len(cache[k]) != len(p.spans):
                missing[k] = (r.query, p.sentences)
    if missing:
        import numpy as np
        from sentence_transformers import SentenceTransformer

        logger.info("embedding the sentences of %d passages with %s (%d cached)", len(missing), model, len(cache))
        encoder = SentenceTransformer(model, device="cpu")
        texts = sorted({t for q, sentences in missing.values() for t in [q, *sentences]})
        index = {t: i for i, t in enumerate(texts)}
        vectors = encoder.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)
        vectors = np.asarray(vectors, dtype=np.float32)
        with open(cache_file, "a", encoding="utf-8") as handle:
            for k, (q, sentences) in missing.items():
                scores = (vectors[[index[t] for t in sentences]] @ vectors[index[q]]).tolist()
                cache[k] = [round(float(s), 6) for s in scores]
                handle.write(json.dumps({"key": k, "scores": cache[k]}) + "\n")
    return [replace(r, passages=[replace(p, sentence_teacher=cache[_key(r.query, p.text)]) for p in r.passages])
            for r in records]
