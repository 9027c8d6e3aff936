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
from .options import check_language, check_unicode
from .policy import PruningPolicy, SentenceAggregator
from .results import NO_TEXT_SCORE, PruningResult, build_result

if TYPE_CHECKING:
    from .pruner import TextPruner

__all__ = ["PreparedContext", "context_scores", "count_tokens", "prepare", "prune_contexts", "run_windows"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedContext:
    """One context ready for encoding: its text, its sentences (spans tile ``text``) and its language.

    Attributes:
        text (str): the context (for pre-split input, ``"".join`` of the given sentences).
        sentences (list[Sentence]): sentences with exact character spans into ``text``.
        language (str): ``"en"`` or ``"ja"`` (resolved when ``"auto"`` was asked).
    """

    text: str
    sentences: list[Sentence]
    language: str

    @property
    def has_text(self) -> bool:
        """Whether there is anything to score (not empty, not whitespace only)."""
        return bool(self.sentences) and bool(self.text.strip())


def prepare(index: int, context: Any, language: str) -> PreparedContext:
    """Split ``context`` (a str, or its sentences already split) into sentences with exact spans.

    Raises:
        TypeError: ``context`` (or an item of it) is not a str; the message names ``contexts[index]``.
        ValueError: an unknown ``language``, or text that is not valid Unicode.
    """
    check_language(language)
    if isinstance(context, str):
        check_unicode(context, f"contexts[{index}]")
        lang = detect_language(context) if language == "auto" else language
        return PreparedContext(context, split_sentences(context, lang), lang)
    if isinstance(context, (list, tuple)):
        try:
            text, sentences = sentences_from_list(context)
        except TypeError as exc:
            raise TypeError(f"contexts[{index}]: {exc}") from exc
        for i, item in enumerate(context):
            check_unicode(item, f"contexts[{index}][{i}]")
        lang = detect_language(text) if language == "auto" else language
        return PreparedContext(text, sentences, lang)
    got = "None" if context is None else type(context).__name__
    raise TypeError(f"contexts[{index}] must be a str or a list of str, got {got}")


def prune_contexts(
    model: "TextPruner", query: str, contexts: Sequence[Any], policy: PruningPolicy, *,
    language: str, batch_size: int, show_progress_bar: Optional[bool],
) -> list[PruningResult]:
    """Rerank and prune ``contexts`` for ``query`` with ``model`` and the resolved ``policy``.

    Returns:
        list[PruningResult]: one per context, in order; ``token_budget`` applied with ``model``'s own
        tokenizer (:func:`count_tokens`), whatever the languages of the texts.
    """
    prepared = [prepare(i, c, language) for i, c in enumerate(contexts)]
    scores, windows = _score(model, [query] * len(prepared), prepared, batch_size, show_progress_bar)
    aggregate = SentenceAggregator([len(p.sentences) for p in prepared])
    for window, probs in windows:
        aggregate.add(window.context_index, window.sentence_ids, probs)
    masks = aggregate.select(policy, model.sentence_rounding)
    results = [build_result(p.text, p.sentences, probs, kept, score)
               for p, probs, kept, score in zip(prepared, aggregate.sentence_probabilities(), masks, scores)]
    if policy.token_budget is not None:
        results = fit_token_budget(results, policy.token_budget, lambda texts: count_tokens(model, texts),
                                   keep_first=policy.keep_first)
    return results


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
    encoded = encoder.encode_contexts([p.text for p in prepared], [p.sentences for p in prepared])
    windows: list[Window] = []
    for index, (context, enc, query) in enumerate(zip(prepared, encoded, queries)):
        if context.has_text:
            if query not in templates:
                templates[query] = encoder.template(query)
            built = encoder.windows(templates[query], index, context.text, context.sentences, enc, context.language)
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
