"""Sentence splitting with exact character spans, and language detection.

This module turns a context string into :class:`Sentence` objects whose character spans
**tile** the context: they are contiguous, the first starts at 0 and the last ends at
``len(context)``, so ``"".join(s.text for s in sentences) == context`` always holds. Every
sentence carries its trailing whitespace and newlines; leading whitespace of the context
belongs to the first sentence. Offsets are Python string indices (Unicode code points,
"characters"), never bytes or tokens.

Two languages are supported, following the split of the OpenProvence reference
implementation (English via NLTK Punkt, Japanese via rules), but with an offline English path:

* **English** uses NLTK's own :class:`~nltk.tokenize.punkt.PunktSentenceTokenizer` algorithm
  with :class:`~nltk.tokenize.punkt.PunktParameters` built from data written in this module
  (:data:`ENGLISH_ABBREVIATIONS` and :data:`ENGLISH_SENTENCE_STARTERS`). No pickle is loaded and
  nothing is downloaded: NLTK ships without Punkt models and none can be fetched here. Line
  structure (blank lines, bullets, headings) is handled before Punkt runs.
* **Japanese** uses deterministic rules on sentence-final punctuation, brackets and line breaks.

Sentences longer than ``max_chars`` characters are cut at :func:`cut_points` (word starts for
English, BudouX phrase boundaries for Japanese) so that downstream token windows never receive
an unbounded piece of text.

All functions are pure, fast and model-free.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

__all__ = [
    "ENGLISH_ABBREVIATIONS",
    "ENGLISH_SENTENCE_STARTERS",
    "LANGUAGES",
    "SUPPORTED_LANGUAGES",
    "Sentence",
    "cut_points",
    "detect_language",
    "sentences_from_list",
    "split_sentences",
]

#: Languages with a sentence splitter: the values :func:`detect_language` returns and a record's language.
SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "ja")

#: Values accepted by every ``language`` argument (splitter, pruner): a supported language or ``"auto"``.
LANGUAGES: tuple[str, ...] = ("auto", *SUPPORTED_LANGUAGES)

#: Default maximum sentence length in characters (the OpenProvence English splitter uses 1200).
DEFAULT_MAX_CHARS = 1200


@dataclass(frozen=True)
class Sentence:
    """One sentence of a context, with its exact character span.

    Attributes:
        text: The sentence text, including its trailing whitespace/newlines.
        start: Offset (in characters) of the first character in the context.
        end: Offset (in characters) one past the last character, so that
            ``context[start:end] == text``.

    Raises:
        ValueError: If ``start`` is negative or ``end - start != len(text)``.
    """

    text: str
    start: int
    end: int

    def __post_init__(self) -> None:
        if self.start < 0 or self.end - self.start != len(self.text):
            raise ValueError(
                f"Sentence span [{self.start}, {self.end}) does not match a text of "
                f"{len(self.text)} characters"
            )


# ---------------------------------------------------------------------------------------------
# Language detection
# ---------------------------------------------------------------------------------------------

#: Minimum fraction of kana among the non-whitespace characters for a text to count as Japanese.
KANA_FRACTION = 0.05


def _is_kana(ch: str) -> bool:
    cp = ord(ch)
    return (
        0x3041 <= cp <= 0x3096  # hiragana
        or 0x30A1 <= cp <= 0x30FA  # katakana
        or 0x30FC <= cp <= 0x30FE  # katakana prolonged sound mark and iteration marks
        or 0x31F0 <= cp <= 0x31FF  # katakana phonetic extensions (Ainu)
        or 0xFF66 <= cp <= 0xFF9D  # half-width katakana
    )


def _is_kanji(ch: str) -> bool:
    cp = ord(ch)
    return 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0xF900 <= cp <= 0xFAFF


# The same classes as _is_kana/_is_kanji, for counting at C speed over a whole context (no sampling:
# the result is the one the character loop gives; `\s` in a str pattern is exactly str.isspace()).
_KANA_RE = re.compile("[\u3041-\u3096\u30a1-\u30fa\u30fc-\u30fe\u31f0-\u31ff\uff66-\uff9d]+")
_KANJI_RE = re.compile("[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff]")
_SPACE_RE = re.compile(r"\s+")


def _count_matches(pattern: re.Pattern, text: str) -> int:
    """Characters of ``text`` matched by ``pattern`` (a one-character class, repeated)."""
    return len(text) - len(pattern.sub("", text))


def detect_language(text: str) -> str:
    """Guess whether a text is Japanese or English.

    The rule (cheap, deterministic, no model):

    1. ASCII-only text (including the empty string) is ``"en"``.
    2. The text is ``"ja"`` if kana (hiragana U+3041-3096, katakana U+30A1-30FA and U+30FC-30FE,
       katakana extensions U+31F0-31FF, half-width katakana U+FF66-FF9D) make up at least
       :data:`KANA_FRACTION` (5 %) of its non-whitespace characters.
    3. The text is also ``"ja"`` if it contains an ideographic full stop (``。`` or half-width
       ``｡``) together with at least one kanji (CJK unified ideographs), which catches kanji-heavy
       Japanese with little kana.
    4. Otherwise ``"en"``. Kanji-only or Chinese text without ``。`` therefore counts as English,
       as in OpenProvence, whose own rule is "kana count >= ceil(len/500)"; we use a proportion
       instead so that an English page quoting one Japanese word stays English.

    Args:
        text: Any string.

    Returns:
        ``"ja"`` or ``"en"``.

    Raises:
        TypeError: If ``text`` is not a ``str``.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")
    if text.isascii():
        return "en"
    kana = _count_matches(_KANA_RE, text)
    if kana and kana >= KANA_FRACTION * (len(text) - _count_matches(_SPACE_RE, text)):
        return "ja"
    if ("。" in text or "｡" in text) and _KANJI_RE.search(text) is not None:
        return "ja"
    return "en"


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------


def _validate_language(language: Any) -> str:
    if not isinstance(language, str) or language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(map(repr, LANGUAGES))}; got {language!r}")
    return language


def _validate_max_chars(max_chars: Any) -> int:
    if isinstance(max_chars, bool) or not isinstance(max_chars, int):
        raise TypeError(f"max_chars must be int, got {type(max_chars).__name__}")
    if max_chars < 1:
        raise ValueError(f"max_chars must be >= 1 (characters), got {max_chars}")
    return max_chars


def _lines_with_offsets(text: str) -> list[tuple[int, str]]:
    """Lines of ``text`` (keeping their line ends) with their start offsets."""
    out: list[tuple[int, str]] = []
    pos = 0
    for line in text.splitlines(keepends=True):
        out.append((pos, line))
        pos += len(line)
    return out


def _tile(context: str, boundaries: set[int]) -> list[tuple[int, int]]:
    """Turn raw boundary offsets into tiling spans that carry trailing whitespace.

    Every boundary is moved forward past whitespace (so whitespace stays with the preceding
    sentence); boundaries at or before the first non-whitespace character, or at the end of the
    text, are dropped. Each resulting span contains at least one non-whitespace character.
    """
    n = len(context)
    first = 0
    while first < n and context[first].isspace():
        first += 1
    moved: set[int] = set()
    for b in boundaries:
        while b < n and context[b].isspace():
            b += 1
        if first < b < n:
            moved.add(b)
    edges = [0, *sorted(moved), n]
    return [(edges[i], edges[i + 1]) for i in range(len(edges) - 1)]


# ---------------------------------------------------------------------------------------------
# Cut points for over-long sentences
# ---------------------------------------------------------------------------------------------

# A cut right after one of these is preferred (clause or sentence punctuation, closing brackets).
_CLAUSE_PUNCT = frozenset(".!?;:,、，。！？；：…)]}」』）】〕］｝〉》\"'”’")
# A piece must not start with one of these (Japanese cut points only).
_NO_PIECE_START = frozenset("、。，．！？!?,.;:；：…)]}」』）】〕］｝〉》”’ー々ゝゞヽヾ")

_budoux_parser: Any = None


def _budoux() -> Any:
    global _budoux_parser
    if _budoux_parser is None:
        import budoux

        _budoux_parser = budoux.load_default_japanese_parser()
    return _budoux_parser


def _is_ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def cut_points(text: str, language: str) -> list[int]:
    """Offsets where an over-long piece of text may be cut.

    Used by :func:`split_sentences` for sentences longer than ``max_chars`` and by the encoder to
    cut a sentence that does not fit into a token window. Cutting ``text`` at any subset of the
    returned offsets yields pieces that tile ``text`` exactly.

    * ``"en"``: every word start, i.e. every offset ``i`` with ``text[i]`` not whitespace and
      ``text[i - 1]`` whitespace (so whitespace stays at the end of the preceding piece).
    * ``"ja"``: the phrase boundaries of BudouX's default Japanese model
      (``budoux.load_default_japanese_parser().parse``; offsets are cumulative phrase lengths, so
      they are exact), plus the offsets right after punctuation (``、。，！？;:`` ..., closing
      brackets) and word starts after whitespace. Offsets that would start a piece with
      whitespace or with closing punctuation, and offsets inside a run of ASCII letters/digits
      (an English word or a number inside Japanese text), are removed.
    * ``"auto"``: :func:`detect_language` on ``text`` decides.

    Args:
        text: The text to cut.
        language: ``"en"``, ``"ja"`` or ``"auto"``.

    Returns:
        Sorted, unique character offsets ``i`` with ``0 < i < len(text)``; possibly empty (for
        example a long URL in English), in which case a caller must cut hard.

    Raises:
        TypeError: If ``text`` is not a ``str``.
        ValueError: If ``language`` is not one of ``"auto"``, ``"en"``, ``"ja"``.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")
    language = _validate_language(language)
    if language == "auto":
        language = detect_language(text)
    n = len(text)
    points = {i for i in range(1, n) if text[i - 1].isspace() and not text[i].isspace()}
    if language == "ja" and n > 1:
        pos = 0
        for phrase in _budoux().parse(text):
            pos += len(phrase)
            points.add(pos)
        if pos != n:  # defensive: BudouX is expected to return a partition of the text
            logger.warning("BudouX phrases do not tile the text; using punctuation cut points only")
            points = {i for i in range(1, n) if text[i - 1].isspace() and not text[i].isspace()}
        points.update(i for i in range(1, n) if text[i - 1] in _CLAUSE_PUNCT)
        points = {
            i
            for i in points
            if 0 < i < n
            and not text[i].isspace()
            and text[i] not in _NO_PIECE_START
            and not (_is_ascii_alnum(text[i - 1]) and _is_ascii_alnum(text[i]))
        }
    return sorted(points)


def _cut_class(text: str, i: int) -> int:
    """Preference of cutting ``text`` at ``i``: 3 after a newline, 2 after punctuation, else 1."""
    j = i - 1
    while j >= 0 and text[j].isspace():
        if text[j] in "\n\r\u2028\u2029":
            return 3
        j -= 1
    if j >= 0 and text[j] in _CLAUSE_PUNCT:
        return 2
    return 1


def _cut_long(text: str, start: int, end: int, language: str, max_chars: int) -> list[tuple[int, int]]:
    """Cut ``text[start:end]`` into consecutive spans of at most ``max_chars`` characters.

    Inside each window of ``max_chars`` characters the cut is chosen among the cut points in the
    second half of the window: first after a newline, then after punctuation (``; : ,`` and
    sentence or clause marks), then any word start / phrase boundary, the last such point winning.
    If the second half has none, the last cut point of the window is used; if the window has
    none at all, the cut is hard (exactly ``max_chars`` characters). A cut point that would leave a
    whitespace-only piece (after leading whitespace) is not used.
    """
    piece = text[start:end]
    points = cut_points(piece, language)
    spans: list[tuple[int, int]] = []
    pos = 0
    length = len(piece)
    k = 0  # index of the first cut point > pos
    while length - pos > max_chars:
        limit = pos + max_chars
        while k < len(points) and points[k] <= pos:
            k += 1
        j = k
        best: int | None = None
        best_key: tuple[int, int] | None = None
        last: int | None = None
        half = pos + (max_chars + 1) // 2
        while j < len(points) and points[j] <= limit:
            p = points[j]
            j += 1
            if piece[pos:p].isspace():  # would leave a whitespace-only piece (leading whitespace)
                continue
            last = p
            if p >= half:
                key = (_cut_class(piece, p), p)
                if best_key is None or key > best_key:
                    best, best_key = p, key
        cut = best if best is not None else (last if last is not None else limit)
        spans.append((start + pos, start + cut))
        pos = cut
    spans.append((start + pos, end))
    logger.debug(
        "cut a %d-character sentence into %d pieces of <= %d characters", end - start, len(spans), max_chars
    )
    return spans


# ---------------------------------------------------------------------------------------------
# English
# ---------------------------------------------------------------------------------------------

#: Abbreviations (lower case, without the final period, as Punkt stores them) that do not end a
#: sentence by themselves. Curated for this project from common English usage: titles, Latin and
#: reference abbreviations, organisations and places, month and weekday short forms. Words that
#: are also ordinary sentence-final words ("sat", "sun", "art", "app", "min", "max") are left out.
ENGLISH_ABBREVIATIONS: frozenset[str] = frozenset(
    {
        # titles and ranks
        "mr", "mrs", "ms", "messrs", "mme", "mlle", "dr", "prof", "rev", "hon", "st", "jr", "sr",
        "gen", "col", "lt", "sgt", "capt", "cmdr", "adm", "maj", "cpl", "pvt", "gov", "sen", "rep",
        "pres", "supt", "insp", "fr", "esq", "ph.d", "m.d", "b.a", "m.a", "b.sc", "m.sc", "d.phil",
        # places, organisations, companies
        "u.s", "u.s.a", "u.k", "u.n", "e.u", "d.c", "n.y", "l.a", "mt", "ave", "blvd", "rd", "ft",
        "dept", "univ", "inc", "ltd", "co", "corp", "llc", "bros", "assn", "intl", "natl", "govt",
        # Latin and scholarly
        "e.g", "i.e", "etc", "vs", "v", "viz", "cf", "ca", "approx", "al", "ibid", "op", "cit",
        "no", "nos", "fig", "figs", "vol", "vols", "pp", "p", "ch", "chap", "sec", "para", "ed",
        "eds", "eq", "eqs", "ref", "refs", "est", "a.m", "p.m",
        # months and weekdays
        "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
        "mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri",
    }
)  # fmt: skip

#: Frequent sentence starters (lower case). Punkt ends a sentence after an abbreviation when the
#: next word is capitalised and in this set ("... in the U.S. The army ..."). Words that often
#: follow an abbreviation inside a sentence ("a", "i", "one", "who") are deliberately absent.
ENGLISH_SENTENCE_STARTERS: frozenset[str] = frozenset(
    {
        "the", "this", "that", "these", "those", "there", "then", "he", "she", "it", "they", "we",
        "you", "his", "her", "its", "their", "our", "my", "your", "but", "however", "in", "on",
        "at", "after", "before", "when", "while", "if", "as", "for", "also", "thus", "so", "since",
        "although", "because", "today", "yesterday", "many", "most", "some", "all", "each",
        "both", "what", "why", "how", "where", "such", "an", "meanwhile", "moreover", "finally",
    }
)  # fmt: skip

# Words after which a line is unlikely to be a heading (the sentence goes on on the next line).
_FUNCTION_WORDS = frozenset(
    """a an the of and or but nor to in on at by for with from into onto that which who whom whose
    as than if because when while where is are was were be been being has have had do does did not
    very so such this these those its their his her our your my can could will would should may
    might must shall about over under between through during without within per via vs it he she
    they we i you me him us them""".split()
)

_punkt: Any = None


def _punkt_tokenizer() -> Any:
    """The offline Punkt tokenizer: NLTK's algorithm with our own parameters (built once)."""
    global _punkt
    if _punkt is None:
        from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

        params = PunktParameters()
        params.abbrev_types = set(ENGLISH_ABBREVIATIONS)
        params.sent_starters = set(ENGLISH_SENTENCE_STARTERS)
        _punkt = PunktSentenceTokenizer(params)
    return _punkt


_BULLET_CHARS = "-*+•‣◦▪●–·"


def _bullet_marker_len(s: str) -> int:
    """Length of a list marker at the start of ``s`` (leading whitespace removed), else 0.

    Markers: ``-``, ``*``, ``+``, ``•`` (and similar bullet glyphs), 1-4 digits followed by ``.``
    or ``)``, ``(1)``, one ASCII letter followed by ``.`` or ``)``, ``(a)``. The marker must be
    followed by whitespace or by the end of the line.
    """
    if not s:
        return 0
    if s[0] in _BULLET_CHARS:
        m = 1
    else:
        i = 0
        paren = s[0] == "("
        if paren:
            i = 1
        j = i
        while j < len(s) and j - i < 5 and s[j].isascii() and s[j].isdigit():
            j += 1
        if 1 <= j - i <= 4:
            pass
        elif i < len(s) and s[i].isascii() and s[i].isalpha():
            j = i + 1
        else:
            return 0
        if j >= len(s):
            return 0
        if paren:
            if s[j] != ")":
                return 0
        elif s[j] not in ".)":
            return 0
        m = j + 1
    if m == len(s) or s[m].isspace():
        return m
    return 0


def _ends_with_final_punct(s: str) -> bool:
    s = s.rstrip().rstrip("\"'”’)]}»")
    return bool(s) and s[-1] in ".!?…"


def _is_heading(s: str) -> bool:
    """Whether a stripped line looks like a title/heading rather than a wrapped sentence."""
    if s.startswith("#") or s.endswith(":"):
        return True
    words = s.split()
    if len(words) > 10 or s[-1] in ",;-–—/&(+=":
        return False
    last = words[-1].strip("\"'“”‘’()[]{}*_").lower()
    return last not in _FUNCTION_WORDS


def _starts_lower(s: str) -> bool:
    return bool(s) and s[0].isalpha() and s[0].islower()


def _english_boundaries(context: str) -> set[int]:
    lines = _lines_with_offsets(context)
    # 1. Line structure: forced boundaries at the first character of some lines.
    forced: list[int] = []
    prev: str | None = None  # stripped previous non-blank line
    prev_fresh = True  # whether the previous line started a new unit (not a wrapped continuation)
    blank_between = False
    for off, line in lines:
        stripped = line.strip()
        if not stripped:
            blank_between = True
            continue
        line_start = off + (len(line) - len(line.lstrip()))
        fresh = True
        if prev is not None:
            if blank_between or _bullet_marker_len(stripped):
                forced.append(line_start)
            elif (
                (_bullet_marker_len(prev) or (prev_fresh and _is_heading(prev)))
                and not _ends_with_final_punct(prev)
                and not _starts_lower(stripped)
            ):
                forced.append(line_start)
            else:
                fresh = _ends_with_final_punct(prev)
        prev = stripped
        prev_fresh = fresh
        blank_between = False
    # 2. Punkt inside each block; Punkt boundaries that split a bullet marker from its item or
    #    start a sentence with a lower-case letter ('"Stop." he said') are ignored.
    tokenizer = _punkt_tokenizer()
    boundaries = set(forced)
    edges = [0, *forced, len(context)]
    for b_start, b_end in zip(edges, edges[1:]):
        block = context[b_start:b_end]
        if not block.strip():
            continue
        prev_b = 0
        for k, (s, _e) in enumerate(tokenizer.span_tokenize(block)):
            if k == 0:
                continue
            piece = block[prev_b:s].strip()
            if _bullet_marker_len(piece) == len(piece) or _starts_lower(block[s:]):
                continue
            boundaries.add(b_start + s)
            prev_b = s
    return boundaries


# ---------------------------------------------------------------------------------------------
# Japanese
# ---------------------------------------------------------------------------------------------

_JA_TERMINALS = frozenset("。｡！？!?")
_JA_OPENERS = frozenset("「『（(【〔［[｛{〈《“‘")
_JA_CLOSERS = frozenset("」』）)】〕］]｝}〉》”’")
# Characters that, right after a closed quote, continue the sentence (quotative and case particles,
# commas): 「はい。」と答えた / 「はい。」って / 「はい。」の ... are one sentence.
_JA_QUOTE_CONTINUATIONS = frozenset("とってのやをがはにもでへかなよ、，,")


def _unmatched_openers(line: str) -> set[int]:
    """Positions of opening brackets in ``line`` that are never closed on that line."""
    stack: list[int] = []
    for i, ch in enumerate(line):
        if ch in _JA_OPENERS:
            stack.append(i)
        elif ch in _JA_CLOSERS and stack:
            stack.pop()
    return set(stack)


def _japanese_line_boundaries(line: str) -> list[int]:
    """Sentence ends (offsets into ``line``) inside one line of Japanese text."""
    ignore = _unmatched_openers(line)
    if ignore:
        logger.debug("unbalanced opening bracket(s) in a Japanese line; they do not protect text")
    out: list[int] = []
    depth = 0
    i = 0
    n = len(line)
    while i < n:
        ch = line[i]
        if ch in _JA_OPENERS:
            if i not in ignore:
                depth += 1
            i += 1
            continue
        if ch in _JA_CLOSERS:
            depth = max(0, depth - 1)
            i += 1
            continue
        is_terminal = ch in _JA_TERMINALS or (ch == "." and (i + 1 == n or line[i + 1].isspace()))
        if not is_terminal:
            i += 1
            continue
        inside = depth > 0
        j = i + 1
        while j < n and (line[j] in _JA_TERMINALS or line[j] in "…‥"):
            j += 1
        closed_quote = False
        while j < n and line[j] in _JA_CLOSERS:
            depth = max(0, depth - 1)
            closed_quote = True
            j += 1
        if not inside:
            out.append(j)
        elif closed_quote and depth == 0:
            # 「はい。」「いいえ。」そうか。: a quote ending in a terminal ends a sentence, unless a
            # particle or a comma continues it, as in 「行くよ。」と言った。
            if j == n or line[j] not in _JA_QUOTE_CONTINUATIONS:
                out.append(j)
        i = j
    return out


def _japanese_boundaries(context: str) -> set[int]:
    boundaries: set[int] = set()
    for off, line in _lines_with_offsets(context):
        boundaries.add(off + len(line))  # every line break ends a sentence
        boundaries.update(off + b for b in _japanese_line_boundaries(line))
    return boundaries


# ---------------------------------------------------------------------------------------------
# Public splitting API
# ---------------------------------------------------------------------------------------------


def split_sentences(
    context: str, language: str = "auto", *, max_chars: int = DEFAULT_MAX_CHARS
) -> list[Sentence]:
    """Split a context into sentences whose character spans tile it exactly.

    Guarantees, for any context with at least one non-whitespace character (an empty or
    whitespace-only context gives ``[]``): the sentences are contiguous, the first starts at
    offset 0 and the last ends at ``len(context)``, so
    ``"".join(s.text for s in result) == context``. Each sentence carries its
    trailing whitespace/newlines, leading whitespace of the context belongs to the first sentence,
    every sentence contains at least one non-whitespace character, and no sentence is longer than
    ``max_chars`` characters (except that a cut at ``max_chars`` may leave whitespace over: a run of
    whitespace longer than ``max_chars``, or the whitespace after a piece that already has
    ``max_chars`` characters, then forms a whitespace-only piece; checked by the property tests).

    English (``"en"``), the offline Punkt path:
        NLTK's ``PunktSentenceTokenizer`` (its algorithm, ``span_tokenize`` for exact spans) with
        ``PunktParameters`` built from :data:`ENGLISH_ABBREVIATIONS` and
        :data:`ENGLISH_SENTENCE_STARTERS`; no Punkt pickle is read and nothing is downloaded.
        Line structure is applied first: a blank line always ends a sentence; a single newline
        ends one when the next line starts with a list marker (``-``, ``*``, ``+``, ``•``,
        ``1.``, ``1)``, ``(1)``, ``a)``, ``A.`` ...), or when the current line is a bullet or
        heading line without final punctuation and the next line does not start in lower case.
        A heading line is a ``#`` line, a line ending in ``:``, or a short line (at most 10 words,
        not ending in a comma or a function word such as "the"/"of") that starts a new unit (first
        line, or after a sentence end or a boundary), so hard-wrapped prose is not cut at its
        line breaks. Inside each resulting block, Punkt
        boundaries are kept except those that would leave a bare list marker ("1.") as a
        sentence, or start a sentence with a lower-case letter (``"Stop." he said.`` stays one).
        Decimals (3.14, $1.5 million), known abbreviations (Dr. Smith, the U.S. Army, e.g. this),
        initials (John F. Kennedy) and ellipses followed by lower case do not end sentences.
    Japanese (``"ja"``), rules:
        A sentence ends after ``。｡！？!?`` (a run of them, with any ``…`` and closing brackets
        that immediately follow, e.g. ``！？」``), after an ASCII ``.`` followed by whitespace
        (English sentences embedded in Japanese), and at every line break. Nothing inside
        brackets or quotes ``「」『』（）()【】“”`` ... is split (nesting depth is tracked), except
        that a quote closed right after a terminal (``。」``) ends a sentence unless a particle
        (と, って, の, を, が, は, に, ...) or a comma follows: ``「はい。」「いいえ。」そうか。`` is
        three sentences, ``「行くよ。」と言った。`` is one. An opening bracket that is not closed on its line does
        not protect anything, so an unbalanced bracket never swallows the rest of the text.
    Over-long sentences:
        A sentence longer than ``max_chars`` characters is cut into consecutive pieces of at most
        ``max_chars`` characters at :func:`cut_points` (preferring, within the second half of
        each window, a newline, then ``; : ,`` and other punctuation, then the last word start or
        BudouX phrase boundary), with a hard cut only when a window has no cut point.

    Args:
        context: The text to split.
        language: ``"auto"`` (use :func:`detect_language` on ``context``), ``"en"`` or ``"ja"``.
        max_chars: Maximum sentence length in characters (>= 1). Default 1200, as OpenProvence.

    Returns:
        The sentences in order; ``[]`` if ``context`` is empty or whitespace-only.

    Raises:
        TypeError: If ``context`` is not a ``str`` or ``max_chars`` is not an ``int``.
        ValueError: If ``language`` is not one of ``"auto"``, ``"en"``, ``"ja"``, or
            ``max_chars < 1``.
    """
    if not isinstance(context, str):
        raise TypeError(f"context must be str, got {type(context).__name__}")
    language = _validate_language(language)
    max_chars = _validate_max_chars(max_chars)
    if not context.strip():
        return []
    if language == "auto":
        language = detect_language(context)
    if language == "ja":
        boundaries = _japanese_boundaries(context)
    else:
        boundaries = _english_boundaries(context)
    sentences: list[Sentence] = []
    for start, end in _tile(context, boundaries):
        if end - start > max_chars:
            for s, e in _cut_long(context, start, end, language, max_chars):
                sentences.append(Sentence(context[s:e], s, e))
        else:
            sentences.append(Sentence(context[start:end], start, end))
    return sentences


def sentences_from_list(sentences: Sequence[str]) -> tuple[str, list[Sentence]]:
    """Build a context from sentences the caller has already split, keeping them exactly.

    The context is ``"".join(sentences)`` (no separator is inserted, so include spaces or newlines
    in the items if you want them). Each non-empty item becomes one :class:`Sentence` with its
    exact span in that context; empty strings produce no sentence (they occupy no characters).
    Whitespace-only items are kept as sentences, since the caller chose them. Nothing is
    re-split or cut here; over-long items are the encoder's concern (see :func:`cut_points`).

    Args:
        sentences: A sequence (list, tuple, ...) of ``str``; not a bare ``str``.

    Returns:
        ``(context, sentences)`` where ``"".join(s.text for s in sentences) == context``.

    Raises:
        TypeError: If ``sentences`` is a ``str``/``bytes`` or not a sequence, or if an item is not
            a ``str`` (the message names the index, e.g. ``sentences[2] must be str, got int``).
    """
    if isinstance(sentences, (str, bytes, bytearray)) or not isinstance(sentences, Sequence):
        raise TypeError(
            f"sentences must be a sequence of str (e.g. a list), got {type(sentences).__name__}"
        )
    out: list[Sentence] = []
    pos = 0
    for i, item in enumerate(sentences):
        if not isinstance(item, str):
            raise TypeError(f"sentences[{i}] must be str, got {type(item).__name__}")
        if item:
            out.append(Sentence(item, pos, pos + len(item)))
            pos += len(item)
    return "".join(s.text for s in out), out

