"""The one strict rule for option values, used at every entry point (engine, adapters, command line).

Each check returns the value in its canonical Python type or raises an error that names the option:

- a **count** (``min_sentences``, ``token_budget``, ``context_token_budget``, ``top_n``, ``top_k``,
  ``batch_size``) is an ``int`` (or a numpy integer); ``5.0``, ``"5"`` and ``True`` are refused, never
  converted;
- a **fraction** (``threshold`` in ``[0, 1]``, ``keep_ratio`` in ``(0, 1]``) is a real number
  (``int``, ``float``, numpy floats); strings and ``bool`` are refused, never converted;
- a **flag** (``keep_first``) is a ``bool``;
- **text** (a query, a context, the texts of ``count_tokens``) is a ``str`` that encodes as UTF-8.

A wrong type raises ``TypeError``; a value of the right type outside its range raises ``ValueError``.
The adapters run the same checks before pydantic can coerce (``"0.5"`` stays refused there too).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Integral, Real
from typing import Any, Optional, Sequence

import numpy as np

__all__ = [
    "FIRST_SENTENCE",
    "LANGUAGES",
    "check_batch_titles",
    "check_context",
    "check_titles",
    "check_bool",
    "check_count",
    "check_fraction",
    "check_language",
    "check_optional_count",
    "check_query",
    "check_texts",
    "check_threshold",
    "check_unicode",
    "context_list",
]

LANGUAGES = ("auto", "en", "ja")
"""Values of ``language``: ``"auto"`` (detected per text), ``"en"`` or ``"ja"``."""


def check_count(value: Any, name: str, minimum: int = 0) -> int:
    """``value`` as an ``int`` if it is an integer ``>= minimum`` (``bool`` and floats such as ``5.0`` refused).

    Raises:
        TypeError: not an integer (a float, a str, a bool, None).
        ValueError: below ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"`{name}` must be an integer >= {minimum}, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value}")
    return int(value)


def check_optional_count(value: Any, name: str, minimum: int = 0) -> Optional[int]:
    """None, or :func:`check_count` of ``value``."""
    return None if value is None else check_count(value, name, minimum)


def check_fraction(value: Any, name: str, *, allow_zero: bool = True) -> float:
    """``value`` as a float if it is a real number in ``[0, 1]`` (``(0, 1]`` with ``allow_zero=False``).

    Raises:
        TypeError: not a real number (a str, a bool, None, a list).
        ValueError: NaN or outside the range.
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"`{name}` must be a number in {'[0' if allow_zero else '(0'}, 1], got {value!r} "
                        f"({type(value).__name__})")
    number = float(value)
    low_ok = number >= 0.0 if allow_zero else number > 0.0
    if math.isnan(number) or not low_ok or number > 1.0:
        raise ValueError(f"`{name}` must be in {'[0' if allow_zero else '(0'}, 1], got {value}")
    return number


def check_threshold(value: Any, name: str = "threshold") -> float:
    """A sentence keep threshold: :func:`check_fraction` with ``[0, 1]``."""
    return check_fraction(value, name)


def check_bool(value: Any, name: str) -> bool:
    """``value`` if it is a ``bool`` (``0``/``1``/``"true"`` refused).

    Raises:
        TypeError: not a bool.
    """
    if not isinstance(value, bool):
        raise TypeError(f"`{name}` must be a bool, got {value!r} ({type(value).__name__})")
    return value


def check_language(value: Any, name: str = "language") -> str:
    """``value`` if it is one of :data:`LANGUAGES`.

    Raises:
        ValueError: any other value.
    """
    if not isinstance(value, str) or value not in LANGUAGES:
        raise ValueError(f"`{name}` must be one of {list(LANGUAGES)}, got {value!r}")
    return value


def check_unicode(text: str, name: str) -> str:
    """``text`` if it can be encoded as UTF-8 (no lone surrogate, e.g. from undecodable bytes).

    Raises:
        ValueError: naming ``name`` and the character position.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"`{name}` is not valid Unicode: lone surrogate {text[exc.start]!r} at position {exc.start} "
            "(text decoded with errors='surrogateescape'? decode it as UTF-8, or clean it with "
            "text.encode('utf-8', 'replace').decode())"
        ) from None
    return text


def check_query(query: Any, name: str = "query") -> str:
    """``query`` if it is a non-empty, valid ``str``.

    Raises:
        TypeError: not a str.
        ValueError: empty or whitespace-only, or not valid Unicode.
    """
    if not isinstance(query, str):
        raise TypeError(f"`{name}` must be a str, got {type(query).__name__}")
    if not query.strip():
        raise ValueError(f"`{name}` must not be empty")
    return check_unicode(query, name)


def check_texts(texts: Any, name: str = "texts") -> list[str]:
    """``texts`` as a list if it is an ordered collection of ``str`` (a single str is refused).

    Raises:
        TypeError: ``texts`` is a str, bytes, None, a mapping, a set, or holds an item that is not a str
            (the message names the index, e.g. ```texts[2]```).
        ValueError: an item that is not valid Unicode.
    """
    items = context_list(texts, name, one="a list of str")
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise TypeError(f"`{name}[{i}]` must be a str, got {type(item).__name__}")
        check_unicode(item, f"{name}[{i}]")
    return items


def context_list(contexts: Any, name: str = "contexts", one: str = "a list of contexts (str or list[str])") -> list:
    """An ordered collection as a list; a str, bytes, None, a mapping or a set is refused.

    Raises:
        TypeError: naming ``name``.
    """
    if contexts is None or isinstance(contexts, (str, bytes, bytearray)):
        hint = "; for one context use prune()" if name == "contexts" else ""
        raise TypeError(f"`{name}` must be {one}, got {type(contexts).__name__}{hint}")
    if isinstance(contexts, Mapping):
        raise TypeError(f"`{name}` must be {one}, got a {type(contexts).__name__} "
                        "(pass list(d.values()) for its values)")
    if isinstance(contexts, (set, frozenset)):
        raise TypeError(f"`{name}` must be an ordered list, got an unordered {type(contexts).__name__}")
    try:
        return list(contexts)
    except TypeError:
        raise TypeError(f"`{name}` must be {one}, got {type(contexts).__name__}") from None


def check_context(context: Any, name: str = "context") -> Any:
    """``context`` if it is one context: a ``str`` or a list/tuple of ``str`` (its sentences), valid Unicode.

    Raises:
        TypeError: anything else, or an item that is not a str (named ``name[i]``).
        ValueError: text that is not valid Unicode (named, with the position).
    """
    if not isinstance(context, (str, list, tuple)):
        got = "None" if context is None else type(context).__name__
        raise TypeError(f"`{name}` must be a str or a list of str, got {got}")
    if isinstance(context, str):
        check_unicode(context, name)
    else:
        for i, item in enumerate(context):
            if not isinstance(item, str):
                raise TypeError(f"`{name}[{i}]` must be a str, got {type(item).__name__}")
            check_unicode(item, f"{name}[{i}]")
    return context


FIRST_SENTENCE = "first_sentence"
"""The ``title=`` value that makes each context's first sentence its title (Provence's default)."""


def check_titles(title: Any, n: int, name: str = "title", what: str = "contexts") -> list[Optional[str]]:
    """The title of each of ``n`` contexts: None (no title), :data:`FIRST_SENTENCE`, or an explicit ``str``.

    ``title`` is None (no titles), ``"first_sentence"`` (every context's first sentence), one ``str``
    (the same title for every context) or a list/tuple of ``n`` entries, each None, ``"first_sentence"``
    or a ``str``. A title with no text (empty or whitespace only) means no title.

    Raises:
        TypeError: ``title`` or an entry (named ``title[i]``) of another type.
        ValueError: a list whose length is not ``n``, or a title that is not valid Unicode.
    """
    if title is None or isinstance(title, str):
        entries: list[Any] = [title] * n
    elif isinstance(title, (list, tuple)):
        if len(title) != n:
            raise ValueError(f"`{name}` has {len(title)} entries for {n} {what}: give one title per context, "
                             "one str for all, 'first_sentence' or None")
        entries = list(title)
    else:
        raise TypeError(f"`{name}` must be None, 'first_sentence', a str or a list of them, got {type(title).__name__}")
    titles: list[Optional[str]] = []
    for i, entry in enumerate(entries):
        label = name if isinstance(title, str) else f"{name}[{i}]"
        if entry is not None and not isinstance(entry, str):
            raise TypeError(f"`{label}` must be None, 'first_sentence' or a str, got {type(entry).__name__}")
        if entry is not None:
            check_unicode(entry, label)
        titles.append(entry if entry is not None and entry.strip() else None)
    return titles


def check_batch_titles(title: Any, counts: Sequence[int], name: str = "title") -> list[list[Optional[str]]]:
    """Per query, the title of each context (see :func:`check_titles`): ``title`` is None,
    ``"first_sentence"``, one ``str`` for every context, or a list with one entry per query (each entry
    itself any value :func:`check_titles` takes for that query's ``counts[i]`` contexts).

    Raises:
        TypeError, ValueError: as :func:`check_titles`, naming ``title[i]`` or ``title[i][j]``.
    """
    if title is None or isinstance(title, str):
        return [check_titles(title, n, name) for n in counts]
    if not isinstance(title, (list, tuple)):
        raise TypeError(f"`{name}` must be None, 'first_sentence', a str or a list with one entry per query, "
                        f"got {type(title).__name__}")
    if len(title) != len(counts):
        raise ValueError(f"`{name}` has {len(title)} entries for {len(counts)} queries: give one entry per query")
    return [check_titles(entry, n, f"{name}[{i}]") for i, (entry, n) in enumerate(zip(title, counts))]


def pairs_of(inputs: Any) -> tuple[list[tuple[Any, Any]], bool]:
    """``(pairs, single)``: the ``(query, context)`` pairs of a ``predict`` input and whether it was one pair.

    Raises:
        TypeError: ``inputs`` is not a pair or a list of pairs; a query is not a str.
        ValueError: a pair does not have two items, or a query is empty.
    """
    if isinstance(inputs, np.ndarray):
        inputs = inputs.tolist()
    single = isinstance(inputs, (list, tuple)) and len(inputs) > 0 and not isinstance(inputs[0], (list, tuple))
    if single:
        inputs = [inputs]
    elif isinstance(inputs, (str, bytes)) or not isinstance(inputs, Sequence):
        raise TypeError(f"`inputs` must be a (query, context) pair or a list of pairs, got {type(inputs).__name__}")
    pairs = []
    for i, pair in enumerate(inputs):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f"inputs[{i}] must be a (query, context) pair, got {pair!r:.80}")
        pairs.append((check_query(pair[0]), pair[1]))
    return pairs, single
