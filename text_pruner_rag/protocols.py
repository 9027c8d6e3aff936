"""Structural types the adapters and the evaluation harness depend on (no torch import).

:class:`Pruner` is what the LangChain and LlamaIndex adapters call. :class:`~text_pruner_rag.TextPruner`
implements it; so can a test fake or another backend, as long as it keeps the same rules (a sentence
is kept iff its keep probability is strictly above the policy's threshold).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Protocol, Sequence, Union, runtime_checkable

if TYPE_CHECKING:
    from .policy import PruningPolicy
    from .results import PruningResult

__all__ = ["Context", "Pruner"]

Context = Union[str, Sequence[str]]
"""One context: a text, or its sentences already split (kept exactly; the text is their join)."""


@runtime_checkable
class Pruner(Protocol):
    """A query-dependent context pruner and reranker, as the adapters use it.

    Attributes:
        default_threshold (float): the sentence keep threshold used when a policy has none, in ``[0, 1]``.
        name_or_path (str | None): where the model comes from (path or hub id), for serialization;
            None for a pruner built in memory.
        sentence_rounding (str): how token keep probabilities become a sentence decision, one of
            :data:`~text_pruner_rag.policy.SENTENCE_ROUNDINGS` (the checkpoint's rule). The
            evaluation harness reads it to know whether a threshold sweep may reuse one pass of
            probabilities (``"token_mean"``) or needs one pass per threshold (``"fraction_above_threshold"``).
    """

    default_threshold: float
    name_or_path: Optional[str]
    sentence_rounding: str

    def model_for(self, query: Any = None, contexts: Sequence[Context] = (),
                  language: Optional[str] = None) -> "Pruner":
        """The one model that reads a call with this query, these contexts and ``language`` (itself for
        a pruner without language routing); its ``default_threshold``, ``sentence_rounding`` and
        ``count_tokens`` are those the call uses."""
        ...

    def prune_many(
        self,
        query: str,
        contexts: Sequence[Context],
        *,
        policy: Optional["PruningPolicy"] = None,
        batch_size: Optional[int] = None,
        show_progress_bar: Optional[bool] = None,
    ) -> list["PruningResult"]:
        """Rerank and prune ``contexts`` for ``query``: one :class:`~text_pruner_rag.PruningResult` per
        context, in input order, decided by ``policy`` (its threshold resolved against
        :attr:`default_threshold`)."""
        ...

    def prune_batch(
        self,
        queries: Sequence[str],
        contexts_per_query: Sequence[Sequence[Context]],
        *,
        policy: Optional["PruningPolicy"] = None,
        batch_size: Optional[int] = None,
        show_progress_bar: Optional[bool] = None,
    ) -> list[list["PruningResult"]]:
        """Rerank and prune the contexts of many queries in one call: list ``i`` equals
        ``prune_many(queries[i], contexts_per_query[i], policy=policy)`` (``token_budget`` per query)."""
        ...

    def count_tokens(self, texts: Sequence[str], *, language: Optional[str] = None) -> list[int]:
        """Tokens of each text (the unit of ``token_budget``) with this pruner's own tokenizer (or the
        one ``language`` is routed to), without special tokens."""
        ...

    def predict(self, inputs: Any, batch_size: Optional[int] = None, show_progress_bar: Optional[bool] = None,
                convert_to_numpy: bool = True, convert_to_tensor: bool = False) -> Any:
        """Reranking scores of ``(query, context)`` pairs (sentence-transformers ``CrossEncoder.predict`` shape)."""
        ...
