"""Query + sentences -> token windows with a token-to-sentence map.

Each window is ``[CLS] query [SEP] context-part [SEP]`` (whatever pair template the tokenizer uses:
``<s> q </s></s> c </s>`` for XLM-R, and so on) of at most ``max_length`` tokens. The query is repeated
in every window. The context is tokenised once, with the tokenizer's offset mapping, and each token is
mapped to the sentence holding its first character; whole sentences are packed greedily into windows,
and a sentence longer than a window is cut into fragments at word (English) or phrase (Japanese,
BudouX) boundaries. No context token is ever dropped: every sentence with at least one token appears
in at least one window. This follows the block layout of OpenProvence's ``process()`` (no overlap
between windows, query never shared), except that OpenProvence cuts fragments at fixed token counts
and may drop the tail of an over-long fragment.

Requires a "fast" (Rust ``tokenizers``) tokenizer for offsets and ``sequence_ids``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from ._warnings import warn_caller
from .chunking import Sentence, cut_points

logger = logging.getLogger(__name__)

__all__ = ["Window", "EncodedContext", "QueryTemplate", "WindowEncoder", "IGNORE_INDEX"]

#: Token label meaning "no label" (ignored by ``torch.nn.functional.cross_entropy``).
IGNORE_INDEX = -100


@dataclass(frozen=True)
class QueryTemplate:
    """Token ids around the context for one query: ``prefix + context_ids + suffix``.

    Attributes:
        prefix_ids (list[int]): special tokens, query tokens and separators before the context.
        suffix_ids (list[int]): special tokens after the context.
        prefix_type_ids, suffix_type_ids (list[int] | None): token type ids of those tokens, when the
            tokenizer produces them.
        context_type_id (int): the token type id of context tokens.
        query_truncated (bool): whether the query had to be shortened to leave room for the context.
    """

    prefix_ids: list[int]
    suffix_ids: list[int]
    prefix_type_ids: Optional[list[int]]
    suffix_type_ids: Optional[list[int]]
    context_type_id: int
    query_truncated: bool = False


@dataclass(frozen=True)
class EncodedContext:
    """A context tokenised once: token ids and the sentence index of each token.

    Attributes:
        token_ids (list[int]): context tokens, no special tokens.
        sentence_ids (list[int]): for each token, the index of the sentence holding its first character.
        token_counts (list[int]): number of tokens per sentence (0 for a sentence with no token).
        inside (list[bool]): for each token, whether its first character lies inside the span of the
            sentence it is mapped to. Always true when the sentences tile the context (what
            :func:`~text_pruner_rag.chunking.split_sentences` returns); false for tokens in a gap between
            given spans (e.g. OpenProvence spans), which are still packed with the sentence before them
            (the first sentence for tokens before it) but get no training label.
    """

    token_ids: list[int]
    sentence_ids: list[int]
    token_counts: list[int]
    inside: Optional[list[bool]] = None


@dataclass
class Window:
    """One model input.

    Attributes:
        context_index (int): which context of the call this window belongs to.
        input_ids (list[int]): the full window, special tokens included; ``len <= max_length``.
        token_type_ids (list[int] | None): aligned with ``input_ids``.
        sentence_ids (list[int]): aligned with ``input_ids``: sentence index of a context token, -1 for
            query, special and separator tokens.
        labels (list[int] | None): only when sentence labels were given to
            :meth:`WindowEncoder.windows`: aligned with ``input_ids``, the label of each context token's
            sentence, and :data:`IGNORE_INDEX` (-100) for query, special and separator tokens and for
            context tokens outside their sentence's span. Padding is the collator's job (also -100).
    """

    context_index: int
    input_ids: list[int]
    token_type_ids: Optional[list[int]]
    sentence_ids: list[int] = field(default_factory=list)
    labels: Optional[list[int]] = None


class WindowEncoder:
    """Builds windows for a tokenizer and a window size.

    Args:
        tokenizer: a fast Hugging Face tokenizer (``PreTrainedTokenizerFast``).
        max_length (int): window size in tokens, query and specials included.
        max_query_fraction (float): a query longer than this fraction of ``max_length`` tokens is
            truncated so every window keeps room for context: the first such query gives a
            ``UserWarning`` (once per encoder, so once per pruner; transformers' own length message is
            silenced). Defaults to 0.5.

    The first context of which more than :attr:`unknown_warning_fraction` (5%) of the tokens (and at
    least 2) are the tokenizer's unknown token raises a ``UserWarning``, once per encoder (so once per
    pruner): such a model cannot read the text (for example Japanese with an English vocabulary) and
    its keep probabilities there mean nothing.

    Raises:
        TypeError: the tokenizer is not a fast tokenizer (no offset mapping).
        ValueError: ``max_length`` leaves no room for context tokens.
    """

    #: fraction (not percent) of a context's tokens above which the unknown-token warning is given
    unknown_warning_fraction = 0.05

    def __init__(self, tokenizer, max_length: int, max_query_fraction: float = 0.5) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise TypeError(
                f"text-pruner-rag needs a fast tokenizer (offset mapping); got {type(tokenizer).__name__}"
            )
        self.tokenizer = tokenizer
        self.max_length = int(max_length)
        self.max_query_tokens = max(1, int(self.max_length * max_query_fraction))
        if self.max_length < 8:
            raise ValueError(f"max_length must be at least 8 tokens, got {max_length}")
        self._warned_unknown = False
        self._warned_query = False

    # -- query template -------------------------------------------------------------------------
    def template(self, query: str) -> QueryTemplate:
        """Probe the tokenizer's pair template for ``query`` (works for BERT, RoBERTa, DeBERTa, ModernBERT)."""
        # verbose=False: transformers' own "sequence length is longer than" log is replaced by ours below
        probe = self.tokenizer(query, "x", add_special_tokens=True, truncation=False, verbose=False)
        seq_ids = probe.sequence_ids()
        ids = list(probe["input_ids"])
        types = list(probe["token_type_ids"]) if "token_type_ids" in probe else None
        context_positions = [i for i, s in enumerate(seq_ids) if s == 1]
        if not context_positions:
            raise ValueError("the tokenizer's pair template puts no token for the context")
        first, last = context_positions[0], context_positions[-1]
        prefix, suffix = ids[:first], ids[last + 1:]
        prefix_types = types[:first] if types else None
        suffix_types = types[last + 1:] if types else None
        context_type = types[first] if types else 0
        query_positions = [i for i in range(first) if seq_ids[i] == 0]
        truncated = False
        if len(query_positions) > self.max_query_tokens:
            drop = set(query_positions[self.max_query_tokens:])
            keep = [i for i in range(first) if i not in drop]
            prefix = [ids[i] for i in keep]
            prefix_types = [types[i] for i in keep] if types else None
            truncated = True
            if not self._warned_query:
                self._warned_query = True
                warn_caller(
                    f"the query has {len(query_positions)} tokens, more than this model's query limit of "
                    f"{self.max_query_tokens} tokens ({self.max_query_tokens / self.max_length:.0%} of its {self.max_length}-token window): only its "
                    f"first {self.max_query_tokens} tokens are read, so that every window keeps room for the "
                    "context. Shorten the query to be read whole. (Shown once per pruner.)",
                )
        return QueryTemplate(prefix, suffix, prefix_types, suffix_types, context_type, truncated)

    def capacity(self, template: QueryTemplate) -> int:
        """Context tokens that fit in one window with this template."""
        return self.max_length - len(template.prefix_ids) - len(template.suffix_ids)

    # -- contexts -----------------------------------------------------------------------------
    def encode_contexts(
        self, contexts: Sequence[str], sentences: Sequence[Sequence[Sentence]]
    ) -> list[EncodedContext]:
        """Tokenise every context once (one batched tokenizer call) and map tokens to sentences."""
        encoded: list[EncodedContext] = []
        batch = self.tokenizer(
            list(contexts), add_special_tokens=False, return_offsets_mapping=True, truncation=False,
            verbose=False,
        ) if contexts else {"input_ids": [], "offset_mapping": []}
        for ids, offsets, sents in zip(batch["input_ids"], batch["offset_mapping"], sentences):
            if not sents or not ids:
                encoded.append(EncodedContext([], [], [0] * len(sents), []))
                continue
            # Sentence of each token = the last sentence starting at or before the token's first
            # character (the first sentence for a token before it); vectorised over the context.
            starts = np.fromiter((s.start for s in sents), dtype=np.int64, count=len(sents))
            ends = np.fromiter((s.end for s in sents), dtype=np.int64, count=len(sents))
            token_starts = np.fromiter((start for start, _ in offsets), dtype=np.int64, count=len(offsets))
            index = np.maximum(np.searchsorted(starts, token_starts, side="right") - 1, 0)
            inside = (starts[index] <= token_starts) & (token_starts < ends[index])
            counts = np.bincount(index, minlength=len(sents))
            encoded.append(EncodedContext(list(ids), index.tolist(), counts.tolist(), inside.tolist()))
            if not self._warned_unknown:
                self._check_unknown(encoded[-1].token_ids)
        return encoded

    def _check_unknown(self, token_ids: list[int]) -> None:
        unk = getattr(self.tokenizer, "unk_token_id", None)
        if unk is None or not token_ids:
            return
        unknown = sum(1 for t in token_ids if t == unk)
        if unknown >= 2 and unknown > self.unknown_warning_fraction * len(token_ids):
            self._warned_unknown = True
            warn_caller(
                f"the tokenizer turned {unknown} of a context's {len(token_ids)} tokens "
                f"({unknown / len(token_ids):.0%}) into its unknown token {self.tokenizer.unk_token!r}: this model's "
                "vocabulary cannot read that text (e.g. Japanese with an English model), so its keep probabilities "
                "and scores there are meaningless. Use a model whose vocabulary covers the language. "
                "(Shown once per pruner.)",
            )

    def windows(
        self,
        template: QueryTemplate,
        context_index: int,
        context: str,
        sentences: Sequence[Sentence],
        encoded: EncodedContext,
        language: str = "en",
        sentence_labels: Optional[Sequence[int]] = None,
    ) -> list[Window]:
        """Pack one context's tokens into windows (whole sentences when they fit).

        Each window is ``[query tokens + special/separator tokens] + context tokens`` and holds at most
        :attr:`max_length` **tokens**; the context part holds at most :meth:`capacity` ``(template)``
        tokens. Sentences are packed greedily in order: a sentence that does not fit in what is left of
        the current window starts the next one; a sentence longer than the capacity is cut into
        fragments at word starts (English) or BudouX phrase boundaries (Japanese), located through
        the tokenizer's offset mapping (:func:`~text_pruner_rag.chunking.cut_points`). Every context
        token appears in exactly one window; windows do not overlap.

        Args:
            template (QueryTemplate): the query's tokens, from :meth:`template`.
            context_index (int): copied into every :attr:`Window.context_index` (which context of the
                call the window belongs to).
            context (str): the context text (characters).
            sentences (Sequence[Sentence]): its sentences, with character spans into ``context``.
            encoded (EncodedContext): the context's tokens and their sentence ids, from
                :meth:`encode_contexts` on the same ``context`` and ``sentences``.
            language (str): ``"en"`` or ``"ja"``: picks the cut rule for over-long sentences. Defaults to ``"en"``.
            sentence_labels (Sequence[int], optional): one label per sentence (training: 1 relevant,
                0 irrelevant, :data:`IGNORE_INDEX` unknown, or any other integer code the caller maps
                later). When given, every window also carries token ``labels`` (see :class:`Window`).
                The windows themselves are identical with or without labels.

        Returns:
            list[Window]: in context order, each with ``len(input_ids) <= max_length`` and aligned
            ``token_type_ids`` (or None), ``sentence_ids`` (-1 outside the context) and ``labels``;
            ``[]`` when the context has no token.

        Raises:
            ValueError: ``max_length`` leaves no room for context tokens after the query, or
                ``len(sentence_labels) != len(sentences)``.
        """
        if sentence_labels is not None and len(sentence_labels) != len(sentences):
            raise ValueError(f"{len(sentence_labels)} sentence labels for {len(sentences)} sentences")
        capacity = self.capacity(template)
        if capacity < 1:
            raise ValueError(
                f"max_length={self.max_length} leaves no room for context tokens after the query"
            )
        pieces: list[list[int]] = []  # each piece: positions into encoded.token_ids
        current: list[int] = []
        for group in _sentence_groups(encoded.sentence_ids):
            if len(group) <= capacity - len(current):
                current.extend(group)
                continue
            if current:
                pieces.append(current)
                current = []
            if len(group) <= capacity:
                current = list(group)
                continue
            sentence = sentences[encoded.sentence_ids[group[0]]]
            for fragment in self._cut_long_sentence(group, sentence, context, capacity, language):
                if len(fragment) <= capacity - len(current):
                    current.extend(fragment)
                else:
                    if current:
                        pieces.append(current)
                    current = list(fragment)
        if current:
            pieces.append(current)
        return [self._window(template, context_index, encoded, piece, sentence_labels) for piece in pieces]

    def encode(
        self,
        query: str | QueryTemplate,
        context: str,
        sentences: Sequence[Sentence],
        language: str = "en",
        sentence_labels: Optional[Sequence[int]] = None,
        context_index: int = 0,
    ) -> list[Window]:
        """All windows of one (query, context) pair: :meth:`template` (unless a template is given),
        :meth:`encode_contexts` and :meth:`windows` in one call; what inference and training both use.

        Returns:
            list[Window]: in context order; empty when ``sentences`` is empty.
        """
        template = query if isinstance(query, QueryTemplate) else self.template(query)
        if not sentences:
            return []
        encoded = self.encode_contexts([context], [sentences])[0]
        return self.windows(template, context_index, context, sentences, encoded, language, sentence_labels)

    def empty_window(self, template: QueryTemplate, context_index: int) -> Window:
        """The query with an empty context (``[CLS] query [SEP] [SEP]`` for BERT): the window of a context
        that has text but no token (every character dropped by the tokenizer: zero-width, NUL, U+FFFD ...)."""
        return self._window(template, context_index, EncodedContext([], [], []), [])

    def _cut_long_sentence(
        self, group: list[int], sentence: Sentence, context: str, capacity: int, language: str
    ) -> list[list[int]]:
        """Cut a sentence's token positions into fragments of <= capacity at word/phrase starts."""
        offsets = self._token_char_starts(context, sentence, len(group))
        allowed = set(sentence.start + p for p in cut_points(sentence.text, language))
        fragments: list[list[int]] = []
        begin = 0
        while len(group) - begin > capacity:
            limit = begin + capacity
            cut = limit
            for j in range(limit, begin, -1):
                if offsets is not None and offsets[j] in allowed:
                    cut = j
                    break
            fragments.append(group[begin:cut])
            begin = cut
        fragments.append(group[begin:])
        return fragments

    def _token_char_starts(self, context: str, sentence: Sentence, n_tokens: int) -> Optional[list[int]]:
        """Character start (in the context) of each token of a sentence, by re-tokenising it."""
        enc = self.tokenizer(
            sentence.text, add_special_tokens=False, return_offsets_mapping=True, truncation=False,
            verbose=False,
        )
        starts = [sentence.start + s for s, _ in enc["offset_mapping"]]
        if len(starts) != n_tokens:
            # Tokenising the sentence alone can differ slightly from tokenising it in context;
            # fall back to hard cuts at the capacity (no token is dropped either way).
            return None
        return starts

    @staticmethod
    def _window(
        template: QueryTemplate, context_index: int, encoded: EncodedContext, positions: list[int],
        sentence_labels: Optional[Sequence[int]] = None,
    ) -> Window:
        ids = [encoded.token_ids[p] for p in positions]
        input_ids = template.prefix_ids + ids + template.suffix_ids
        sentence_ids = (
            [-1] * len(template.prefix_ids)
            + [encoded.sentence_ids[p] for p in positions]
            + [-1] * len(template.suffix_ids)
        )
        token_type_ids = None
        if template.prefix_type_ids is not None:
            token_type_ids = (
                template.prefix_type_ids
                + [template.context_type_id] * len(ids)
                + (template.suffix_type_ids or [])
            )
        labels = None
        if sentence_labels is not None:
            inside = encoded.inside
            labels = (
                [IGNORE_INDEX] * len(template.prefix_ids)
                + [int(sentence_labels[encoded.sentence_ids[p]]) if inside is None or inside[p] else IGNORE_INDEX
                   for p in positions]
                + [IGNORE_INDEX] * len(template.suffix_ids)
            )
        return Window(context_index, input_ids, token_type_ids, sentence_ids, labels)


def _sentence_groups(sentence_ids: list[int]) -> list[list[int]]:
    """Consecutive token positions grouped by sentence."""
    groups: list[list[int]] = []
    previous = None
    for position, sentence in enumerate(sentence_ids):
        if sentence != previous:
            groups.append([])
            previous = sentence
        groups[-1].append(position)
    return groups
