"""The token budget across the contexts of one call: the most relevant kept sentences that fit.

``token_budget`` is a hard cap on the tokens of all returned texts together, counted with the
tokenizer of the model that pruned them (no special tokens). The engine and the adapters call
:func:`fit_token_budget`; nothing else re-implements it.

Source: the cross-document budget of RAG context compressors (fill by relevance until the budget is
spent), applied here to the sentences the policy kept.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence, Union

from .options import check_count
from .results import PruningResult, remask

__all__ = ["fit_token_budget", "select_within_token_budget"]


def select_within_token_budget(
    probabilities: Sequence[Sequence[float]],
    token_counts: Sequence[Sequence[int]],
    candidates: Sequence[Sequence[bool]],
    token_budget: int,
    document_scores: Optional[Sequence[Optional[float]]] = None,
    *,
    keep_first: Union[bool, Sequence[bool]] = False,
) -> list[list[bool]]:
    """Choose sentences across several documents so that together they hold at most ``token_budget`` tokens.

    Greedy fill by relevance: the candidate sentences of all documents are visited by decreasing keep
    probability (ties: higher document score first, then earlier document, then earlier sentence); a
    sentence is taken when its tokens still fit in what is left of the budget, and skipped otherwise
    (a later, shorter sentence may still fit). Pure function: no model, no tokenizer.

    Args:
        probabilities (Sequence[Sequence[float]]): per document, the keep probability of each
            sentence, in ``[0, 1]``.
        token_counts (Sequence[Sequence[int]]): per document, the tokens of each sentence (``>= 0``).
        candidates (Sequence[Sequence[bool]]): per document, the sentences that may be taken (usually
            the mask chosen by :meth:`PruningPolicy.select`); others are never taken.
        token_budget (int): the most tokens all taken sentences may hold together, ``>= 0``.
        document_scores (Sequence[float | None], optional): reranking score per document, only to
            break ties in probability (None ranks below every score). Defaults to no tie-break.
        keep_first (bool | Sequence[bool]): a document's first sentence is taken together with its first
            other sentence (both must fit), as :attr:`PruningPolicy.keep_first` does; one flag for every
            document or one per document (e.g. the documents whose first sentence is their title).
            Defaults to False.

    Returns:
        list[list[bool]]: per document, the taken mask (a subset of ``candidates``; kept sentences stay
        in their original order when the caller joins them). A document whose taken sentences all have
        0 tokens gets an all-False mask: it is left empty, and callers drop it.

    Raises:
        ValueError: lists of different lengths, a negative budget or a negative token count.
    """
    token_budget = check_count(token_budget, "token_budget")
    n_docs = len(probabilities)
    if len(token_counts) != n_docs or len(candidates) != n_docs:
        raise ValueError("probabilities, token_counts and candidates need one entry per document")
    if document_scores is not None and len(document_scores) != n_docs:
        raise ValueError("document_scores needs one entry per document")
    firsts = [bool(keep_first)] * n_docs if isinstance(keep_first, bool) else [bool(k) for k in keep_first]
    if len(firsts) != n_docs:
        raise ValueError("keep_first needs one entry per document")
    for d in range(n_docs):
        if not len(probabilities[d]) == len(token_counts[d]) == len(candidates[d]):
            raise ValueError(f"document {d}: probabilities, token_counts and candidates differ in length")
        if any(c < 0 for c in token_counts[d]):
            raise ValueError(f"document {d}: token counts must be >= 0")

    def doc_rank(d: int) -> float:  # ascending sort key: higher score first, None last
        score = None if document_scores is None else document_scores[d]
        return float("inf") if score is None else -float(score)

    order = sorted(
        ((d, i) for d in range(n_docs) for i in range(len(candidates[d])) if candidates[d][i]),
        key=lambda di: (-probabilities[di[0]][di[1]], doc_rank(di[0]), di[0], di[1]),
    )
    taken = [[False] * len(c) for c in candidates]
    left = int(token_budget)
    for d, i in order:
        if taken[d][i]:
            continue
        group = [i]
        if firsts[d] and i > 0 and candidates[d][0] and not taken[d][0]:
            group.insert(0, 0)
        cost = sum(token_counts[d][j] for j in group)
        if cost <= left:
            for j in group:
                taken[d][j] = True
            left -= cost
    for d in range(n_docs):
        if not any(t and token_counts[d][i] > 0 for i, t in enumerate(taken[d])):
            taken[d] = [False] * len(taken[d])
    return taken


def fit_token_budget(
    results: Sequence[PruningResult],
    token_budget: int,
    count_tokens: Callable[[list[str]], list[int]],
    *,
    keep_first: Union[bool, Sequence[bool]] = False,
) -> list[PruningResult]:
    """Cut the kept sentences of several results so that their texts together fit in ``token_budget`` tokens.

    The sentences each result keeps are the candidates of :func:`select_within_token_budget`, with
    each sentence costing ``count_tokens([sentence.text])`` tokens and ties broken by the results'
    reranking scores. The joined texts are then counted again as a whole (a tokenizer can merge
    tokens across a sentence boundary); in the rare case the total exceeds the budget, the selection
    is redone with the budget lowered by the excess, until it fits. Guarantee:
    ``sum(count_tokens([r.pruned_text for r in output])) <= token_budget``.

    Args:
        results (Sequence[PruningResult]): the results of one query (e.g. from ``prune_many``).
        token_budget (int): most tokens of all returned texts together, ``>= 0``.
        count_tokens (Callable[[list[str]], list[int]]): tokens of each text (for a
            :class:`~text_pruner_rag.TextPruner`: :meth:`~text_pruner_rag.TextPruner.count_tokens`, the
            model's tokenizer without special tokens).
        keep_first (bool | Sequence[bool]): keep a result's first sentence with its first other taken
            sentence; one flag for all results or one per result.

    Returns:
        list[PruningResult]: one per input, in order, with ``kept``, ``pruned_text`` and
        ``compression_rate`` updated; a result left with no sentence has ``pruned_text == ""``
        (score and sentences kept). Sentences are only ever removed, never added.

    Raises:
        ValueError: a negative budget.
    """
    token_budget = check_count(token_budget, "token_budget")
    candidates = [[s.kept for s in r.sentences] for r in results]
    probabilities = [[s.probability for s in r.sentences] for r in results]
    flat = [s.text for r, c in zip(results, candidates) for s, k in zip(r.sentences, c) if k]
    flat_counts = iter(count_tokens(flat) if flat else [])
    counts = [[next(flat_counts) if k else 0 for k in c] for c in candidates]
    scores = [r.score for r in results]
    budget = int(token_budget)
    while True:
        masks = select_within_token_budget(probabilities, counts, candidates, budget, scores, keep_first=keep_first)
        texts = ["".join(s.text for s, k in zip(r.sentences, m) if k) for r, m in zip(results, masks)]
        non_empty = [t for t in texts if t]
        total = sum(count_tokens(non_empty)) if non_empty else 0
        if total <= token_budget or budget == 0:
            break
        budget = max(0, budget - (total - int(token_budget)))
    return [remask(result, mask) for result, mask in zip(results, masks)]
