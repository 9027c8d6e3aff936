"""Tests for text_pruner_rag.chunking (offline, no model)."""

from __future__ import annotations

import random

import budoux
import pytest

from text_pruner_rag import chunking
from text_pruner_rag.chunking import (
    Sentence,
    cut_points,
    detect_language,
    sentences_from_list,
    split_sentences,
)


def texts(context: str, language: str = "auto", **kwargs: object) -> list[str]:
    return [s.text for s in split_sentences(context, language, **kwargs)]


def assert_tiles(context: str, sentences: list[Sentence], max_chars: int | None = None) -> None:
    if not context.strip():
        assert sentences == []
        return
    assert "".join(s.text for s in sentences) == context
    assert sentences[0].start == 0
    assert sentences[-1].end == len(context)
    for prev, cur in zip(sentences, sentences[1:]):
        assert prev.end == cur.start
    for s in sentences:
        assert context[s.start : s.end] == s.text
        assert s.text
        if max_chars is not None:
            assert len(s.text) <= max_chars


# ------------------------------------------------------------------------------------------------
# Tiling invariant
# ------------------------------------------------------------------------------------------------

CORPUS = [
    "",
    " ",
    "\n\n\t ",
    "One sentence.",
    "  Leading space. Trailing space.   ",
    "\n\nStarts with blank lines.\nEnds with newline.\n",
    "Dr. Smith went to Washington. He met Mr. Jones at 3 p.m. on Monday.",
    "Pi is 3.14159. It costs $1.5 million. Version 2.0.1 shipped.",
    'She said "Stop." he said. "Why?" she asked. Wait... what? Really?! Yes.',
    "Title\nBody text here. More body.\n\n- bullet one\n- bullet two\n* star\n• dot\n1. first\n2) second\na) alpha\n",
    "No final punctuation at all",
    "x" * 3000,
    ("word " * 700).strip(),
    "今日は良い天気です。明日も晴れるでしょう！本当？",
    "彼は「行くよ。まだだ！」と言った。（注：括弧の中。です）次。",
    "「はい。」「いいえ。」\n\n改行のあと。\r\n次の行",
    "（閉じない括弧で始まる。次の文。さらに次。",
    "全角スペース　の後。　次の文。",
    "ｶﾀｶﾅの文です｡次の文です｡",
    "PythonでDataFrameを使う。Python 3.11です。English sentence. 次。",
    "混在 text with 日本語 and English. さらに。",
    "。。。！！？？",
    "\u3000\u3000始まりの全角空白。終わり\u3000\u3000",
    "Line one\r\nLine two.\r\n\r\nPara two.",
    "A.\nB.\nC.",
    "e.g. i.e. etc. vs. U.S. U.K.",
    "Emoji 😀 sentence. Next 🎉 one!",
]


@pytest.mark.parametrize("language", ["auto", "en", "ja"])
@pytest.mark.parametrize("max_chars", [1, 7, 40, 1200])
@pytest.mark.parametrize("context", CORPUS)
def test_tiling_invariant_corpus(context: str, language: str, max_chars: int) -> None:
    sentences = split_sentences(context, language, max_chars=max_chars)
    assert_tiles(context, sentences, max_chars)
    if max_chars == 1200:
        # No whitespace run in the corpus is longer than 1200 characters.
        assert all(s.text.strip() for s in sentences)


_FUZZ_ALPHABET = list("aZ .,;:!?'\"()-*•\n\n\t0123456789") + list("あア漢。、！？「」『』（）　") + [
    "Dr. ",
    "U.S. ",
    "e.g. ",
    "3.14",
    "\n- ",
    "\n1. ",
    "...",
]


@pytest.mark.parametrize("seed", range(40))
def test_tiling_invariant_fuzz(seed: int) -> None:
    # Seeded random inputs: a fixed, fast regression set beside the hypothesis properties (test_properties.py).
    rng = random.Random(seed)
    for _ in range(10):
        context = "".join(rng.choice(_FUZZ_ALPHABET) for _ in range(rng.randint(0, 200)))
        for language in ("auto", "en", "ja"):
            max_chars = rng.choice([3, 17, 60, 1200])
            assert_tiles(context, split_sentences(context, language, max_chars=max_chars), max_chars)


# ------------------------------------------------------------------------------------------------
# English
# ------------------------------------------------------------------------------------------------


def test_english_abbreviations_do_not_split() -> None:
    assert texts("Dr. Smith went to the U.S. Army base. He paid, e.g. by card. Smith et al. agreed.", "en") == [
        "Dr. Smith went to the U.S. Army base. ",
        "He paid, e.g. by card. ",
        "Smith et al. agreed.",
    ]


def test_english_abbreviation_followed_by_sentence_starter_splits() -> None:
    assert texts("He moved to the U.S. The army hired him.", "en") == [
        "He moved to the U.S. ",
        "The army hired him.",
    ]


def test_english_initials_and_months() -> None:
    assert texts("John F. Kennedy was president. He died in Nov. 1963. See Fig. 2 and No. 5 here.", "en") == [
        "John F. Kennedy was president. ",
        "He died in Nov. 1963. ",
        "See Fig. 2 and No. 5 here.",
    ]


def test_english_decimals() -> None:
    assert texts("Pi is about 3.14 today. Revenue was $1.5 million. Version 2.0 is out.", "en") == [
        "Pi is about 3.14 today. ",
        "Revenue was $1.5 million. ",
        "Version 2.0 is out.",
    ]


def test_english_quotes_and_ellipses() -> None:
    assert texts('"Stop." he said. "Why?" she asked. He paused... then left. Wait... What? Yes!', "en") == [
        '"Stop." he said. ',
        '"Why?" she asked. ',
        "He paused... then left. ",
        "Wait... ",
        "What? ",
        "Yes!",
    ]


def test_english_blank_line_always_splits() -> None:
    assert texts("First paragraph without end\n\nsecond paragraph lower case", "en") == [
        "First paragraph without end\n\n",
        "second paragraph lower case",
    ]


def test_english_bullets_and_heading() -> None:
    context = (
        "Shopping List\n"
        "We need these items:\n"
        "- apples\n"
        "* pears\n"
        "• plums\n"
        "1. bread\n"
        "2) milk\n"
        "a) eggs\n"
        "B. cheese\n"
        "That is all."
    )
    assert texts(context, "en") == [
        "Shopping List\n",
        "We need these items:\n",
        "- apples\n",
        "* pears\n",
        "• plums\n",
        "1. bread\n",
        "2) milk\n",
        "a) eggs\n",
        "B. cheese\n",
        "That is all.",
    ]


def test_english_wrapped_lines_are_not_split() -> None:
    context = "This sentence is wrapped over\nseveral lines because the editor\nWrapped it at the.\n"
    assert texts(context, "en") == [context]
    context = "Introduction\nThe model performs well on the benchmark and it\nImproves results by 5%."
    assert texts(context, "en") == [
        "Introduction\n",
        "The model performs well on the benchmark and it\nImproves results by 5%.",
    ]


def test_english_heading_after_finished_sentence() -> None:
    assert texts("Intro text.\nResults\nThe model wins.", "en") == [
        "Intro text.\n",
        "Results\n",
        "The model wins.",
    ]


def test_english_sentence_ending_line_then_text() -> None:
    assert texts("Text here.\nNext line starts.\n  Indented third.", "en") == [
        "Text here.\n",
        "Next line starts.\n  ",
        "Indented third.",
    ]


def test_english_leading_and_trailing_whitespace() -> None:
    sentences = split_sentences("  Hello there. General Kenobi.  \n", "en")
    assert sentences == [
        Sentence("  Hello there. ", 0, 15),
        Sentence("General Kenobi.  \n", 15, 33),
    ]


def test_english_does_not_load_punkt_data(monkeypatch: pytest.MonkeyPatch) -> None:
    import nltk

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("nltk data must not be loaded")

    monkeypatch.setattr(nltk.data, "load", refuse)
    monkeypatch.setattr(nltk.data, "find", refuse)
    monkeypatch.setattr(chunking, "_punkt", None)
    assert texts("Dr. Who? No. Mr. Smith went home. Bye.", "en") == [
        "Dr. Who? ",
        "No. Mr. Smith went home. ",
        "Bye.",
    ]


def test_english_parameters_are_ours() -> None:
    tokenizer = chunking._punkt_tokenizer()
    assert tokenizer._params.abbrev_types == set(chunking.ENGLISH_ABBREVIATIONS)
    for abbr in ("dr", "u.s", "e.g", "i.e", "etc", "al", "jan", "dec", "inc", "vs"):
        assert abbr in chunking.ENGLISH_ABBREVIATIONS
    assert chunking._punkt_tokenizer() is tokenizer  # built once


# ------------------------------------------------------------------------------------------------
# Japanese
# ------------------------------------------------------------------------------------------------


def test_japanese_basic_punctuation() -> None:
    assert texts("今日は晴れです。明日は雨！本当ですか？はい!!そう?", "ja") == [
        "今日は晴れです。",
        "明日は雨！",
        "本当ですか？",
        "はい!!",
        "そう?",
    ]


def test_japanese_runs_of_fullwidth_punctuation() -> None:
    assert texts("えっ！？本当に！！！うそ…。終わり", "ja") == ["えっ！？", "本当に！！！", "うそ…。", "終わり"]


def test_japanese_quotes_and_brackets_kept_whole() -> None:
    assert texts("彼は「行くよ。まだだ！」と言った。『本。』を読む。（注：これは。例）です。", "ja") == [
        "彼は「行くよ。まだだ！」と言った。",
        "『本。』を読む。",
        "（注：これは。例）です。",
    ]


def test_japanese_nested_brackets() -> None:
    assert texts("「外『内。』まだ外。」と終わり。次。", "ja") == ["「外『内。』まだ外。」と終わり。", "次。"]


def test_japanese_closing_quote_after_terminal_ends_sentence() -> None:
    assert texts("「はい。」「いいえ。」そうか。", "ja") == ["「はい。」", "「いいえ。」", "そうか。"]
    # ... unless a quotative particle continues the sentence.
    assert texts("「はい。」と答えた。「いいえ！」って言った。", "ja") == [
        "「はい。」と答えた。",
        "「いいえ！」って言った。",
    ]


def test_japanese_line_breaks_and_whitespace() -> None:
    assert texts("見出し\n本文です。次の文\r\n\n　全角空白。", "ja") == [
        "見出し\n",
        "本文です。",
        "次の文\r\n\n　",
        "全角空白。",
    ]


def test_japanese_unbalanced_bracket_does_not_swallow_text() -> None:
    assert texts("「閉じない引用。次の文。さらに次。", "ja") == ["「閉じない引用。", "次の文。", "さらに次。"]
    # A bracket left open on one line does not extend over the next line either.
    assert texts("（開いたまま。\n次の行。二文目。", "ja") == ["（開いたまま。\n", "次の行。", "二文目。"]


def test_japanese_halfwidth_and_embedded_english() -> None:
    assert texts("ｶﾀｶﾅです｡Python 3.11を使う。It works. 次。", "ja") == [
        "ｶﾀｶﾅです｡",
        "Python 3.11を使う。",
        "It works. ",
        "次。",
    ]


def test_auto_language_uses_japanese_rules() -> None:
    assert texts("今日は晴れです。明日は雨です。") == ["今日は晴れです。", "明日は雨です。"]


# ------------------------------------------------------------------------------------------------
# Over-long sentences and cut points
# ------------------------------------------------------------------------------------------------


def test_long_japanese_sentence_without_punctuation() -> None:
    unit = "これは句読点のない非常に長い日本語の文章でありトークン窓より長くなることを想定したテキストです"
    context = (unit * 100)[:3000]
    assert len(context) == 3000
    sentences = split_sentences(context, max_chars=1200)
    assert_tiles(context, sentences, 1200)
    assert len(sentences) >= 3
    points = set(cut_points(context, "ja"))
    for s in sentences[1:]:
        assert s.start in points  # cut at a BudouX phrase boundary, not hard
    for s in sentences[:-1]:
        assert len(s.text) >= 600  # the last boundary of the window's second half is used


def test_long_english_sentence_prefers_clause_punctuation() -> None:
    context = ("word " * 10 + "clause, ") * 40
    sentences = split_sentences(context, "en", max_chars=300)
    assert_tiles(context, sentences, 300)
    assert len(context) == 290 * 8
    assert [len(s.text) for s in sentences] == [290] * 8
    assert all(s.text.endswith("clause, ") for s in sentences)


def test_long_english_sentence_falls_back_to_word_starts_then_hard_cut() -> None:
    assert texts("aaaa bbbb cccc dddd", "en", max_chars=10) == ["aaaa bbbb ", "cccc dddd"]
    assert texts("x" * 25, "en", max_chars=10) == ["x" * 10, "x" * 10, "x" * 5]


def test_cut_points_english() -> None:
    assert cut_points("ab cd  ef\ng", "en") == [3, 7, 10]
    assert cut_points("", "en") == []
    assert cut_points("nospace", "en") == []


def test_cut_points_japanese_uses_budoux_phrases() -> None:
    text = "今日は天気です明日も晴れ"
    phrases = budoux.load_default_japanese_parser().parse(text)
    expected, pos = [], 0
    for phrase in phrases[:-1]:
        pos += len(phrase)
        expected.append(pos)
    assert cut_points(text, "ja") == expected
    assert expected  # BudouX does find phrases here


def test_cut_points_japanese_punctuation_and_ascii_words() -> None:
    text = "PythonでDataFrameを使う、次は「これ」です"
    points = cut_points(text, "ja")
    assert points == sorted(set(points))
    assert all(0 < p < len(text) for p in points)
    assert text.index("、") + 1 in points
    assert text.index("「") in points or text.index("「") + 1 in points
    for p in points:  # never inside an ASCII word, never before punctuation
        assert not (text[p - 1].isascii() and text[p - 1].isalnum() and text[p].isascii() and text[p].isalnum())
        assert text[p] not in "、」"


def test_cut_points_bad_input() -> None:
    with pytest.raises(ValueError, match="language"):
        cut_points("text", "fr")
    with pytest.raises(TypeError, match="text"):
        cut_points(None, "en")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------
# Language detection
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The quick brown fox jumps over the lazy dog.", "en"),
        ("", "en"),
        ("1234 !?", "en"),
        ("今日はいい天気ですね。", "ja"),
        ("カタカナだけ", "ja"),
        ("ｶﾀｶﾅ", "ja"),
        ("東京都千代田区", "en"),  # kanji only, no kana, no 。: not detectably Japanese
        ("東京都千代田区。", "ja"),  # kanji with an ideographic full stop
        ("PythonでDataFrameをCSVに変換する", "ja"),
        ("Café naïve résumé", "en"),
        ("We sang karaoke (" + "カラオケ" + ") all night long, " * 10 + "and it was great.", "en"),
    ],
)
def test_detect_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected


def test_detect_language_type_error() -> None:
    with pytest.raises(TypeError, match="text"):
        detect_language(None)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------
# Bad input and edge cases
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("context", ["", " ", "\n\n", "\t \u3000\r\n"])
@pytest.mark.parametrize("language", ["auto", "en", "ja"])
def test_whitespace_only_gives_no_sentences(context: str, language: str) -> None:
    assert split_sentences(context, language) == []


@pytest.mark.parametrize("bad", [None, 42, b"bytes", ["a list"]])
def test_split_sentences_rejects_non_str(bad: object) -> None:
    with pytest.raises(TypeError, match="context must be str"):
        split_sentences(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("language", ["fr", "EN", "", None])
def test_split_sentences_rejects_bad_language(language: object) -> None:
    with pytest.raises(ValueError, match=r"language must be one of 'auto', 'en', 'ja'"):
        split_sentences("Hello.", language)  # type: ignore[arg-type]


def test_split_sentences_rejects_bad_max_chars() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        split_sentences("Hello.", max_chars=0)
    with pytest.raises(TypeError, match="max_chars"):
        split_sentences("Hello.", max_chars=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="max_chars"):
        split_sentences("Hello.", max_chars=True)


def test_max_chars_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        split_sentences("Hello.", "en", 10)  # type: ignore[misc]


def test_sentence_is_frozen_and_validated() -> None:
    s = Sentence("abc", 2, 5)
    with pytest.raises(AttributeError):
        s.start = 0  # type: ignore[misc]
    with pytest.raises(ValueError):
        Sentence("abc", 0, 2)
    with pytest.raises(ValueError):
        Sentence("", -1, -1)


# ------------------------------------------------------------------------------------------------
# sentences_from_list
# ------------------------------------------------------------------------------------------------


def test_sentences_from_list_exact_spans() -> None:
    context, sentences = sentences_from_list(["First one. ", "", "Second.\n", "  ", "三つ目。"])
    assert context == "First one. Second.\n  三つ目。"
    assert sentences == [
        Sentence("First one. ", 0, 11),
        Sentence("Second.\n", 11, 19),
        Sentence("  ", 19, 21),
        Sentence("三つ目。", 21, 25),
    ]
    assert_tiles(context, sentences)


def test_sentences_from_list_accepts_tuple_and_empty() -> None:
    assert sentences_from_list(("a", "b")) == ("ab", [Sentence("a", 0, 1), Sentence("b", 1, 2)])
    assert sentences_from_list([]) == ("", [])
    assert sentences_from_list(["", ""]) == ("", [])


def test_sentences_from_list_non_str_item_names_index() -> None:
    with pytest.raises(TypeError, match=r"^sentences\[2\] must be str, got int$"):
        sentences_from_list(["a", "b", 3])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"sentences\[0\] must be str, got NoneType"):
        sentences_from_list([None])  # type: ignore[list-item]


@pytest.mark.parametrize("bad", ["a bare string", b"bytes", None, 5, {"a": 1}, (s for s in ["a"])])
def test_sentences_from_list_rejects_non_sequence(bad: object) -> None:
    with pytest.raises(TypeError, match="sentences must be a sequence"):
        sentences_from_list(bad)  # type: ignore[arg-type]


def test_public_api() -> None:
    for name in ("Sentence", "detect_language", "split_sentences", "sentences_from_list", "cut_points"):
        assert name in chunking.__all__
    assert chunking.logger.name == "text_pruner_rag.chunking"


def _detect_language_by_character(text: str) -> str:
    """The reference rule, one character at a time (what detect_language computed before it counted
    with regular expressions); detect_language must agree with it on every input."""
    from text_pruner_rag.chunking import KANA_FRACTION, _is_kana, _is_kanji

    if text.isascii():
        return "en"
    kana = non_space = 0
    has_kanji = has_full_stop = False
    for ch in text:
        if ch.isspace():
            continue
        non_space += 1
        if _is_kana(ch):
            kana += 1
        elif ch in "。｡":
            has_full_stop = True
        elif _is_kanji(ch):
            has_kanji = True
    if kana and kana >= 0.05 * non_space and KANA_FRACTION == 0.05:
        return "ja"
    return "ja" if has_full_stop and has_kanji else "en"


def test_detect_language_character_classes_cover_exactly_the_reference_ranges() -> None:
    from text_pruner_rag.chunking import _KANA_RE, _KANJI_RE, _SPACE_RE, _is_kana, _is_kanji

    # every BMP character (all whitespace, kana and these kanji blocks are there) + some beyond
    for cp in [*range(0x10000), *range(0x10000, 0x110000, 97)]:
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        assert bool(_KANA_RE.fullmatch(ch)) == _is_kana(ch), hex(cp)
        assert bool(_KANJI_RE.fullmatch(ch)) == _is_kanji(ch), hex(cp)
        assert bool(_SPACE_RE.fullmatch(ch)) == ch.isspace(), hex(cp)


def test_detect_language_agrees_with_the_character_loop() -> None:
    import random

    rng = random.Random(0)
    alphabet = list("abc XYZ.,\n\t\u3000\u00a0\u2028。｡éß") + ["あ", "カ", "ｶ", "ー", "東", "京", "\u3400", "\uf900", "한"]
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(3000)]
    # around the 5 % kana boundary: k kana among n non-space characters
    texts += ["é" + "x" * (n - 2) + "あ" * k + " " * n for n in (20, 40, 100) for k in range(0, 4)]
    for text in texts:
        assert detect_language(text) == _detect_language_by_character(text), repr(text)
