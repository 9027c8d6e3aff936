"""TextPrunerPostprocessor against a fake pruner: copies, metadata, selection, events, async, errors."""

from __future__ import annotations

import importlib
import sys
import threading

import pytest
from fake_pruner import QUERY, TEXTS, FakePruner
from pydantic import ValidationError

from llama_index.core.callbacks import CallbackManager, CBEventType, LlamaDebugHandler
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MediaResource, Node, NodeWithScore, QueryBundle, TextNode
from text_pruner_rag.integrations.llama_index import TextPrunerPostprocessor
from text_pruner_rag.policy import PruningPolicy


def make_nodes() -> list[NodeWithScore]:
    return [
        NodeWithScore(node=TextNode(text=text, id_=f"node-{i}", metadata={"title": "Tesla"}), score=0.5 + i / 10)
        for i, text in enumerate(TEXTS)
    ]


def texts(nodes):
    return [n.node.get_content() for n in nodes]


def snapshot(nodes):
    return [(n.score, n.node.model_dump()) for n in nodes]


def test_class_name_and_serialization(fake_pruner):
    assert BaseNodePostprocessor in TextPrunerPostprocessor.__mro__
    fake_pruner.name_or_path = "org/fake-pruner"  # where the pruner was loaded from
    postprocessor = TextPrunerPostprocessor(pruner=fake_pruner, top_n=2, on_empty="keep")
    data = postprocessor.to_dict()
    assert data["class_name"] == "TextPrunerPostprocessor"
    assert data["top_n"] == 2 and data["on_empty"] == "keep" and data["model"] == "org/fake-pruner"
    assert "pruner" not in data and "_pruner" not in data and "callback_manager" not in data
    restored = TextPrunerPostprocessor.from_dict(data)
    assert restored.top_n == 2 and restored.on_empty == "keep" and restored.model == "org/fake-pruner"


def test_returns_new_nodes_and_never_rewrites_the_shared_ones(fake_pruner):
    nodes = make_nodes()
    before = snapshot(nodes)
    out = TextPrunerPostprocessor(pruner=fake_pruner).postprocess_nodes(nodes, QueryBundle(QUERY))

    assert texts(out) == ["He moved to New York in 1884. ", "Tesla lived in New Orleans briefly. "]
    assert [n.node.node_id for n in out] == ["node-0", "node-3"]
    assert [n.score for n in out] == [1.0, pytest.approx(2 / 3)]
    rate = pytest.approx(1 - 30 / len(TEXTS[0]))
    assert out[0].node.metadata == {"title": "Tesla", "retrieval_score": 0.5, "compression_rate": rate}
    assert out[1].node.metadata["retrieval_score"] == pytest.approx(0.8)
    for key in ("retrieval_score", "compression_rate"):
        assert key in out[0].node.excluded_llm_metadata_keys and key in out[0].node.excluded_embed_metadata_keys
    assert snapshot(nodes) == before
    assert out[0] is not nodes[0] and out[0].node is not nodes[0].node


def test_scores_the_text_without_metadata(fake_pruner):
    TextPrunerPostprocessor(pruner=fake_pruner).postprocess_nodes(make_nodes(), query_str=QUERY)
    assert fake_pruner.calls[0]["contexts"] == TEXTS  # no "title: Tesla" prefix


def test_keep_original_and_earlier_values_win(fake_pruner):
    nodes = make_nodes()
    nodes[0].node.metadata.update(retrieval_score=0.01, original_text="earlier")
    out = TextPrunerPostprocessor(pruner=fake_pruner, keep_original=True).postprocess_nodes(nodes, query_str=QUERY)
    assert out[0].node.metadata["retrieval_score"] == 0.01
    assert out[0].node.metadata["original_text"] == "earlier"
    assert out[1].node.metadata["original_text"] == TEXTS[3]
    assert "original_text" in out[1].node.excluded_llm_metadata_keys
    assert nodes[3].node.excluded_llm_metadata_keys == []


def test_works_with_text_resource_nodes(fake_pruner):
    nodes = [NodeWithScore(node=Node(text_resource=MediaResource(text=TEXTS[0])), score=None)]
    out = TextPrunerPostprocessor(pruner=fake_pruner).postprocess_nodes(nodes, query_str=QUERY)
    assert out[0].node.get_content() == "He moved to New York in 1884. "
    assert out[0].node.metadata["retrieval_score"] is None
    assert nodes[0].node.get_content() == TEXTS[0]


@pytest.mark.parametrize(
    "on_empty, expected_ids, third_text",
    [
        ("drop", ["node-0", "node-3"], None),
        ("best_sentence", ["node-0", "node-3", "node-2", "node-1"], "New buildings rise there."),
        ("keep", ["node-0", "node-3", "node-2", "node-1"], TEXTS[2]),
    ],
)
def test_on_empty(fake_pruner, on_empty, expected_ids, third_text):
    postprocessor = TextPrunerPostprocessor(pruner=fake_pruner, on_empty=on_empty)
    out = postprocessor.postprocess_nodes(make_nodes(), query_str=QUERY)
    assert [n.node.node_id for n in out] == expected_ids
    if third_text is not None:
        assert out[2].node.get_content() == third_text


def test_score_threshold_top_n_and_reorder():
    pruner = FakePruner(scores={TEXTS[3]: 2.0})
    nodes = make_nodes()

    def ids(**options):
        postprocessor = TextPrunerPostprocessor(pruner=pruner, on_empty="keep", **options)
        return [n.node.node_id for n in postprocessor.postprocess_nodes(nodes, query_str=QUERY)]

    assert ids() == ["node-3", "node-0", "node-2", "node-1"]
    assert ids(reorder=False) == ["node-0", "node-1", "node-2", "node-3"]
    assert ids(top_n=2) == ["node-3", "node-0"]
    assert ids(top_n=2, reorder=False) == ["node-0", "node-3"]
    assert ids(score_threshold=0.3) == ["node-3", "node-0", "node-2"]
    assert ids(score_threshold=0.3, top_n=1) == ["node-3"]


def test_empty_input_and_missing_query(fake_pruner):
    postprocessor = TextPrunerPostprocessor(pruner=fake_pruner)
    assert postprocessor.postprocess_nodes([], query_str=QUERY) == []
    with pytest.raises(ValueError, match="TextPrunerPostprocessor needs the query"):
        postprocessor.postprocess_nodes(make_nodes())
    assert fake_pruner.calls == []


class _Recorder(BaseEventHandler):
    events: list = []

    @classmethod
    def class_name(cls) -> str:
        return "Recorder"

    def handle(self, event, **kwargs) -> None:
        self.events.append(event)


@pytest.fixture
def recorded_events():
    recorder = _Recorder(events=[])
    root = get_dispatcher()
    root.add_event_handler(recorder)
    yield recorder.events
    root.event_handlers.remove(recorder)


@pytest.mark.parametrize("use_async", [False, True])
async def test_events_are_fired(fake_pruner, recorded_events, use_async):
    debug = LlamaDebugHandler()
    postprocessor = TextPrunerPostprocessor(pruner=fake_pruner, top_n=1, callback_manager=CallbackManager([debug]))
    nodes = make_nodes()
    if use_async:
        out = await postprocessor.apostprocess_nodes(nodes, query_str=QUERY)
    else:
        out = postprocessor.postprocess_nodes(nodes, query_str=QUERY)
    rerank = [e for e in recorded_events if isinstance(e, (ReRankStartEvent, ReRankEndEvent))]
    assert [type(e) for e in rerank] == [ReRankStartEvent, ReRankEndEvent]
    assert rerank[0].query.query_str == QUERY and rerank[0].top_n == 1 and rerank[0].nodes == nodes
    assert rerank[1].nodes == out
    assert len(debug.get_event_pairs(CBEventType.RERANKING)) == 1


async def test_async_matches_sync_and_runs_the_pass_in_a_worker_thread(fake_pruner):
    postprocessor = TextPrunerPostprocessor(pruner=fake_pruner, on_empty="best_sentence")
    nodes = make_nodes()
    before = snapshot(nodes)
    async_out = await postprocessor.apostprocess_nodes(nodes, QueryBundle(QUERY))
    sync_out = postprocessor.postprocess_nodes(nodes, QueryBundle(QUERY))
    assert [(n.node.model_dump(), n.score) for n in async_out] == [(n.node.model_dump(), n.score) for n in sync_out]
    assert snapshot(nodes) == before
    assert fake_pruner.calls[0]["thread"] != threading.get_ident()
    assert await postprocessor.apostprocess_nodes([], query_str=QUERY) == []
    with pytest.raises(ValueError, match="needs the query"):
        await postprocessor.apostprocess_nodes(nodes)


def test_options_are_validated(fake_pruner):
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        TextPrunerPostprocessor(similarity_cutoff=0.5)
    with pytest.raises(ValidationError):
        TextPrunerPostprocessor(batch_size=0)
    with pytest.raises(ValueError, match="either `pruner`"):
        TextPrunerPostprocessor(pruner=fake_pruner, device="cuda")


def test_policy_reaches_the_pruner_whole(fake_pruner):
    policy = PruningPolicy(threshold=0.2, min_sentences=1, keep_ratio=0.5, context_token_budget=8)
    TextPrunerPostprocessor(pruner=fake_pruner, policy=policy).postprocess_nodes(make_nodes(), QueryBundle(QUERY))
    assert fake_pruner.calls[-1]["policy"] == policy
    postprocessor = TextPrunerPostprocessor(pruner=fake_pruner, policy=policy, threshold=0.6, keep_first=True)
    postprocessor.postprocess_nodes(make_nodes(), QueryBundle(QUERY))
    assert fake_pruner.calls[-1]["policy"] == PruningPolicy(threshold=0.6, min_sentences=1, keep_first=True,
                                                            keep_ratio=0.5, context_token_budget=8)
    # a mapping is read as a PruningPolicy (as from_dict does) and checked by it
    assert TextPrunerPostprocessor(policy={"threshold": 0.2}).pruning_policy == PruningPolicy(threshold=0.2)
    for bad in ({"keep_ratio": 1.5}, {"threshold": -0.1}, {"policy": {"threshold": 2}}):
        with pytest.raises(ValidationError, match=next(iter(bad.get("policy", bad)))):
            TextPrunerPostprocessor(**bad)


def test_the_equality_case_is_dropped_like_the_real_pruner(fake_pruner):
    # TEXTS[0]'s sentences hold 1/3, 2/3 and 0 of the query words: at threshold 2/3 the fake keeps
    # nothing (strict ">"), so the document is dropped; one step below, the 2/3 sentence is kept.
    at = TextPrunerPostprocessor(pruner=fake_pruner, threshold=2 / 3)
    assert at.postprocess_nodes(make_nodes()[:1], QueryBundle(QUERY)) == []
    below = TextPrunerPostprocessor(pruner=fake_pruner, threshold=0.66)
    assert texts(below.postprocess_nodes(make_nodes()[:1], QueryBundle(QUERY))) == ["He moved to New York in 1884. "]


def test_missing_llama_index_core_names_the_extra(monkeypatch):
    monkeypatch.delitem(sys.modules, "text_pruner_rag.integrations.llama_index")
    monkeypatch.setitem(sys.modules, "llama_index.core.postprocessor.types", None)
    with pytest.raises(ImportError, match=r'pip install "text-pruner-rag\[llama-index\]"') as info:
        importlib.import_module("text_pruner_rag.integrations.llama_index")
    assert isinstance(info.value.__cause__, ImportError)


def test_lazy_exports():
    import text_pruner_rag.integrations as integrations

    assert integrations.TextPrunerPostprocessor is TextPrunerPostprocessor
    with pytest.raises(AttributeError):
        integrations.NoSuchThing
