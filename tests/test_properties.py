"""Property-based tests (hypothesis) of the splitter and of the pruning engine's invariants.

The engine runs the tiny random BERT of ``conftest.py`` (128-token windows), so long generated texts
span several windows. Example counts come from the hypothesis profile (``conftest.py``): "fast" by
default, ``HYPOTHESIS_PROFILE=nightly`` for a long randomised run.
"""

from __future__ import annotations

import math

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from text_pruner_rag.chunking import cut_points, detect_language, sentences_from_list, split_sentences  # noqa: E402

QUERY = "Where is the Eiffel Tower?"

_WORDS = ["The", "tower", "is", "in", "Paris", "Dr.", "3.14", "U.S.", "e.g.", "Mr", "hello", "world", "A", "x",
          "東京", "タワー", "です", "寿司", "が", "好き", "1958年", "Eiffel", "(see", "above)", "\"Stop.\"", "..."]
_PUNCT = [".", ". ", "! ", "? ", "。", "…", ", ", ";", ":", "「", "」", "、", "！", "？"]
_SPACE = [" ", "  ", "\n", "\n\n", "\t", "\u3000", "\r\n", " \n "]
_ODD = ["\u200b", "\x00", "\ufffd", "\U0001F5FC", "é", "\ufeff", "- ", "* ", "1. ", "# ", "a)", "•"]

#: Text built from pieces that exercise the splitter's rules, or arbitrary Unicode (no surrogates).
texts = st.one_of(
    st.lists(st.sampled_from(_WORDS + _PUNCT + _SPACE + _ODD), max_size=40).map("".join),
    st.lists(st.sampled_from(_WORDS + [" ", ". "]), min_size=70, max_size=110).map("".join),  # 2-3 windows
    st.text(max_size=80),
)
languages = st.sampled_from(["en", "ja", "auto"])
thresholds = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)

#: The engine tests run the model: half the profile's examples (the splitter tests take all of them).
engine_settings = settings(max_examples=max(5, settings.default.max_examples // 2))


def check_result(result, context: str) -> None:
    """Every invariant a PruningResult promises (results.py, pruner.py)."""
    assert result.context == context
    assert result.pruned_text == "".join(s.text for s in result.sentences if s.kept)
    for s in result.sentences:
        assert s.text == context[s.start:s.end]
        assert 0.0 <= s.probability <= 1.0
    assert 0.0 <= result.compression_rate <= 1.0
    if context.strip():
        assert "".join(s.text for s in result.sentences) == context  # the sentences tile the context
        assert isinstance(result.score, float) and math.isfinite(result.score)
        assert result.compression_rate == pytest.approx(1 - len(result.pruned_text) / len(context))
    else:
        assert (result.pruned_text, result.score, result.compression_rate) == ("", float("-inf"), 0.0)


def _signature(result):
    return result.score, [(s.start, s.end, s.probability, s.kept) for s in result.sentences]


# -- splitter -------------------------------------------------------------------------------------
@given(text=texts, language=languages, max_chars=st.one_of(st.none(), st.integers(1, 60)))
@example(text=" The", language="en", max_chars=2)  # found by the nightly profile: was [" ", "Th", "e"]
@example(text="\n\n  Hello there", language="ja", max_chars=4)
def test_sentences_tile_the_text(text, language, max_chars):
    kwargs = {} if max_chars is None else {"max_chars": max_chars}
    sentences = split_sentences(text, language, **kwargs)
    if not text.strip():
        assert sentences == []
        return
    assert "".join(s.text for s in sentences) == text
    assert sentences[0].start == 0 and sentences[-1].end == len(text)
    for a, b in zip(sentences, sentences[1:]):
        assert a.end == b.start
    limit = 1200 if max_chars is None else max_chars
    for i, s in enumerate(sentences):
        assert s.text == text[s.start:s.end]
        assert 0 < len(s.text) <= limit
        if not s.text.strip():  # blank only when a cut at max_chars left whitespace over
            assert len(s.text) == limit or (i > 0 and len(sentences[i - 1].text) == limit)
    assert split_sentences(text, language, **kwargs) == sentences  # deterministic


@given(text=texts, language=languages)
def test_cut_points_are_inner_sorted_offsets(text, language):
    points = cut_points(text, language)
    assert points == sorted(set(points))
    assert all(0 < i < len(text) for i in points)


@given(items=st.lists(texts, max_size=8))
def test_pre_split_sentences_are_kept_exactly(items):
    context, sentences = sentences_from_list(items)
    assert context == "".join(items)
    assert [s.text for s in sentences] == [item for item in items if item]
    assert all(context[s.start:s.end] == s.text for s in sentences)


@given(text=texts)
def test_language_detection_is_total(text):
    assert detect_language(text) in ("en", "ja")


# -- engine ---------------------------------------------------------------------------------------
@engine_settings
@given(context=texts, threshold=thresholds, language=languages)
def test_prune_invariants_and_determinism(tiny_pruner, context, threshold, language):
    result = tiny_pruner.prune(QUERY, context, threshold=threshold, language=language)
    check_result(result, context)
    assert _signature(tiny_pruner.prune(QUERY, context, threshold=threshold, language=language)) == _signature(result)


@engine_settings
@given(context=texts, low=thresholds, high=thresholds)
def test_a_higher_threshold_keeps_a_subset(tiny_pruner, context, low, high):
    low, high = min(low, high), max(low, high)
    kept_low = [s.kept for s in tiny_pruner.prune(QUERY, context, threshold=low).sentences]
    kept_high = [s.kept for s in tiny_pruner.prune(QUERY, context, threshold=high).sentences]
    assert all(a or not b for a, b in zip(kept_low, kept_high))


@engine_settings
@given(context=texts, min_sentences=st.integers(0, 5), keep_first=st.booleans(),
       keep_ratio=st.one_of(st.none(), st.floats(0.01, 1.0)))
def test_policy_options_keep_the_invariants(tiny_pruner, context, min_sentences, keep_first, keep_ratio):
    result = tiny_pruner.prune(QUERY, context, threshold=0.9, min_sentences=min_sentences,
                               keep_first=keep_first, keep_ratio=keep_ratio)
    check_result(result, context)
    if context.strip():
        n = len(result.sentences)
        assert sum(s.kept for s in result.sentences) >= min(min_sentences, n)
        if keep_first and any(s.kept for s in result.sentences[1:]):
            assert result.sentences[0].kept


@engine_settings
@given(items=st.lists(texts, min_size=1, max_size=6))
def test_pre_split_context_in_the_engine(tiny_pruner, items):
    result = tiny_pruner.prune(QUERY, items, threshold=0.5)
    check_result(result, "".join(items))
    if "".join(items).strip():
        assert [s.text for s in result.sentences] == [item for item in items if item]


@engine_settings
@given(contexts=st.lists(texts, min_size=1, max_size=4))
def test_prune_many_matches_prune_one_by_one(tiny_pruner, contexts):
    together = tiny_pruner.prune_many(QUERY, contexts, threshold=0.5)
    assert len(together) == len(contexts)
    for context, result in zip(contexts, together):
        check_result(result, context)
        alone = tiny_pruner.prune(QUERY, context, threshold=0.5)
        assert [(s.start, s.end) for s in result.sentences] == [(s.start, s.end) for s in alone.sentences]
        assert [s.probability for s in result.sentences] == pytest.approx(
            [s.probability for s in alone.sentences], abs=1e-5)
        assert (result.score is None) == (alone.score is None)
        if result.score is not None:
            assert result.score == pytest.approx(alone.score, abs=1e-5)


# -- token budget across languages (the embedded models: two different tokenizers) -----------------
_EN = ["The tower is 330 metres tall. ", "It was built in 1889. ", "Bananas are yellow. ", "Paris is in France. "]
_JA = ["東京タワーは電波塔です。", "高さは333メートルです。", "寿司が好きです。", "北京市海淀区中関村大街。"]
_sentences = st.lists(st.sampled_from(_EN + _JA), min_size=1, max_size=5)
_contexts = st.lists(st.one_of(_sentences.map("".join), _sentences), min_size=1, max_size=4)
_queries = st.sampled_from(["How tall is the tower?", "東京タワーの高さは？", "Tokyo tower height?"])


@pytest.fixture(scope="module")
def embedded_pair():
    from text_pruner_rag import TextPruner
    from text_pruner_rag.loading import JAPANESE_MODEL_NAME

    english = TextPruner.from_pretrained(language_routing=False)
    return english, TextPruner.from_pretrained(JAPANESE_MODEL_NAME)


@pytest.mark.filterwarnings("ignore:the tokenizer turned")
@settings(max_examples=max(5, settings.default.max_examples // 2))
@given(query=_queries, contexts=_contexts, language=st.sampled_from([None, "auto", "en", "ja"]),
       budget=st.integers(min_value=0, max_value=40))
def test_budget_is_a_hard_cap_in_the_tokens_of_the_model_that_pruned(embedded_pair, query, contexts, language,
                                                                     budget):
    from text_pruner_rag import engine
    from text_pruner_rag.routing import LanguageRouter, Route

    english, bilingual = embedded_pair
    loads = []
    router = LanguageRouter(english, {"ja": Route("bilingual", lambda: loads.append(1) or bilingual)})
    pruner = router.model_for(query, contexts, language)
    counted = []
    original = engine.count_tokens
    engine.count_tokens = lambda model, texts: counted.append(model) or original(model, texts)
    try:
        results = router.prune_many(query, contexts, token_budget=budget, threshold=0.0, language=language)
    finally:
        engine.count_tokens = original
    assert sum(original(pruner, [r.pruned_text for r in results])) <= budget
    assert all(model is pruner for model in counted)  # every count used the model that pruned
    assert loads == ([1] if pruner is bilingual else [])  # no other model was loaded
    if language == "en":
        assert pruner is english
