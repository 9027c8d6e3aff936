"""`prune_batch`: many queries in one call, each equal to its own `prune_many`."""

from __future__ import annotations

import pytest

from text_pruner_rag import TextPruner
from text_pruner_rag.routing import LanguageRouter

QUERIES = ["Who designed the Eiffel Tower?", "What is rich in potassium?", "How tall is the tower?"]
CONTEXTS = [
    ["The Eiffel Tower is in Paris. It was designed by Gustave Eiffel's company. Bananas are rich in potassium.",
     "Bananas are yellow. Apples are red.", ""],
    ["Bananas are rich in potassium. " * 30, ["Potassium is a metal. ", "It reacts with water."]],
    [],
]


def _same(batch, many):
    assert len(batch) == len(many)
    for b, m in zip(batch, many):
        assert [s.kept for s in b.sentences] == [s.kept for s in m.sentences]
        assert b.pruned_text == m.pruned_text and b.context == m.context
        assert [s.probability for s in b.sentences] == pytest.approx([s.probability for s in m.sentences], abs=1e-5)
        assert b.score == pytest.approx(m.score, abs=1e-5)
        assert (b.title, b.title_kept) == (m.title, m.title_kept)


@pytest.mark.parametrize("options", [
    {},
    {"threshold": 0.5},
    {"keep_ratio": 0.5, "keep_first": True},
    {"threshold": 0.0, "token_budget": 12},
    {"threshold": 0.3, "title": "first_sentence"},
])
def test_each_query_equals_its_own_prune_many(tiny_pruner, options):
    batch = tiny_pruner.prune_batch(QUERIES, CONTEXTS, batch_size=4, **options)
    assert len(batch) == len(QUERIES)
    for query, contexts, results in zip(QUERIES, CONTEXTS, batch):
        _same(results, tiny_pruner.prune_many(query, contexts, batch_size=4, **options))


def test_titles_per_query(tiny_pruner):
    titles = [["Eiffel Tower", None, "x"], "Potassium", None]
    batch = tiny_pruner.prune_batch(QUERIES, CONTEXTS, threshold=0.0, title=titles)
    for query, contexts, title, results in zip(QUERIES, CONTEXTS, titles, batch):
        _same(results, tiny_pruner.prune_many(query, contexts, threshold=0.0, title=title))
    assert batch[1][0].title == "Potassium"


def test_the_token_budget_applies_per_query(tiny_pruner):
    batch = tiny_pruner.prune_batch(QUERIES[:2], CONTEXTS[:2], threshold=0.0, token_budget=10)
    for results in batch:
        total = sum(tiny_pruner.count_tokens([r.pruned_text for r in results if r.pruned_text]))
        assert 0 < total <= 10


def test_all_queries_share_forward_passes(tiny_pruner, monkeypatch):
    calls = []
    forward = tiny_pruner.forward_windows

    def counting(ids, mask, types):
        calls.append(len(ids))
        return forward(ids, mask, types)

    monkeypatch.setattr(tiny_pruner, "forward_windows", counting)
    queries = [f"question {i} about towers" for i in range(6)]
    contexts = [["A short tower text.", "Another small text."]] * 6
    tiny_pruner.prune_batch(queries, contexts, batch_size=64)
    assert calls == [12]  # 6 queries x 2 windows, one pass
    calls.clear()
    for q, c in zip(queries, contexts):
        tiny_pruner.prune_many(q, c, batch_size=64)
    assert calls == [2] * 6


@pytest.mark.filterwarnings("ignore:the tokenizer turned")
def test_each_query_is_read_by_its_own_model(tiny_model_dir):
    english = TextPruner.from_pretrained(str(tiny_model_dir), device="cpu")
    japanese = TextPruner.from_pretrained(str(tiny_model_dir), device="cpu", max_length=32)
    english.router = LanguageRouter(english, {"ja": japanese})
    queries = ["Who built it?", "誰が建てましたか？", "Where is it?"]
    contexts = [["Gustave Eiffel built the tower in Paris for the fair of 1889."] * 2,
                ["エッフェル塔はパリにあります。ギュスターヴ・エッフェルが設計しました。"],
                ["The tower stands in Paris, near the river Seine, on the Champ de Mars."]]
    batch = english.prune_batch(queries, contexts, threshold=0.5)
    assert english.model_for(queries[1], contexts[1]) is japanese
    for query, ctx, results in zip(queries, contexts, batch):
        _same(results, english.prune_many(query, ctx, threshold=0.5))
    # the routed query really used the other model (its 32-token windows give other numbers)
    own = english.prune_many(queries[1], contexts[1], threshold=0.5, language="en")
    assert [s.probability for s in own[0].sentences] != [s.probability for s in batch[1][0].sentences]
    via_router = english.router.prune_batch(queries, contexts, threshold=0.5, title=[None, "T", None])
    assert via_router[1][0].title == "T"
    _same(via_router[0], batch[0])


def test_empty_calls(tiny_pruner):
    assert tiny_pruner.prune_batch([], []) == []
    assert tiny_pruner.prune_batch(["q"], [[]]) == [[]]


@pytest.mark.parametrize("queries, contexts, error, match", [
    (["q", 3], [["a"], ["b"]], TypeError, r"`queries\[1\]` must be a str"),
    (["q", " "], [["a"], ["b"]], ValueError, r"`queries\[1\]` must not be empty"),
    (["q"], [["a"], ["b"]], ValueError, "`queries` has 1 entries but `contexts_per_query` has 2"),
    ("q", [["a"]], TypeError, "`queries` must be a list of str"),
    (["q"], "a", TypeError, "`contexts_per_query` must be"),
    (["q", "r"], [["a"], "b"], TypeError, r"`contexts_per_query\[1\]` must be"),
    (["q", "r"], [["a"], ["b", 5]], TypeError, r"`contexts_per_query\[1\]\[1\]` must be a str or a list of str"),
    (["q", "r"], [["a"], [["b", None]]], TypeError, r"`contexts_per_query\[1\]\[0\]\[1\]` must be a str"),
    (["q"], [["a\udc80"]], ValueError, r"`contexts_per_query\[0\]\[0\]` is not valid Unicode"),
])
def test_strict_checks_name_the_bad_item(tiny_pruner, queries, contexts, error, match):
    with pytest.raises(error, match=match):
        tiny_pruner.prune_batch(queries, contexts)


def test_bad_titles_and_options(tiny_pruner):
    with pytest.raises(ValueError, match="`title` has 1 entries for 2 queries"):
        tiny_pruner.prune_batch(["q", "r"], [["a"], ["b"]], title=["t"])
    with pytest.raises(ValueError, match=r"`title\[1\]` has 1 entries for 2 contexts"):
        tiny_pruner.prune_batch(["q", "r"], [["a"], ["b", "c"]], title=[None, ["t"]])
    with pytest.raises(TypeError, match="threshold"):
        tiny_pruner.prune_batch(["q"], [["a"]], threshold="0.5")
