"""A model whose vocabulary cannot read a context says so once (issue: Japanese with the English model)."""

from __future__ import annotations

import warnings

import pytest

from text_pruner_rag import TextPruner

JAPANESE = "東京タワーは東京都港区芝公園にある総合電波塔です。高さは333メートルで、1958年に完成しました。"
ENGLISH = "Tokyo Tower is a communications tower in Shiba-koen, Minato, Tokyo. It is 333 metres tall."


@pytest.fixture(scope="module")
def english_pruner():
    return TextPruner.from_pretrained()  # the embedded English MiniLM model


def _prune_recording(pruner, query, context):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = pruner.prune(query, context)
    return result, [w for w in caught if "unknown token" in str(w.message)]


def test_english_model_warns_once_on_japanese(english_pruner):
    pruner = TextPruner(english_pruner.model, english_pruner.tokenizer)  # fresh pruner: nothing warned yet
    _, caught = _prune_recording(pruner, "東京タワーの高さは？", JAPANESE)
    assert len(caught) == 1 and caught[0].category is UserWarning
    message = str(caught[0].message)
    assert "'[UNK]'" in message and "cannot read that text" in message and "once per pruner" in message
    _, again = _prune_recording(pruner, "東京タワーはいつ完成しましたか？", JAPANESE)
    assert again == []  # once per pruner
    _, other = _prune_recording(TextPruner(english_pruner.model, english_pruner.tokenizer), "高さは？", JAPANESE)
    assert len(other) == 1  # a second pruner warns on its own


def test_no_warning_on_readable_text(english_pruner):
    pruner = TextPruner(english_pruner.model, english_pruner.tokenizer)
    result, caught = _prune_recording(pruner, "How tall is Tokyo Tower?", ENGLISH)
    assert caught == [] and result.pruned_text
    # one unknown character in a long context stays under the 5% bar
    result, caught = _prune_recording(pruner, "How tall is Tokyo Tower?", ENGLISH + " 塔")
    assert caught == []


def test_warning_points_at_the_callers_line(english_pruner):
    pruner = TextPruner(english_pruner.model, english_pruner.tokenizer)
    _, caught = _prune_recording(pruner, "東京タワーの高さは？", JAPANESE)
    assert len(caught) == 1 and caught[0].filename == __file__  # not a line inside text_pruner_rag
