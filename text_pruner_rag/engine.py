"""The engine: prepare -> windows -> model -> sentence scores -> policy -> results.

Every function takes one model (a :class:`~text_pruner_rag.TextPruner` already chosen for the call,
see :mod:`text_pruner_rag.routing`) and uses only that model: its sentence splitting language, its
windows, its forward pass, its tokenizer for the token budget. Arguments are checked by the public
API (:mod:`text_pruner_rag.pruner`) before they reach here; the policy arrives built and resolved.

:func:`context_scores` (``rerank``, ``rank``, ``predict``) stops after the model: no sentence
aggregation, no policy. Identical windows in one call run once, so identical contexts get
bit-identical scores (and ``rerank``/``rank`` order them by input index).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Optional, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from .budget import fit_token_budget
from .chunking import Sentence, detect_language, sentences_from_list, split_sentences
from .encoding import Window
from .options import FIRST_SENTENCE, check_language, check_unicode
from .policy import PruningPolicy, SentenceAggregator
from .results import NO_TEXT_SCORE, PruningResult, build_result, with_title_kept

if TYPE_CHECKING:
    from .pruner import TextPruner

__all__ = ["PreparedContext", "context_scores", "count_tokens", "prepare", "prune_contexts", "prune_groups",
           "run_windows"]

TITLE_SEPARATOR = "\n"
"""Put between an explicit title and its context when they are read together (OpenProvence ends its
title sentence with a newline the same way); never part of any returned text."""

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedContext:
    """One context ready for encoding: its text, its sentences (spans tile ``text``) and its language.

    Attributes:
        text (str): the context (for pre-split input, ``"".join`` of the given sentences).
        sentences (list[Sentence]): sentences with exact character spans into ``text``.
        language (str): ``"en"`` or ``"ja"`` (resolved when ``"auto"`` was asked).
        title (str | None): an explicit title, read in front of the context (not part of ``text``).
        first_is_title (bool): the first sentence is the title (``title="first_sentence"``).
    """

    text: str
    sentences: list[Sentence]
    language: str
    title: Optional[str] = None
    first_is_title: bool = False

    @property
    def has_text(self) -> bool:
        """Whether there is anything to score (not empty, not whitespace only); a title alone is not."""
        return bool(self.sentences) and bool(self.text.strip())

    @property
    def scored_text(self) -> str:
        """What the model reads: the explicit title and :data:`TITLE_SEPARATOR` in front of ``text``."""
        return self.text if self.title is None else self.title + TITLE_SEPARATOR + self.text

    @property
    def scored_sentences(self) -> list[Sentence]:
        """The sentences of :attr:`scored_text`: the title (with its separator) first, then ``sentences``
        shifted by its length; ``sentences`` itself without an explicit title."""
        if self.title is None:
            return self.sentences
        head = self.title + TITLE_SEPARATOR
        shift = len(head)
        return [Sentence(head, 0, shift)] + [Sentence(s.text, s.start + shift, s.end + shift) for s in self.sentences]


def prepare(index: int, context: Any, language: str, title: Optional[str] = None) -> PreparedContext:
    """Split ``context`` (a str, or its sentences already split) into sentences with exact spans.

    Args:
        index (int): the context's position (named in errors as ``contexts[index]``).
        context (str | list[str]): the text, or its sentences.
        language (str): ``"auto"``, ``"en"`` or ``"ja"``.
        title (str, optional): None, :data:`~text_pruner_rag.options.FIRST_SENTENCE`, or an explicit title
            (checked by the caller, see :func:`~text_pruner_rag.options.check_titles`).

    Raises:
        TypeError: ``context`` (or an item of it) is not a str; the message names ``contexts[index]``.
        ValueError: an unknown ``language``, or text that is not valid Unicode.
    """
    check_language(language)
    first = title == FIRST_SENTENCE
    explicit = None if first else title
    if isinstance(context, str):
        check_unicode(context, f"contexts[{index}]")
        lang = detect_language(context) if language == "auto" else language
        return PreparedContext(context, split_sentences(context, lang), lang, explicit, first)
    if isinstance(context, (list, tuple)):
        try:
            text, sentences = sentences_from_list(context)
        except TypeError as exc:
            raise TypeError(f"contexts[{index}]: {exc}") from exc
        for i, item in enumerate(context):
            check_unicode(item, f"contexts[{index}][{i}]")
        lang = detect_language(text) if language == "auto" else language
        return PreparedContext(text, sentences, lang, explicit, first)
    got = "None" if context is None else type(context).__name__
    raise TypeError(f"contexts[{index}] must be a str or a list of str, got {got}")


def prune_contexts(
    model: "TextPruner", query: str, contexts: Sequence[Any], policy: PruningPolicy, *,
    language: str, batch_size: int, show_progress_bar: Optional[bool], titles: Optional[Sequence[Optional[str]]] = None,
) -> list[PruningResult]:
    """Rerank and prune ``contexts`` for ``query`` with ``model`` and the resolved ``policy``:
    :func:`prune_groups` with one query.

    Returns:
        list[PruningResult]: one per context, in order; ``token_budget`` applied with ``model``'s own
        tokenizer (:func:`count_tokens`), whatever the languages of the texts.
    """
    return prune_groups(model, [query], [contexts], policy, language=language, batch_size=batch_size,
                        show_progress_bar=show_progress_bar, titles=None if titles is None else [titles])[0]


def prune_groups(
    model: "TextPruner", queries: Sequence[str], contexts_per_query: Sequence[Sequence[Any]], policy: PruningPolicy, *,
    language: str, batch_size: int, show_progress_bar: Optional[bool],
    titles: Optional[Sequence[Sequence[Optional[str]]]] = None,
) -> list[list[PruningResult]]:
    """Rerank and prune the contexts of several queries with ``model``: the windows of every query run
    together (shared batches, sorted by length; identical windows once), then each query is decided
    alone, so its results equal a call with that query only (up to float rounding between batches).

    Args:
        model (TextPruner): the one model of these queries.
        queries (Sequence[str]): ``m`` queries.
        contexts_per_query (Sequence[Sequence[str | list[str]]]): ``m`` lists of contexts.
        policy (PruningPolicy): the resolved policy; ``token_budget`` applies per query.
        titles (Sequence[Sequence[str | None]], optional): per query, the title of each context (None,
            ``"first_sentence"`` or a str, already checked). Defaults to no titles.

    Returns:
        list[list[PruningResult]]: per query, one result per context, in order.
    """
    prepared: list[PreparedContext] = []
    flat_queries: list[str] = []
    spans: list[tuple[int, int]] = []
    for q, (query, contexts) in enumerate(zip(queries, contexts_per_query)):
        given = titles[q] if titles is not None else [None] * len(contexts)
        start = len(prepared)
        prepared.extend(prepare(j, c, language, t) for j, (c, t) in enumerate(zip(contexts, given)))
        flat_queries.extend([query] * len(contexts))
        spans.append((start, len(prepared)))
    scores, windows = _score(model, flat_queries, prepared, batch_size, show_progress_bar)
    aggregate = SentenceAggregator([len(p.sentences) for p in prepared])
    title_aggregate = SentenceAggregator([1 if p.title is not None else 0 for p in prepared])
    for window, probs in windows:
        c = window.context_index
        if prepared[c].title is None:
            aggregate.add(c, window.sentence_ids, probs)
        else:  # scored sentence 0 is the title, sentence i + 1 the context's sentence i
            aggregate.add(c, [s - 1 if s > 0 else -1 for s in window.sentence_ids], probs)
            title_aggregate.add(c, [0 if s == 0 else -1 for s in window.sentence_ids], probs)
    masks = aggregate.select(policy, model.sentence_rounding, [p.first_is_title for p in prepared])
    title_probs = title_aggregate.sentence_probabilities()
    naver = model.sentence_rounding == "fraction_above_threshold" and policy.keep_ratio is None
    title_fractions = title_aggregate.fractions_above(policy._resolved_threshold()) if naver else None
    results = []
    for c, (p, probs, kept, score) in enumerate(zip(prepared, aggregate.sentence_probabilities(), masks, scores)):
        title, title_p = p.title, (title_probs[c][0] if p.title is not None and p.has_text else None)
        if p.first_is_title and p.has_text:
            title, title_p = p.sentences[0].text, probs[0]
        results.append(build_result(p.text, p.sentences, probs, kept, score, title=title, title_probability=title_p))
    output = []
    for start, end in spans:
        group = results[start:end]
        if policy.token_budget is not None:
            group = fit_token_budget(group, policy.token_budget, lambda texts: count_tokens(model, texts),
                                     keep_first=[policy.keeps_first(p.first_is_title) for p in prepared[start:end]])
        output.append([_decide_title(policy, prepared[start + j], r, title_fractions, start + j)
                       for j, r in enumerate(group)])
    return output


def _decide_title(policy: PruningPolicy, prepared: PreparedContext, result: PruningResult,
                  fractions: Optional[list[list[float]]], c: int) -> PruningResult:
    """``result`` with ``title_kept`` decided on its final kept mask (after the token budget)."""
    if result.title is None or result.title_probability is None:
        return result
    kept = [s.kept for s in result.sentences]
    if prepared.first_is_title:
        return with_title_kept(result, kept[0])
    fraction = fractions[c][0] if fractions is not None else None
    return with_title_kept(result, policy.keep_title(result.title_probability, kept, fraction))


def context_scores(
    model: "TextPruner", queries: Sequence[str], contexts: Sequence[Any], *,
    language: str, batch_size: int, show_progress_bar: Optional[bool],
) -> list[float]:
    """Reranking score of each ``(queries[i], contexts[i])`` with ``model``; ``-inf`` for a context with
    no text. No pruning work: the token keep probabilities are not aggregated."""
    prepared = [prepare(i, c, language) for i, c in enumerate(contexts)]
    scores, _ = _score(model, queries, prepared, batch_size, show_progress_bar)
    return scores


def count_tokens(model: "TextPruner", texts: Sequence[str]) -> list[int]:
    """Tokens of ``model``'s tokenizer in each text, without special tokens (the unit of ``token_budget``)."""
    texts = list(texts)
    if not texts:
        return []
    encoded = model.tokenizer(texts, add_special_tokens=False, truncation=False, verbose=False)
    return [len(ids) for ids in encoded["input_ids"]]


def _score(
    model: "TextPruner", queries: Sequence[str], prepared: Sequence[PreparedContext], batch_size: int,
    show_progress_bar: Optional[bool],
) -> tuple[list[float], list[tuple[Window, list[float]]]]:
    """Build and run every window (``queries[i]`` is the query of context ``i``; windows of different
    queries share batches). Returns per-context scores (best window; ``-inf`` without text) and each
    window with its tokens' keep probabilities."""
    encoder = model.encoder
    templates = {}
    encoded = encoder.encode_contexts([p.scored_text for p in prepared], [p.scored_sentences for p in prepared])
    windows: list[Window] = []
    for index, (context, enc, query) in enumerate(zip(prepared, encoded, queries)):
        if context.has_text:
            if query not in templates:
                templates[query] = encoder.template(query)
            built = encoder.windows(templates[query], index, context.scored_text, context.scored_sentences, enc,
                                    context.language)
            # Text but no token (only characters the tokenizer drops: zero-width, NUL, U+FFFD ...):
            # score the query against an empty context, so that `score` stays a float.
            windows.extend(built or [encoder.empty_window(templates[query], index)])
    scores = [NO_TEXT_SCORE] * len(prepared)
    seen = [False] * len(prepared)
    outputs = []
    for window, probs, score in run_windows(model, windows, batch_size, show_progress_bar):
        c = window.context_index
        scores[c] = score if not seen[c] else max(scores[c], score)
        seen[c] = True
        outputs.append((window, probs))
    return scores, outputs


def run_windows(
    model: "TextPruner", windows: list[Window], batch_size: int, show_progress_bar: Optional[bool],
) -> Iterator[tuple[Window, list[float], float]]:
    """Yield ``(window, keep probability per token, reranking score)`` for every window, in batches of
    ``batch_size`` sorted by length. Identical windows (same token ids and types) run once and share
    their outputs, so they are bit-identical."""
    unique: dict[tuple, int] = {}
    runs: list[Window] = []
    first_of = []
    for w in windows:
        key = (tuple(w.input_ids), tuple(w.token_type_ids) if w.token_type_ids else None)
        u = unique.get(key)
        if u is None:
            u = unique[key] = len(runs)
            runs.append(w)
        first_of.append(u)
    outputs: dict[int, tuple[list[float], float]] = {}
    for position, probs, score in _forward_batches(model, runs, batch_size, show_progress_bar):
        outputs[position] = (probs, score)
    for w, u in zip(windows, first_of):
        probs, score = outputs[u]
        yield w, probs, score


@torch.inference_mode()
def _forward_batches(model: "TextPruner", windows: list[Window], batch_size: int, show_progress_bar: Optional[bool]):
    """Yield ``(position in windows, keep probabilities per token, reranking score)``, batches sorted by length."""
    order = sorted(range(len(windows)), key=lambda i: -len(windows[i].input_ids))
    if show_progress_bar is None:
        show_progress_bar = logger.getEffectiveLevel() <= logging.INFO and len(order) > batch_size
    pad_id = model.tokenizer.pad_token_id or 0
    starts = range(0, len(order), batch_size)
    for start in tqdm(starts, desc="Windows", disable=not show_progress_bar):
        positions = order[start:start + batch_size]
        batch = [windows[i] for i in positions]
        lengths = [len(w.input_ids) for w in batch]
        width = max(lengths)
        # One padded array per input for the whole batch (filled row by row, no per-window tensors).
        ids = np.full((len(batch), width), pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        types = np.zeros((len(batch), width), dtype=np.int64) if batch[0].token_type_ids else None
        for row, w in enumerate(batch):
            ids[row, : lengths[row]] = w.input_ids
            mask[row, : lengths[row]] = 1
            if types is not None:
                types[row, : len(w.token_type_ids)] = w.token_type_ids
        keep, ranking = model.forward_windows(ids, mask, types)
        keep, ranking = keep.tolist(), ranking.tolist()
        for row, position in enumerate(positions):
            yield position, keep[row][: lengths[row]], float(ranking[row])
