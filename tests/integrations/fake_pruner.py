"""A fake pruner with TextPruner's prune_many signature, and a small test corpus."""

from __future__ import annotations

import threading
from typing import Optional, Sequence

from text_pruner_rag.results import PruningResult, SentenceScore


def split_sentences(context: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``context``, split after each ". " (delimiter kept)."""
    spans, start = [], 0
    while start < len(context):
        cut = context.find(". ", start)
        end = len(context) if cut < 0 else cut + 2
        spans.append((start, end))
        start = end
    return spans


def _words(text: str) -> set[str]:
    return {w.strip(".,?!").lower() for w in text.split()} - {""}


class FakePruner:
    """Deterministic stand-in for TextPruner.

    A sentence's keep probability is the fraction of the query's words it contains; it is kept when
    the probability is >= the threshold (default 0.5). A context's reranking score is the fraction
    of query words found anywhere in it, unless ``scores`` maps the context to a fixed score; it is
    None for a context without text, like the real pruner.
    """

    default_threshold = 0.5

    def __init__(self, scores: Optional[dict[str, float]] = None) -> None:
        self.scores = scores or {}
        self.name_or_path: Optional[str] = None  # built in memory: adapters cannot serialize it
        self.calls: list[dict] = []

    def prune_many(
        self,
        query: str,
        contexts: Sequence[str],
        *,
        threshold: Optional[float] = None,
        min_sentences: int = 0,
        keep_first: bool = False,
        batch_size: Optional[int] = None,
        show_progress_bar: Optional[bool] = None,
    ) -> list[PruningResult]:
        self.calls.append(
            dict(
                query=query,
                contexts=list(contexts),
                threshold=threshold,
                min_sentences=min_sentences,
                keep_first=keep_first,
                batch_size=batch_size,
                thread=threading.get_ident(),
            )
        )
        threshold = self.default_threshold if threshold is None else threshold
        return [self._prune(_words(query), context, threshold) for context in contexts]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Whitespace-separated words per text (the fake tokenizer)."""
        return [len(t.split()) for t in texts]

    def _prune(self, query_words: set[str], context: str, threshold: float) -> PruningResult:
        sentences = []
        for start, end in split_sentences(context):
            text = context[start:end]
            probability = len(query_words & _words(text)) / len(query_words)
            sentences.append(SentenceScore(text, start, end, probability, probability >= threshold))
        pruned = "".join(s.text for s in sentences if s.kept)
        if not context.strip():
            score = None
        else:
            score = self.scores.get(context, len(query_words & _words(context)) / len(query_words))
        rate = 1.0 - len(pruned) / len(context) if context else 0.0
        return PruningResult(pruned, score, rate, sentences, context)


# Four documents for QUERY. Reranking scores (fraction of the 3 query words found): 1.0, 0.0, 1/3, 2/3.
# Documents 1 and 2 have no sentence with >= 2 of the 3 words, so all their sentences are pruned; the
# best sentence of document 1 is its first (all tie at 0.0), of document 2 "New buildings rise there.".
QUERY = "Tesla New York"
TEXTS = [
    "Tesla was born in Smiljan. He moved to New York in 1884. He worked for Edison.",
    "The Rhine flows through Basel. It reaches the North Sea.",
    "Warsaw is the capital of Poland. New buildings rise there.",
    "Tesla lived in New Orleans briefly. Oxygen is a gas. Paris is a city too.",
]
