"""TextPrunerCompressor against a fake pruner: copies, metadata, selection order, async, errors."""

from __future__ import annotations

import copy
import importlib
import sys
import threading

import pytest
from fake_pruner import QUERY, TEXTS, FakePruner
from pydantic import ValidationError

from langchain_core.documents import BaseDocumentCompressor, Document
from text_pruner_rag.integrations.langchain import TextPrunerCompressor
from text_pruner_rag.policy import PruningPolicy


def make_docs() -> list[Document]:
    return [
        Document(page_content=text, id=f"doc-{i}", metadata={"source": f"s{i}", "tags": ["a"]})
        for i, text in enumerate(TEXTS)
    ]


def contents(docs):
    return [d.page_content for d in docs]


def test_is_a_document_compressor():
    assert issubclass(TextPrunerCompressor, BaseDocumentCompressor)


def test_returns_pruned_copies_and_keeps_ids_and_metadata(fake_pruner):
    docs = make_docs()
    before = copy.deepcopy(docs)
    out = TextPrunerCompressor(pruner=fake_pruner).compress_documents(docs, QUERY)

    assert contents(out) == ["He moved to New York in 1884. ", "Tesla lived in New Orleans briefly. "]
    assert [d.id for d in out] == ["doc-0", "doc-3"]
    assert out[0].metadata["source"] == "s0"
    assert out[0].metadata["relevance_score"] == 1.0
    assert out[1].metadata["relevance_score"] == pytest.approx(2 / 3)
    assert out[0].metadata["compression_rate"] == pytest.approx(1 - 30 / len(TEXTS[0]))
    assert "original_page_content" not in out[0].metadata
    assert docs == before  # inputs unchanged
    assert all(o is not d for o in out for d in docs)
    out[0].metadata["extra"] = 1  # metadata is a new dict: adding keys never touches the input
    assert "extra" not in docs[0].metadata
    assert out[0].metadata["tags"] is docs[0].metadata["tags"]  # values are shared, never copied


def test_keep_original_stores_the_first_original(fake_pruner):
    docs = make_docs()
    docs[3] = docs[3].model_copy(update={"metadata": {"original_page_content": "earlier"}})
    out = TextPrunerCompressor(pruner=fake_pruner, keep_original=True).compress_documents(docs, QUERY)
    assert out[0].metadata["original_page_content"] == TEXTS[0]
    assert out[1].metadata["original_page_content"] == "earlier"


def test_overwrites_an_earlier_relevance_score(fake_pruner):
    docs = [Document(page_content=TEXTS[0], metadata={"relevance_score": -5.0})]
    out = TextPrunerCompressor(pruner=fake_pruner).compress_documents(docs, QUERY)
    assert out[0].metadata["relevance_score"] == 1.0


@pytest.mark.parametrize(
    "on_empty, expected",
    [
        ("drop", ["He moved to New York in 1884. ", "Tesla lived in New Orleans briefly. "]),
        (
            "best_sentence",
            [
                "He moved to New York in 1884. ",
                "Tesla lived in New Orleans briefly. ",
                "New buildings rise there.",
                "The Rhine flows through Basel. ",
            ],
        ),
        ("keep", ["He moved to New York in 1884. ", "Tesla lived in New Orleans briefly. ", TEXTS[2], TEXTS[1]]),
    ],
)
def test_on_empty(fake_pruner, on_empty, expected):
    out = TextPrunerCompressor(pruner=fake_pruner, on_empty=on_empty).compress_documents(make_docs(), QUERY)
    assert contents(out) == expected


def test_on_empty_compression_rate(fake_pruner):
    docs = make_docs()
    kept = TextPrunerCompressor(pruner=fake_pruner, on_empty="keep").compress_documents(docs, QUERY)
    assert kept[3].metadata["compression_rate"] == 0.0
    best = TextPrunerCompressor(pruner=fake_pruner, on_empty="best_sentence").compress_documents(docs, QUERY)
    assert best[2].metadata["compression_rate"] == pytest.approx(1 - len("New buildings rise there.") / len(TEXTS[2]))


def test_default_on_empty_drops_and_can_return_nothing(fake_pruner):
    assert TextPrunerCompressor().on_empty == "drop"
    docs = [Document(page_content=TEXTS[1])]
    assert TextPrunerCompressor(pruner=fake_pruner).compress_documents(docs, QUERY) == []


def test_score_threshold_is_applied_before_top_n(fake_pruner):
    compressor = TextPrunerCompressor(pruner=fake_pruner, on_empty="keep", score_threshold=0.3, top_n=5)
    out = compressor.compress_documents(make_docs(), QUERY)
    assert [d.id for d in out] == ["doc-0", "doc-3", "doc-2"]  # score >= 0.3, best first
    at_boundary = TextPrunerCompressor(pruner=fake_pruner, on_empty="keep", score_threshold=2 / 3)
    assert [d.id for d in at_boundary.compress_documents(make_docs(), QUERY)] == ["doc-0", "doc-3"]  # >=
    out = TextPrunerCompressor(pruner=fake_pruner, on_empty="keep", score_threshold=0.3, top_n=1).compress_documents(
        make_docs(), QUERY
    )
    assert [d.id for d in out] == ["doc-0"]


def test_top_n_keeps_the_best_and_reorder_false_keeps_input_order():
    pruner = FakePruner(scores={TEXTS[3]: 2.0})
    docs = make_docs()
    best_first = TextPrunerCompressor(pruner=pruner, on_empty="keep", top_n=2).compress_documents(docs, QUERY)
    assert [d.id for d in best_first] == ["doc-3", "doc-0"]
    in_order = TextPrunerCompressor(pruner=pruner, on_empty="keep", top_n=2, reorder=False)
    assert [d.id for d in in_order.compress_documents(docs, QUERY)] == ["doc-0", "doc-3"]
    everything = TextPrunerCompressor(pruner=pruner, on_empty="keep", reorder=False)
    assert [d.id for d in everything.compress_documents(docs, QUERY)] == ["doc-0", "doc-1", "doc-2", "doc-3"]


def test_document_without_text(fake_pruner):
    docs = [Document(page_content="", id="empty"), Document(page_content=TEXTS[0], id="full")]
    kept = TextPrunerCompressor(pruner=fake_pruner, on_empty="keep").compress_documents(docs, QUERY)
    assert [(d.id, d.metadata["relevance_score"]) for d in kept] == [("full", 1.0), ("empty", float("-inf"))]
    best = TextPrunerCompressor(pruner=fake_pruner, on_empty="best_sentence").compress_documents(docs, QUERY)
    assert [d.id for d in best] == ["full"]
    thresholded = TextPrunerCompressor(pruner=fake_pruner, on_empty="keep", score_threshold=0.0)
    assert [d.id for d in thresholded.compress_documents(docs, QUERY)] == ["full"]


def test_empty_input_returns_empty_list_without_calling_the_pruner(fake_pruner):
    assert TextPrunerCompressor(pruner=fake_pruner).compress_documents([], QUERY) == []
    assert fake_pruner.calls == []


def test_one_batched_call_with_the_options(fake_pruner):
    compressor = TextPrunerCompressor(pruner=fake_pruner, threshold=0.9, min_sentences=1, keep_first=True, batch_size=4)
    compressor.compress_documents(make_docs(), QUERY)
    assert len(fake_pruner.calls) == 1
    call = fake_pruner.calls[0]
    assert call["query"] == QUERY and call["contexts"] == TEXTS
    assert (call["threshold"], call["min_sentences"], call["keep_first"], call["batch_size"]) == (0.9, 1, True, 4)


def test_policy_option_reaches_the_pruner_whole(fake_pruner):
    policy = PruningPolicy(threshold=0.2, min_sentences=1, keep_ratio=0.5, context_token_budget=8)
    TextPrunerCompressor(pruner=fake_pruner, policy=policy).compress_documents(make_docs(), QUERY)
    assert fake_pruner.calls[-1]["policy"] == policy
    # an option given one by one replaces the policy's field
    compressor = TextPrunerCompressor(pruner=fake_pruner, policy=policy, threshold=0.6, keep_first=True)
    assert compressor.pruning_policy == PruningPolicy(threshold=0.6, min_sentences=1, keep_first=True, keep_ratio=0.5,
                                                      context_token_budget=8)
    compressor.compress_documents(make_docs(), QUERY)
    assert fake_pruner.calls[-1]["policy"] == compressor.pruning_policy
    # the adapter's token_budget is applied to the returned documents, not passed to prune_many
    budgeted = TextPrunerCompressor(pruner=fake_pruner, policy=PruningPolicy(token_budget=5))
    budgeted.compress_documents(make_docs(), QUERY)
    assert fake_pruner.calls[-1]["policy"].token_budget is None and budgeted.pruning_policy.token_budget == 5


def test_policy_options_are_checked_by_the_policy():
    for bad in ({"keep_ratio": 0.0}, {"context_token_budget": -1}, {"min_sentences": -2}, {"threshold": "high"}):
        with pytest.raises(ValidationError, match=next(iter(bad))):
            TextPrunerCompressor(**bad)


def test_the_fake_implements_the_protocol_with_the_real_strict_rule(fake_pruner, tiny_pruner):
    from text_pruner_rag.protocols import Pruner

    assert isinstance(fake_pruner, Pruner) and isinstance(tiny_pruner, Pruner)
    # "Tesla was born in Smiljan." holds 1 of the 3 query words: probability exactly 1/3.
    (result,) = fake_pruner.prune_many(QUERY, [TEXTS[0]], policy=PruningPolicy(threshold=1 / 3))
    assert result.sentences[0].probability == 1 / 3 and not result.sentences[0].kept
    assert result.sentences[1].kept  # 2/3 > 1/3


async def test_async_matches_sync_and_runs_the_pass_in_a_worker_thread(fake_pruner):
    compressor = TextPrunerCompressor(pruner=fake_pruner, on_empty="best_sentence", keep_original=True)
    docs = make_docs()
    before = copy.deepcopy(docs)
    async_out = await compressor.acompress_documents(docs, QUERY)
    assert async_out == compressor.compress_documents(docs, QUERY)
    assert docs == before
    assert fake_pruner.calls[0]["thread"] != threading.get_ident()
    assert await compressor.acompress_documents([], QUERY) == []
    assert len(fake_pruner.calls) == 2


def test_options_are_validated(fake_pruner):
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        TextPrunerCompressor(top_k=3)
    with pytest.raises(ValidationError):
        TextPrunerCompressor(top_n=0)
    with pytest.raises(ValidationError):
        TextPrunerCompressor(threshold=1.5)
    with pytest.raises(ValidationError):
        TextPrunerCompressor(on_empty="raise")
    with pytest.raises(ValueError, match="either `pruner` .* or `model`/`device`"):
        TextPrunerCompressor(pruner=fake_pruner, model="some/model")


def test_loads_the_model_lazily_and_once(monkeypatch, fake_pruner):
    import text_pruner_rag

    loads = []

    class Loader:
        @staticmethod
        def from_pretrained(name_or_path=None, *, device=None):
            loads.append((name_or_path, device))
            return fake_pruner

    monkeypatch.setattr(text_pruner_rag, "TextPruner", Loader, raising=False)
    compressor = TextPrunerCompressor(model="path/to/model", device="cpu")
    assert loads == []
    compressor.compress_documents(make_docs(), QUERY)
    compressor.compress_documents(make_docs(), QUERY)
    assert loads == [("path/to/model", "cpu")]
    assert compressor.pruner is fake_pruner


def test_missing_langchain_core_names_the_extra(monkeypatch):
    monkeypatch.delitem(sys.modules, "text_pruner_rag.integrations.langchain")
    monkeypatch.setitem(sys.modules, "langchain_core.documents", None)
    with pytest.raises(ImportError, match=r'pip install "text-pruner-rag\[langchain\]"') as info:
        importlib.import_module("text_pruner_rag.integrations.langchain")
    assert isinstance(info.value.__cause__, ImportError)
