"""WindowEncoder: templates, packing, cutting, and the no-token-dropped guarantee."""

from __future__ import annotations

from collections import Counter

import pytest
from sample_texts import CONTEXTS, JAPANESE, long_document

from text_pruner_rag.chunking import sentences_from_list, split_sentences
from text_pruner_rag.encoding import WindowEncoder

QUERY = "What did the committee describe?"


def _encode(encoder: WindowEncoder, query: str, context: str, language: str = "en", sentences=None):
    sentences = split_sentences(context, language) if sentences is None else sentences
    template = encoder.template(query)
    encoded = encoder.encode_contexts([context], [sentences])[0]
    windows = encoder.windows(template, 0, context, sentences, encoded, language)
    return template, encoded, windows, sentences


def _context_tokens(windows):
    return [t for w in windows for t, s in zip(w.input_ids, w.sentence_ids) if s >= 0]


@pytest.fixture(scope="module")
def long_doc():
    text = long_document()
    return text, split_sentences(text, "en")


def test_bert_template(bert_tokenizer):
    encoder = WindowEncoder(bert_tokenizer, 64)
    template = encoder.template("who wrote hamlet?")
    query_ids = bert_tokenizer("who wrote hamlet?", add_special_tokens=False)["input_ids"]
    assert template.prefix_ids == [bert_tokenizer.cls_token_id, *query_ids, bert_tokenizer.sep_token_id]
    assert template.suffix_ids == [bert_tokenizer.sep_token_id]
    assert template.prefix_type_ids == [0] * len(template.prefix_ids)
    assert template.suffix_type_ids == [1]
    assert template.context_type_id == 1
    assert not template.query_truncated
    assert encoder.capacity(template) == 64 - len(template.prefix_ids) - 1


def test_window_matches_the_tokenizer_pair_encoding(bert_tokenizer):
    context = CONTEXTS[0]
    encoder = WindowEncoder(bert_tokenizer, 128)
    _, _, windows, _ = _encode(encoder, QUERY, context)
    assert len(windows) == 1
    pair = bert_tokenizer(QUERY, context)
    assert windows[0].input_ids == pair["input_ids"]
    assert windows[0].token_type_ids == pair["token_type_ids"]


def test_long_query_is_truncated(bert_tokenizer):
    encoder = WindowEncoder(bert_tokenizer, 32)
    with pytest.warns(UserWarning, match="query limit of 16 tokens") as caught:
        template = encoder.template("word " * 100)
    assert len(caught) == 1
    assert template.query_truncated
    assert len(template.prefix_ids) == 16 + 2  # max_query_fraction 0.5 of 32, plus [CLS] and [SEP]
    assert template.prefix_ids[-1] == bert_tokenizer.sep_token_id
    assert encoder.capacity(template) == 32 - 18 - 1


@pytest.mark.parametrize("context", CONTEXTS + [JAPANESE])
def test_every_token_lands_in_exactly_one_window(bert_tokenizer, context):
    encoder = WindowEncoder(bert_tokenizer, 24)
    language = "ja" if any("\u3040" <= ch <= "\u9fff" for ch in context) else "en"
    template, encoded, windows, sentences = _encode(encoder, QUERY, context, language)
    expected = bert_tokenizer(context, add_special_tokens=False)["input_ids"]
    assert _context_tokens(windows) == expected
    for w in windows:
        assert len(w.input_ids) <= 24
        assert w.input_ids[: len(template.prefix_ids)] == template.prefix_ids
        assert w.input_ids[-len(template.suffix_ids):] == template.suffix_ids
        assert len(w.sentence_ids) == len(w.input_ids) == len(w.token_type_ids)
    assert sum(encoded.token_counts) == len(expected)


def test_token_to_sentence_map_uses_offsets(bert_tokenizer):
    context = CONTEXTS[2]
    sentences = split_sentences(context, "en")
    encoded = WindowEncoder(bert_tokenizer, 64).encode_contexts([context], [sentences])[0]
    offsets = bert_tokenizer(context, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    assert len(offsets) == len(encoded.sentence_ids)
    for (start, _), index in zip(offsets, encoded.sentence_ids):
        assert sentences[index].start <= start < sentences[index].end
    assert encoded.sentence_ids == sorted(encoded.sentence_ids)
    assert encoded.token_counts == [encoded.sentence_ids.count(i) for i in range(len(sentences))]


def test_whole_sentences_are_packed_greedily(bert_tokenizer):
    sentences_text = [f"Sentence number {i} is here. " for i in range(30)]
    context, sentences = sentences_from_list(sentences_text)
    encoder = WindowEncoder(bert_tokenizer, 48)
    template, encoded, windows, _ = _encode(encoder, QUERY, context, sentences=sentences)
    assert len(windows) > 1
    seen: dict[int, int] = {}
    for number, w in enumerate(windows):
        for s in set(i for i in w.sentence_ids if i >= 0):
            assert s not in seen, f"sentence {s} split across windows {seen[s]} and {number}"
            seen[s] = number
    # greedy: the next window's first sentence would not have fitted in this one
    capacity = encoder.capacity(template)
    for a, b in zip(windows, windows[1:]):
        used = sum(1 for s in a.sentence_ids if s >= 0)
        first = next(s for s in b.sentence_ids if s >= 0)
        assert used + encoded.token_counts[first] > capacity


def test_over_long_sentence_is_cut_at_word_starts(bert_tokenizer):
    words = [f"alpha{i % 7}beta" + "x" * (i % 3) for i in range(120)]  # 4-5 word pieces per word
    context = " ".join(words) + "."
    sentences = [s for s in split_sentences(context, "en", max_chars=100000)]
    assert len(sentences) == 1
    encoder = WindowEncoder(bert_tokenizer, 40)
    _, _, windows, _ = _encode(encoder, "q", context, sentences=sentences)
    assert len(windows) > 3
    assert _context_tokens(windows) == bert_tokenizer(context, add_special_tokens=False)["input_ids"]
    offsets = bert_tokenizer(context, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    position = 0
    for previous in windows[:-1]:
        position += sum(1 for s in previous.sentence_ids if s >= 0)
        start = offsets[position][0]
        assert context[start - 1] == " ", f"fragment starts inside a word at {start}"


def test_hard_cut_when_a_word_is_longer_than_a_window(bert_tokenizer):
    context = "ab" * 400  # one "word" of hundreds of tokens
    encoder = WindowEncoder(bert_tokenizer, 16)
    _, _, windows, _ = _encode(encoder, "q", context)
    assert all(len(w.input_ids) <= 16 for w in windows)
    assert _context_tokens(windows) == bert_tokenizer(context, add_special_tokens=False)["input_ids"]


def test_twenty_thousand_token_document(bert_tokenizer, long_doc):
    text, sentences = long_doc
    expected = bert_tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
    assert len(expected) >= 19000
    encoder = WindowEncoder(bert_tokenizer, 128)
    _, encoded, windows, _ = _encode(encoder, QUERY, text, sentences=sentences)
    assert all(len(w.input_ids) <= 128 for w in windows)
    got = _context_tokens(windows)
    assert Counter(got) == Counter(expected)
    assert got == expected
    covered = {s for w in windows for s in w.sentence_ids if s >= 0}
    assert covered == set(range(len(sentences)))


def test_batch_encoding_matches_one_by_one(bert_tokenizer):
    encoder = WindowEncoder(bert_tokenizer, 32)
    all_sentences = [split_sentences(c, "en") for c in CONTEXTS[:4]]
    batch = encoder.encode_contexts(CONTEXTS[:4], all_sentences)
    for context, sentences, together in zip(CONTEXTS[:4], all_sentences, batch):
        (alone,) = encoder.encode_contexts([context], [sentences])
        assert alone == together
    assert encoder.encode_contexts([], []) == []


def test_errors():
    class SlowTokenizer:
        is_fast = False

    with pytest.raises(TypeError, match="fast tokenizer"):
        WindowEncoder(SlowTokenizer(), 128)


def test_max_length_too_small(bert_tokenizer):
    with pytest.raises(ValueError, match="at least 8"):
        WindowEncoder(bert_tokenizer, 4)


def _reference_token_map(tokenizer, context, sentences):
    """Token -> sentence by bisecting each token's first character (the loop encode_contexts replaced)."""
    import bisect

    enc = tokenizer(context, add_special_tokens=False, return_offsets_mapping=True)
    starts = [s.start for s in sentences]
    token_starts = [a for a, _ in enc["offset_mapping"]] if sentences else []
    sentence_ids = [max(0, bisect.bisect_right(starts, a) - 1) for a in token_starts]
    counts = [sentence_ids.count(i) for i in range(len(sentences))]
    inside = [sentences[i].start <= a < sentences[i].end for i, a in zip(sentence_ids, token_starts)]
    return (enc["input_ids"] if sentences else []), sentence_ids, counts, inside


@pytest.mark.parametrize("context", CONTEXTS + [JAPANESE, "", "   ", "  Lead. Two.", long_document(200)])
def test_vectorised_token_map_matches_bisect(bert_tokenizer, context):
    encoder = WindowEncoder(bert_tokenizer, 64)
    sentences = split_sentences(context, "auto")
    got = encoder.encode_contexts([context], [sentences])[0]
    assert (got.token_ids, got.sentence_ids, got.token_counts, got.inside) == _reference_token_map(
        bert_tokenizer, context, sentences)
    # sentences that start after some tokens: those tokens go to the first sentence (clamped at 0)
    shifted = sentences[1:]
    got = encoder.encode_contexts([context], [shifted])[0]
    assert (got.token_ids, got.sentence_ids, got.token_counts, got.inside) == _reference_token_map(
        bert_tokenizer, context, shifted)
