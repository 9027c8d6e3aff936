"""Keep/drop decisions for the sentences of contexts: the one owner of every pruning option.

:class:`PruningPolicy` holds every option (``threshold``, ``min_sentences``, ``keep_first``,
``keep_ratio``, ``context_token_budget``, ``token_budget``) and checks their ranges, once, on
construction. :meth:`TextPruner.prune <text_pruner_rag.TextPruner.prune>`, ``prune_many``, both
framework adapters and the command line all build one (``policy=`` or keyword options, see
:meth:`PruningPolicy.from_options`), resolve its threshold against the checkpoint's default
(:meth:`PruningPolicy.resolve`) and pass it down. The option values follow the one strict rule
of :mod:`text_pruner_rag.options`. :class:`SentenceAggregator` turns the token keep
probabilities of the model into the sentence values the policy decides on.

All policies work on per-sentence keep probabilities (``[0, 1]``). The rules, applied in this order:

1. **Selection**: with ``keep_ratio`` set, the ``ceil(keep_ratio * n)`` sentences with the highest
   probability are kept (a fraction of the **sentences**, not of the characters; ties: earlier
   sentence first; at least one); otherwise a sentence is kept iff its probability is strictly greater
   than ``threshold`` (Provence/OpenProvence semantics). With the ``"fraction_above_threshold"``
   rounding (naver Provence), a sentence is kept iff the fraction of its tokens whose keep probability
   exceeds ``threshold`` is itself greater than ``threshold``.
2. **Per-context token budget**: with ``context_token_budget`` set, kept sentences are dropped
   lowest-probability first until the kept sentences of the context hold at most
   ``context_token_budget`` tokens (model tokens, counted in context).
3. **min_sentences**: if fewer than ``min_sentences`` sentences are kept, the highest-probability
   dropped sentences are added back until ``min(min_sentences, n)`` are kept (this may exceed the
   token budget: an explicit minimum wins).
4. **keep_first**: the first sentence (a title or a subject-naming lead sentence) is kept whenever at
   least one other sentence is kept (the ``always_select_title`` rule of Provence). The same rule
   applies to a context whose title is its first sentence (``title="first_sentence"``) unless
   ``always_select_title=False``.

**Titles** (``title=`` of ``prune``/``prune_many``/``prune_batch``, see ``docs/titles.md``): an explicit
title is scored with its context but is not one of its sentences: rules 1-4 and the token budgets see
only the context's sentences. :meth:`PruningPolicy.keep_title` then decides the title: it is kept when
at least one sentence of its context is kept and either ``always_select_title`` is on (the default when
a title is given) or its own keep probability passes the threshold; a title never stands alone.

Kept sentences always stay in their original order; the policy only returns a mask.

**Token budget across documents** (``token_budget``, applied after the rules above to all the
contexts of one call together, see :mod:`text_pruner_rag.budget`):
the sentences kept by rules 1-4 are the candidates; the most relevant of them across all contexts
(highest keep probability, ties broken by the context's reranking score) are taken while they fit in
the budget. The budget counts the tokens of the model's tokenizer (no special tokens) of each returned
text, summed over the contexts; it is a hard cap (it can undo ``min_sentences``).

Threshold calibration (the F-beta-best threshold on labelled data) is
:func:`text_pruner_rag.evaluation.metrics.best_threshold`: one implementation, one tie rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any, Iterable, Optional, Sequence

from .options import check_bool, check_count, check_fraction, check_threshold

__all__ = [
    "PruningPolicy",
    "SentenceAggregator",
    "SENTENCE_ROUNDINGS",
    "check_threshold",
    "invalid_thresholds",
    "select_within_token_budget",
    "fit_token_budget",
]


SENTENCE_ROUNDINGS = ("token_mean", "fraction_above_threshold")
"""How token keep probabilities become a sentence decision (a checkpoint's ``sentence_rounding``):
``"token_mean"`` (the policy decides on each sentence's mean token keep probability; ours and
OpenProvence) or ``"fraction_above_threshold"`` (on the fraction of its tokens above the threshold;
naver Provence). See :meth:`SentenceAggregator.select`."""


def invalid_thresholds(values: Iterable[Any]) -> list[Any]:
    """The values :func:`check_threshold` refuses, in order (for checking a list of sweep thresholds at once)."""
    bad = []
    for value in values:
        try:
            check_threshold(value)
        except (TypeError, ValueError):
            bad.append(value)
    return bad


@dataclass(frozen=True)
class PruningPolicy:
    """How sentences are kept: every pruning option, range-checked once, here.

    Args:
        threshold (float | None): sentence keep threshold in ``[0, 1]``: keep iff keep probability
            ``> threshold``. ``None`` means the model's ``default_threshold``, filled in by
            :meth:`resolve`. Defaults to None.
        min_sentences (int): keep at least this many sentences (highest probability first). Defaults to 0.
        keep_first (bool): keep the first sentence whenever another one is kept. Defaults to False.
        keep_ratio (float | None): keep this fraction ``(0, 1]`` of the **sentences** (``ceil(keep_ratio
            * n)``, at least one), by probability, instead of thresholding. Defaults to None.
        context_token_budget (int | None): at most this many model tokens kept in each context
            (counted in context; applied by :meth:`select`). Earlier versions called it ``token_budget``.
        token_budget (int | None): at most this many model tokens (no special tokens) over all the
            contexts of one call together; applied after :meth:`select` by :func:`fit_token_budget`.
        always_select_title (bool | None): keep a context's title whenever one of its sentences is kept
            (Provence's ``always_select_title``). None (the default) means on: it only acts when the call
            gives a ``title``. False: a title is kept only when its own keep probability passes the
            threshold (and a sentence of its context is kept).

    Raises:
        TypeError: an option of the wrong type (e.g. a string threshold).
        ValueError: a value outside its range.

    Example:
        >>> policy = PruningPolicy(threshold=0.3, min_sentences=1)
        >>> policy.select([0.9, 0.2, 0.1])
        [True, False, False]
    """

    threshold: Optional[float] = None
    min_sentences: int = 0
    keep_first: bool = False
    keep_ratio: Optional[float] = None
    context_token_budget: Optional[int] = None
    token_budget: Optional[int] = None
    always_select_title: Optional[bool] = None

    def __post_init__(self) -> None:
        # the one strict rule of text_pruner_rag.options: no coercion ("0.5", 5.0 and True are refused)
        if self.threshold is not None:
            object.__setattr__(self, "threshold", check_threshold(self.threshold))
        object.__setattr__(self, "min_sentences", check_count(self.min_sentences, "min_sentences"))
        check_bool(self.keep_first, "keep_first")
        if self.always_select_title is not None:
            check_bool(self.always_select_title, "always_select_title")
        if self.keep_ratio is not None:
            object.__setattr__(self, "keep_ratio", check_fraction(self.keep_ratio, "keep_ratio", allow_zero=False))
        for name in ("context_token_budget", "token_budget"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, check_count(value, name))

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        """The names of every option, in declaration order."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_options(cls, policy: Optional["PruningPolicy"] = None, **options: Any) -> "PruningPolicy":
        """The policy of a call: ``policy`` (or the defaults) with every option that is not None replacing its field.

        This is how ``prune``/``prune_many``, the adapters and the command line take either
        ``policy=`` or keyword options (or both: a keyword option given explicitly wins).

        Args:
            policy (PruningPolicy, optional): the base policy. Defaults to ``PruningPolicy()``.
            **options: option values; ``None`` means "not given".

        Raises:
            TypeError: ``policy`` is not a :class:`PruningPolicy`, an unknown option name, or an
                option of the wrong type.
            ValueError: an option outside its range.
        """
        if policy is not None and not isinstance(policy, cls):
            raise TypeError(f"`policy` must be a PruningPolicy, got {type(policy).__name__}")
        unknown = sorted(set(options) - set(cls.option_names()))
        if unknown:
            raise TypeError(f"unknown pruning option(s) {unknown}; expected some of {list(cls.option_names())}")
        given = {k: v for k, v in options.items() if v is not None}
        base = policy if policy is not None else cls()
        return replace(base, **given) if given else base

    def resolve(self, default_threshold: float) -> "PruningPolicy":
        """This policy with its threshold filled in: its own, else ``default_threshold`` (the checkpoint's).

        Raises:
            TypeError, ValueError: ``default_threshold`` is not a number in ``[0, 1]``.
        """
        if self.threshold is not None:
            return self
        return replace(self, threshold=check_threshold(default_threshold, "default_threshold"))

    def select(
        self,
        probabilities: Sequence[float],
        *,
        token_counts: Optional[Sequence[int]] = None,
        fractions_above: Optional[Sequence[float]] = None,
        first_is_title: bool = False,
    ) -> list[bool]:
        """Decide which sentences of one context to keep (rules 1-4 of the module docstring).

        Args:
            probabilities (Sequence[float]): keep probability per sentence, in ``[0, 1]``; ``n`` sentences.
            token_counts (Sequence[int], optional): model tokens per sentence (``n`` values; needed for
                ``context_token_budget``, which is skipped without them).
            fractions_above (Sequence[float], optional): per sentence, the fraction ``[0, 1]`` of its
                tokens whose keep probability is above :attr:`threshold` (``n`` values; only for the
                naver ``"fraction_above_threshold"`` rounding rule, see :class:`SentenceAggregator`).
            first_is_title (bool): the first sentence is the context's title (``title="first_sentence"``):
                it is kept whenever another sentence is kept, as with ``keep_first``, unless
                :attr:`always_select_title` is False. Defaults to False.

        Returns:
            list[bool]: the kept mask, ``n`` entries, in sentence order (``[]`` for no sentence).

        Raises:
            ValueError: the policy's threshold is unresolved (None) while a threshold rule applies
                (call :meth:`resolve` first), or ``token_counts``/``fractions_above`` do not have
                ``n`` values.
        """
        n = len(probabilities)
        if n == 0:
            return []
        for name, values in (("token_counts", token_counts), ("fractions_above", fractions_above)):
            if values is not None and len(values) != n:
                raise ValueError(f"`{name}` has {len(values)} values for {n} sentences")
        order = sorted(range(n), key=lambda i: (-probabilities[i], i))
        if self.keep_ratio is not None:
            chosen = set(order[: max(1, math.ceil(self.keep_ratio * n))])
            kept = [i in chosen for i in range(n)]
        else:
            threshold = self._resolved_threshold()
            values = fractions_above if fractions_above is not None else probabilities
            kept = [v > threshold for v in values]
        if self.context_token_budget is not None and token_counts is not None:
            total = sum(c for c, k in zip(token_counts, kept) if k)
            for i in reversed(order):
                if total <= self.context_token_budget:
                    break
                if kept[i]:
                    kept[i] = False
                    total -= token_counts[i]
        missing = min(self.min_sentences, n) - sum(kept)
        for i in order:
            if missing <= 0:
                break
            if not kept[i]:
                kept[i] = True
                missing -= 1
        if self.keeps_first(first_is_title) and any(kept[1:]):
            kept[0] = True
        return kept

    def keeps_first(self, first_is_title: bool = False) -> bool:
        """Whether rule 4 applies: ``keep_first``, or a first-sentence title with ``always_select_title`` not False."""
        return self.keep_first or (first_is_title and self.always_select_title is not False)

    def keep_title(self, probability: float, context_kept: Sequence[bool], fraction_above: Optional[float] = None) -> bool:
        """Whether an explicit title (scored with its context, not one of its sentences) is kept.

        Kept iff at least one sentence of the context is kept and either :attr:`always_select_title` is
        not False or the title's own value passes the threshold (``probability > threshold``; with the
        naver rounding, ``fraction_above > threshold``). Source: Provence/OpenProvence
        ``always_select_title``; unlike OpenProvence a title is never kept alone (see ``docs/titles.md``).

        Args:
            probability (float): the title's keep probability, in ``[0, 1]``.
            context_kept (Sequence[bool]): the context's kept mask (after every rule and budget).
            fraction_above (float, optional): the fraction ``[0, 1]`` of the title's tokens above the
                threshold (naver ``"fraction_above_threshold"`` rounding only).

        Raises:
            ValueError: the threshold is unresolved and ``always_select_title`` is False.
        """
        if not any(context_kept):
            return False
        if self.always_select_title is not False:
            return True
        value = probability if fraction_above is None else fraction_above
        return value > self._resolved_threshold()

    def _resolved_threshold(self) -> float:
        if self.threshold is None:
            raise ValueError("this PruningPolicy has no threshold: call policy.resolve(default_threshold) first")
        return self.threshold


class SentenceAggregator:
    """Token keep probabilities -> sentence values, for the contexts of one call (the scoring box of DESIGN).

    A sentence's keep probability is the mean keep probability of its tokens, over every window that
    holds them (a sentence split across windows counts all its tokens). Also kept per sentence: its
    number of tokens (the unit of ``context_token_budget``) and its tokens' probabilities, from which
    :meth:`fractions_above` gives the fraction above a threshold (the naver ``"fraction_above_threshold"``
    rule). The aggregator holds no threshold: the policy is the one owner of every option.

    A sentence with no token (e.g. only characters the tokenizer drops) takes its previous sentence's
    values (the next one's if it is first); 0.0 if no sentence of the context has a token. Values are
    clipped to ``[0, 1]``.

    Args:
        sentence_counts (Sequence[int]): number of sentences of each context.
    """

    def __init__(self, sentence_counts: Sequence[int]) -> None:
        self._tokens: list[list[list[float]]] = [[[] for _ in range(n)] for n in sentence_counts]

    def add(self, context_index: int, sentence_ids: Sequence[int], probabilities: Sequence[float]) -> None:
        """Add one window's tokens: ``sentence_ids[t]`` is token ``t``'s sentence (``< 0``: not context text).

        Args:
            context_index (int): the context the window belongs to.
            sentence_ids (Sequence[int]): per token of the window, its sentence index or a negative value.
            probabilities (Sequence[float]): per token, its keep probability (same length or longer;
                extra values are ignored).
        """
        tokens = self._tokens[context_index]
        for sentence, p in zip(sentence_ids, probabilities):
            if sentence >= 0:
                tokens[sentence].append(p)

    def sentence_probabilities(self) -> list[list[float]]:
        """Per context, the mean token keep probability of each sentence, in ``[0, 1]``."""
        return [_fill_tokenless([sum(t) / len(t) if t else None for t in context]) for context in self._tokens]

    def fractions_above(self, threshold: float) -> list[list[float]]:
        """Per context, the fraction of each sentence's tokens with keep probability ``> threshold``.

        Args:
            threshold (float): a keep threshold in ``[0, 1]``.
        """
        threshold = check_threshold(threshold)
        return [_fill_tokenless([sum(p > threshold for p in t) / len(t) if t else None for t in context])
                for context in self._tokens]

    def token_counts(self) -> list[list[int]]:
        """Per context, the number of tokens of each sentence (0 for a sentence with no token)."""
        return [[len(t) for t in context] for context in self._tokens]

    def select(self, policy: PruningPolicy, sentence_rounding: str = "token_mean",
               first_is_title: Optional[Sequence[bool]] = None) -> list[list[bool]]:
        """The kept mask of every context: :meth:`PruningPolicy.select` on this aggregation.

        Each context is decided on its :meth:`sentence_probabilities` and :meth:`token_counts`; with the
        ``"fraction_above_threshold"`` rounding also on its :meth:`fractions_above` the policy's threshold.

        Args:
            policy (PruningPolicy): the resolved policy of the call.
            sentence_rounding (str): one of :data:`SENTENCE_ROUNDINGS` (the checkpoint's). Defaults to
                ``"token_mean"``.
            first_is_title (Sequence[bool], optional): per context, whether its first sentence is its
                title (see :meth:`PruningPolicy.select`). Defaults to none.

        Returns:
            list[list[bool]]: per context, one entry per sentence (sentence order).

        Raises:
            ValueError: an unknown ``sentence_rounding``, or as :meth:`PruningPolicy.select`.
        """
        if sentence_rounding not in SENTENCE_ROUNDINGS:
            raise ValueError(f"`sentence_rounding` must be one of {list(SENTENCE_ROUNDINGS)}, got {sentence_rounding!r}")
        probabilities, token_counts = self.sentence_probabilities(), self.token_counts()
        if sentence_rounding == "fraction_above_threshold" and policy.keep_ratio is None:
            fractions: Sequence[Optional[list[float]]] = self.fractions_above(policy._resolved_threshold())
        else:
            fractions = [None] * len(probabilities)
        titled = first_is_title if first_is_title is not None else [False] * len(probabilities)
        return [policy.select(p, token_counts=c, fractions_above=f, first_is_title=bool(t))
                for p, c, f, t in zip(probabilities, token_counts, fractions, titled)]


def _fill_tokenless(values: list[Optional[float]]) -> list[float]:
    """Fill sentences without tokens (None) from their neighbours; clip to ``[0, 1]``."""
    filled: list[float] = []
    for i, v in enumerate(values):
        if v is None:
            v = filled[-1] if filled else next((x for x in values[i + 1:] if x is not None), 0.0)
        filled.append(min(1.0, max(0.0, float(v))))
    return filled


# The cross-document token budget lives in budget.py; these names stay importable from here.
from .budget import fit_token_budget, select_within_token_budget  # noqa: E402
