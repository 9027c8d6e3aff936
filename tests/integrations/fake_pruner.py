"""A fake pruner implementing the Pruner protocol with the real keep rule, and a small test corpus."""

from __future__ import annotations

import threading
from typing import Optional, Sequence

import numpy as np

from text_pruner_rag.budget import fit_token_budget
from dataclasses import replace

from text_pruner_rag.chunking import Sentence
from text_pruner_rag.options import check_titles
from text_pruner_rag.policy import PruningPolicy
from text_pruner_rag.results import NO_TEXT_SCORE, PruningResult, build_result


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
    """Deterministic stand-in for TextPruner, implementing the :class:`~text_pruner_rag.protocols.Pruner` protocol.

    A sentence's keep probability is the fraction of the query's words it contains; which sentences
    are kept is decided by the real :class:`~text_pruner_rag.policy.PruningPolicy` (kept iff the
    probability is strictly above the threshold, default 0.5, plus the policy's other rules), like
    TextPruner. A context's reranking score is the fraction of query words found anywhere in it,
    unless ``scores`` maps the context to a fixed score; it is ``-inf`` for a context without text, like
    the real pruner.
    """

    default_threshold = 0.5
    sentence_rounding = "token_mean"

    def __init__(self, scores: Optional[dict[str, float]] = None) -> None:
        self.scores = scores or {}
        self.name_or_path: Optional[str] = None  # built in memory: adapters cannot serialize it
        self.calls: list[dict] = []

    def prune_many(
        self,
        query: str,
        contexts: Sequence[str],
        *,
        policy: Optional[PruningPolicy] = None,
        batch_size: Optional[int] = None,
        show_progress_bar: Optional[bool] = None,
        title=None,
        **options,
    ) -> list[PruningResult]:
        policy = PruningPolicy.from_options(policy, **options).resolve(self.default_threshold)
        titles = check_titles(title, len(contexts))
        self.calls.append(
            dict(
                query=query,
                contexts=list(contexts),
                policy=policy,
                threshold=policy.threshold,
                min_sentences=policy.min_sentences,
                keep_first=policy.keep_first,
                batch_size=batch_size,
                title=title,
                thread=threading.get_ident(),
            )
        )
        results = [self._prune(_words(query), context, policy) for context in contexts]
        if policy.token_budget is not None:
            results = fit_token_budget(results, policy.token_budget, self.count_tokens, keep_first=policy.keep_first)
        # an explicit title: reported apart, its probability the fraction of query words it holds
        return [r if t is None else replace(r, title=t, title_probability=self._probability(_words(query), t),
                                            title_kept=policy.keep_title(self._probability(_words(query), t),
                                                                         [s.kept for s in r.sentences]))
                for r, t in zip(results, titles)]

    @staticmethod
    def _probability(query_words: set[str], text: str) -> float:
        return len(query_words & _words(text)) / len(query_words)

    def prune_batch(self, queries, contexts_per_query, *, policy=None, batch_size=None, show_progress_bar=None,
                    **options) -> list[list[PruningResult]]:
        """One :meth:`prune_many` per query (the protocol's contract, without shared batches)."""
        return [self.prune_many(q, c, policy=policy, batch_size=batch_size, **options)
                for q, c in zip(queries, contexts_per_query)]

    def predict(self, inputs, batch_size=None, show_progress_bar=None, convert_to_numpy=True, convert_to_tensor=False):
        """Reranking scores of (query, context) pairs: the ``score`` prune_many gives (-inf for no text)."""
        policy = PruningPolicy(threshold=self.default_threshold)
        return np.asarray([self._prune(_words(q), c, policy).score for q, c in inputs], dtype=np.float32)

    def model_for(self, query=None, contexts=(), language=None) -> "FakePruner":
        """One model reads every call."""
        return self

    def count_tokens(self, texts: Sequence[str], *, language: Optional[str] = None) -> list[int]:
        """Whitespace-separated words per text (the fake tokenizer)."""
        return [len(t.split()) for t in texts]

    def _prune(self, query_words: set[str], context: str, policy: PruningPolicy) -> PruningResult:
        spans = split_sentences(context)
        probabilities = [len(query_words & _words(context[s:e])) / len(query_words) for s, e in spans]
        kept = policy.select(probabilities, token_counts=self.count_tokens([context[s:e] for s, e in spans]))
        score = NO_TEXT_SCORE if not context.strip() else self.scores.get(
            context, len(query_words & _words(context)) / len(query_words))
        return build_result(context, [Sentence(context[s:e], s, e) for s, e in spans], probabilities, kept, score)


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
