"""Both adapters: on_error failure policy, uncopyable metadata, and errors at construction (issue 11)."""

from __future__ import annotations

import copy
import logging
import threading

import pytest
from fake_pruner import QUERY, TEXTS, FakePruner
from pydantic import ValidationError

from langchain_core.documents import Document
from llama_index.core.schema import MediaResource, Node, NodeWithScore, QueryBundle, TextNode
from text_pruner_rag.integrations.langchain import TextPrunerCompressor
from text_pruner_rag.integrations.llama_index import TextPrunerPostprocessor

ADAPTERS = [TextPrunerCompressor, TextPrunerPostprocessor]
LOGGER = "text_pruner_rag.integrations"


class BrokenPruner(FakePruner):
    """Fails inside the model run, like an out-of-memory error or a corrupt input would."""

    def prune_many(self, query, contexts, **options):
        super().prune_many(query, contexts, **options)
        raise RuntimeError("CUDA out of memory (simulated)")


def make_docs(extra=None) -> list[Document]:
    return [Document(page_content=t, id=f"doc-{i}", metadata={"source": f"s{i}", **(extra or {})})
            for i, t in enumerate(TEXTS)]


def make_nodes(extra=None) -> list[NodeWithScore]:
    return [NodeWithScore(node=TextNode(text=t, id_=f"node-{i}", metadata={"title": "T", **(extra or {})}),
                          score=0.1 * i) for i, t in enumerate(TEXTS)]


async def run(adapter, items, use_async, query=QUERY):
    if isinstance(adapter, TextPrunerCompressor):
        if use_async:
            return await adapter.acompress_documents(items, query)
        return adapter.compress_documents(items, query)
    if use_async:
        return await adapter.apostprocess_nodes(items, query_bundle=QueryBundle(query))
    return adapter.postprocess_nodes(items, query_bundle=QueryBundle(query))


def make_items(adapter_class, extra=None):
    return make_docs(extra) if adapter_class is TextPrunerCompressor else make_nodes(extra)


def warnings_of(caplog):
    return [r for r in caplog.records if r.name.startswith(LOGGER) and r.levelno == logging.WARNING]


# -- on_error ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("adapter_class", ADAPTERS)
@pytest.mark.parametrize("use_async", [False, True])
async def test_raise_is_the_default(adapter_class, use_async):
    adapter = adapter_class(pruner=BrokenPruner())
    assert adapter.on_error == "raise"
    with pytest.raises(RuntimeError, match="out of memory"):
        await run(adapter, make_items(adapter_class), use_async)


@pytest.mark.parametrize("adapter_class", ADAPTERS)
@pytest.mark.parametrize("use_async", [False, True])
async def test_passthrough_returns_the_input_when_the_model_run_fails(adapter_class, use_async, caplog):
    items = make_items(adapter_class)
    before = copy.deepcopy(items)
    adapter = adapter_class(pruner=BrokenPruner(), on_error="passthrough", top_n=1)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        out = await run(adapter, items, use_async)
    assert out == before  # every item, in input order, ids and metadata untouched, top_n not applied
    assert all(a is b for a, b in zip(out, items))
    assert out is not items
    [record] = warnings_of(caplog)
    message = record.getMessage()
    assert "RuntimeError" in message and "out of memory" in message and "passthrough" in message
    assert f"{len(items)} " in message


@pytest.mark.parametrize("adapter_class", ADAPTERS)
@pytest.mark.parametrize("use_async", [False, True])
async def test_passthrough_when_loading_the_model_fails(adapter_class, use_async, tmp_path, caplog):
    adapter = adapter_class(model=str(tmp_path / "no-such-model"), on_error="passthrough")
    items = make_items(adapter_class)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        out = await run(adapter, items, use_async)
    assert out == items
    [record] = warnings_of(caplog)
    assert "no-such-model" in record.getMessage()
    with pytest.raises(FileNotFoundError, match="no-such-model"):
        await run(adapter_class(model=str(tmp_path / "no-such-model")), items, use_async)


@pytest.mark.parametrize("adapter_class", ADAPTERS)
async def test_passthrough_does_not_hide_caller_errors(adapter_class):
    adapter = adapter_class(pruner=BrokenPruner(), on_error="passthrough")
    with pytest.raises(ValueError, match="query"):
        await run(adapter, make_items(adapter_class), False, query="  ")
    if adapter_class is TextPrunerPostprocessor:
        with pytest.raises(ValueError, match="needs the query"):
            adapter.postprocess_nodes(make_nodes())


@pytest.mark.parametrize("adapter_class", ADAPTERS)
async def test_passthrough_changes_nothing_when_the_model_works(adapter_class, fake_pruner):
    items = make_items(adapter_class)
    plain = await run(adapter_class(pruner=FakePruner()), items, False)
    tolerant = await run(adapter_class(pruner=fake_pruner, on_error="passthrough"), items, False)
    assert [getattr(x, "page_content", None) or x.node.get_content() for x in tolerant] == \
           [getattr(x, "page_content", None) or x.node.get_content() for x in plain]


@pytest.mark.parametrize("adapter_class", ADAPTERS)
def test_on_error_is_validated(adapter_class):
    with pytest.raises(ValidationError, match="on_error"):
        adapter_class(on_error="ignore")


# -- metadata that cannot be copied (case 3) -------------------------------------------------------------
class Client:
    """Stands for an API client: refuses to be copied."""

    def __deepcopy__(self, memo):
        raise TypeError("cannot copy a client")


@pytest.mark.parametrize("adapter_class", ADAPTERS)
@pytest.mark.parametrize("use_async", [False, True])
async def test_uncopyable_metadata_is_shared_not_copied(adapter_class, use_async, fake_pruner):
    lock, client = threading.Lock(), Client()
    items = make_items(adapter_class, {"lock": lock, "client": client, "tags": ["a"]})
    out = await run(adapter_class(pruner=fake_pruner, keep_original=True), items, use_async)
    assert out
    for item in out:
        metadata = item.metadata
        assert metadata["lock"] is lock and metadata["client"] is client
        assert "compression_rate" in metadata
    originals = [i.metadata for i in items]
    assert all("compression_rate" not in m for m in originals)  # new dicts: the inputs are untouched
    assert all(set(m) == {"source", "lock", "client", "tags"} or set(m) == {"title", "lock", "client", "tags"}
               for m in originals)


def test_llama_index_copies_never_rewrite_text_resource_nodes(fake_pruner):
    node = Node(text_resource=MediaResource(text=TEXTS[0]), id_="n0", metadata={"lock": threading.Lock()})
    [out] = TextPrunerPostprocessor(pruner=fake_pruner).postprocess_nodes(
        [NodeWithScore(node=node, score=0.2)], query_str=QUERY)
    assert out.node.get_content() == "He moved to New York in 1884. "
    assert node.get_content() == TEXTS[0]
    assert "retrieval_score" not in node.metadata and "retrieval_score" not in node.excluded_llm_metadata_keys


# -- construction-time errors (case 6) ----------------------------------------------------------------------
@pytest.mark.parametrize("adapter_class", ADAPTERS)
@pytest.mark.parametrize("pruner", [object(), "path/to/model", 42])
def test_pruner_must_be_a_pruner(adapter_class, pruner):
    with pytest.raises(TypeError, match="`pruner` must be a loaded pruner"):
        adapter_class(pruner=pruner)


@pytest.mark.parametrize("adapter_class", ADAPTERS)
@pytest.mark.parametrize("device", ["quantum", "cuda:99", "gpu", ""])
def test_device_is_checked_at_construction(adapter_class, device, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="device"):
        adapter_class(device=device)


@pytest.mark.parametrize("adapter_class", ADAPTERS)
@pytest.mark.parametrize("option", ["threshold", "score_threshold"])
def test_bool_thresholds_are_rejected(adapter_class, option):
    with pytest.raises(ValidationError, match=option):
        adapter_class(**{option: True})


@pytest.mark.parametrize("adapter_class", ADAPTERS)
@pytest.mark.parametrize(("option", "value"), [("top_n", True), ("min_sentences", True), ("batch_size", True),
                                               ("keep_ratio", True), ("context_token_budget", True),
                                               ("token_budget", True), ("score_threshold", float("nan"))])
def test_other_loose_values_are_rejected(adapter_class, option, value):
    with pytest.raises(ValidationError, match=option):
        adapter_class(**{option: value})


def test_cross_encoder_checks_pruner_and_device_at_construction(monkeypatch):
    import torch

    from text_pruner_rag.integrations.langchain import TextPrunerCrossEncoder

    with pytest.raises(TypeError, match="`pruner` must be a loaded TextPruner"):
        TextPrunerCrossEncoder(pruner=object())
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="device"):
        TextPrunerCrossEncoder(device="cuda")
