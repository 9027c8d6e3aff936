"""Bad and unusual input to TextPruner: each case gives a clear error or a documented result.

docs/bad-input.md lists the same cases.
"""

from __future__ import annotations

import math

import pytest

from text_pruner_rag import PruningPolicy

QUERY = "Where is the Eiffel Tower?"
TEXT = "The Eiffel Tower is in Paris. Bananas are yellow."


def _no_model_calls(pruner, monkeypatch):
    calls = []
    original = pruner.model.forward
    monkeypatch.setattr(pruner.model, "forward", lambda *a, **k: calls.append(1) or original(*a, **k))
    return calls


# -- case 4: contexts with nothing to score -----------------------------------------------------
@pytest.mark.parametrize("context", ["   \n\t ", " ", "\n\n", [" ", "\n"], ["  "]])
def test_whitespace_only_context(tiny_pruner, context, monkeypatch):
    calls = _no_model_calls(tiny_pruner, monkeypatch)
    result = tiny_pruner.prune(QUERY, context, min_sentences=1)
    assert (result.pruned_text, result.score, result.compression_rate) == ("", float("-inf"), 0.0)
    assert not any(s.kept for s in result.sentences)
    assert calls == []


@pytest.mark.parametrize("context", ["\u200b\u200b", "\x00", "\x00\x00 \x00", "\ufffd", "\ufffd\ufffd \ufffd\n",
                                     "\u200b\u200c\u200d\ufeff"])
def test_context_of_characters_the_tokenizer_drops(tiny_pruner, bert_tokenizer, context):
    assert bert_tokenizer(context, add_special_tokens=False)["input_ids"] == []  # the premise
    result = tiny_pruner.prune(QUERY, context)
    assert isinstance(result.score, float) and math.isfinite(result.score)
    assert result.sentences and "".join(s.text for s in result.sentences) == context
    assert all(s.probability == 0.0 and not s.kept for s in result.sentences)
    assert result.pruned_text == "" and result.compression_rate == 1.0
    # the score is the query against an empty context, the same for every such context
    assert result.score == tiny_pruner.prune(QUERY, "\u200b").score
    kept = tiny_pruner.prune(QUERY, context, min_sentences=1)
    assert kept.pruned_text == kept.sentences[0].text


def test_dropped_characters_next_to_text_take_their_neighbours_probability(tiny_pruner):
    result = tiny_pruner.prune(QUERY, ["The Eiffel Tower is in Paris. ", "\u200b\u200b"], threshold=0.0)
    first, second = result.sentences
    assert second.probability == first.probability


# -- case 5: invalid Unicode ----------------------------------------------------------------------
def test_lone_surrogate_in_query(tiny_pruner):
    with pytest.raises(ValueError, match=r"`query`.*surrogate.*position 3"):
        tiny_pruner.prune("caf\udce9 au lait?", TEXT)


def test_lone_surrogate_in_context(tiny_pruner):
    with pytest.raises(ValueError, match=r"`context`.*surrogate.*position 3"):
        tiny_pruner.prune(QUERY, "The\ud800 tower.")
    with pytest.raises(ValueError, match=r"`contexts\[1\]`.*surrogate"):
        tiny_pruner.prune_many(QUERY, [TEXT, "bad \udfff text"])
    with pytest.raises(ValueError, match=r"`contexts\[0\]\[1\]`.*surrogate"):
        tiny_pruner.prune_many(QUERY, [["ok. ", "bad \udfff."]])
    with pytest.raises(ValueError, match=r"`contexts\[1\]`.*surrogate"):
        tiny_pruner.rerank(QUERY, [TEXT, "\ud83d"])


def test_valid_astral_characters_are_fine(tiny_pruner):
    result = tiny_pruner.prune(QUERY, "The tower \U0001F5FC is in Paris. \U0001F34C are yellow.")
    assert isinstance(result.score, float)


# -- case 6: loose validation -----------------------------------------------------------------------
@pytest.mark.parametrize("threshold", [True, False, "0.5", float("nan"), [0.5]])
def test_threshold_must_be_a_real_number(tiny_pruner, threshold):
    with pytest.raises((TypeError, ValueError), match="threshold"):
        tiny_pruner.prune(QUERY, TEXT, threshold=threshold)
    with pytest.raises((TypeError, ValueError), match="threshold"):
        PruningPolicy(threshold=threshold)


@pytest.mark.parametrize(("option", "value"), [("min_sentences", True), ("min_sentences", 1.5),
                                               ("keep_ratio", True), ("token_budget", True),
                                               ("token_budget", 2.5), ("keep_first", "yes")])
def test_other_policy_options_are_type_checked(tiny_pruner, option, value):
    with pytest.raises((TypeError, ValueError), match=option):
        tiny_pruner.prune(QUERY, TEXT, **{option: value})


@pytest.mark.parametrize("threshold", [0, 1, 0.0, 1.0, 0.25])
def test_numeric_thresholds_still_work(tiny_pruner, threshold):
    assert isinstance(tiny_pruner.prune(QUERY, TEXT, threshold=threshold).score, float)


@pytest.mark.parametrize("contexts", [{"a": TEXT}, {TEXT}, frozenset({TEXT}), 42, None, TEXT, b"bytes"])
def test_prune_many_needs_an_ordered_list(tiny_pruner, contexts, monkeypatch):
    calls = _no_model_calls(tiny_pruner, monkeypatch)
    with pytest.raises(TypeError, match="contexts"):
        tiny_pruner.prune_many(QUERY, contexts)
    with pytest.raises(TypeError, match="contexts"):
        tiny_pruner.rerank(QUERY, contexts)
    assert calls == []


def test_prune_many_accepts_tuples_and_generators(tiny_pruner):
    as_list = tiny_pruner.prune_many(QUERY, [TEXT, "Paris."])
    assert tiny_pruner.prune_many(QUERY, (TEXT, "Paris.")) == as_list
    assert tiny_pruner.prune_many(QUERY, (c for c in [TEXT, "Paris."])) == as_list


@pytest.mark.parametrize("top_n", [-1, True, 1.5, "2"])
def test_rerank_top_n_is_checked_before_the_model_runs(tiny_pruner, top_n, monkeypatch):
    calls = _no_model_calls(tiny_pruner, monkeypatch)
    with pytest.raises((TypeError, ValueError), match="top_n"):
        tiny_pruner.rerank(QUERY, [TEXT, "Paris."], top_n=top_n)
    assert calls == []


def test_rerank_top_n_zero_returns_nothing(tiny_pruner):
    assert tiny_pruner.rerank(QUERY, [TEXT], top_n=0) == []
