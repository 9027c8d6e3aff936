"""One strict rule for option values at every engine entry point (text_pruner_rag.options); ties in
rankings ordered by input index; an over-long query warned once, in our words."""

from __future__ import annotations

import logging
import warnings

import pytest
from sample_texts import CONTEXTS

from text_pruner_rag import PruningPolicy

QUERY = "How tall is the Eiffel Tower?"

#: option -> values that must be refused (no coercion: a str, a float count, a bool)
BAD = {
    "threshold": ["0.5", True, [0.5]],
    "min_sentences": ["1", 1.0, True],
    "keep_first": [1, "true", 0],
    "keep_ratio": ["0.5", True],
    "token_budget": [5.0, "10", True],
    "context_token_budget": [5.0, "10", False],
}
CASES = [(name, value) for name, values in BAD.items() for value in values]


@pytest.mark.parametrize("name, value", CASES)
def test_policy_refuses(name, value):
    with pytest.raises(TypeError, match=name):
        PruningPolicy(**{name: value})


@pytest.mark.parametrize("name, value", CASES)
def test_prune_refuses(tiny_pruner, name, value):
    with pytest.raises(TypeError, match=name):
        tiny_pruner.prune(QUERY, CONTEXTS[0], **{name: value})


@pytest.mark.parametrize("name, value", CASES)
def test_prune_many_refuses(tiny_pruner, name, value):
    with pytest.raises(TypeError, match=name):
        tiny_pruner.prune_many(QUERY, CONTEXTS[:2], **{name: value})


@pytest.mark.parametrize("value", ["2", 2.0, True])
def test_rerank_top_n_and_rank_top_k_refuse(tiny_pruner, value):
    with pytest.raises(TypeError, match="top_n"):
        tiny_pruner.rerank(QUERY, CONTEXTS[:2], top_n=value)
    with pytest.raises(TypeError, match="top_k"):
        tiny_pruner.rank(QUERY, CONTEXTS[:2], top_k=value)


@pytest.mark.parametrize("value", ["8", 8.0, True, 0])
def test_batch_size_refused_everywhere(tiny_pruner, value):
    error = ValueError if value == 0 else TypeError
    for call in (lambda: tiny_pruner.prune_many(QUERY, CONTEXTS[:2], batch_size=value),
                 lambda: tiny_pruner.rerank(QUERY, CONTEXTS[:2], batch_size=value),
                 lambda: tiny_pruner.rank(QUERY, CONTEXTS[:2], batch_size=value),
                 lambda: tiny_pruner.predict([(QUERY, CONTEXTS[0])], batch_size=value)):
        with pytest.raises(error, match="batch_size"):
            call()


def test_count_tokens_refuses_a_string_and_non_str_items(tiny_pruner):
    with pytest.raises(TypeError, match="texts"):
        tiny_pruner.count_tokens("abc")  # not read as a list of characters
    with pytest.raises(TypeError, match=r"texts\[0\]"):
        tiny_pruner.count_tokens([None])  # our message, not the tokenizer's
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        tiny_pruner.count_tokens(["a", 3])
    assert tiny_pruner.count_tokens(("a b", "")) == [2, 0]


def test_identical_contexts_get_identical_scores_and_rank_by_index(tiny_pruner):
    from sample_texts import long_document

    other = long_document(12, seed=3)  # longer: identical windows land in batches of different padding
    contexts = [CONTEXTS[0], other, CONTEXTS[0], CONTEXTS[0], other]
    scores = [r.score for r in tiny_pruner.prune_many(QUERY, contexts, batch_size=2)]
    assert scores[0] == scores[2] == scores[3] and scores[1] == scores[4]  # bit-identical
    ranked = tiny_pruner.rerank(QUERY, contexts, batch_size=2)
    assert [r.index for r in ranked if r.text == CONTEXTS[0]] == [0, 2, 3]
    assert [r.index for r in ranked if r.text == other] == [1, 4]
    ranks = tiny_pruner.rank(QUERY, contexts, batch_size=2)
    assert [r["corpus_id"] for r in ranks] == [r.index for r in ranked]
    predicted = tiny_pruner.predict([(QUERY, c) for c in contexts], batch_size=2)
    assert predicted[0] == predicted[2] == predicted[3]


def test_a_query_over_the_limit_warns_once_in_our_words(tiny_model_dir, caplog):
    from text_pruner_rag import TextPruner

    pruner = TextPruner.from_pretrained(str(tiny_model_dir), device="cpu")
    query = "tower " * 500
    with caplog.at_level(logging.WARNING), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pruner.prune(query, CONTEXTS[0])
        pruner.prune(query + "again", CONTEXTS[1])
    ours = [w for w in caught if "query limit" in str(w.message)]
    assert len(ours) == 1 and "500 tokens" in str(ours[0].message) and "64 tokens" in str(ours[0].message)
    assert not [r for r in caplog.records if "sequence length" in r.getMessage()]  # transformers' is silenced
