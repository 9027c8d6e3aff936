"""Titles in the adapters: read from a metadata key, scored with the document, never added to its text."""

from __future__ import annotations

import asyncio

import pytest
from fake_pruner import QUERY, TEXTS

from langchain_core.documents import Document
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from text_pruner_rag.integrations.langchain import TextPrunerCompressor
from text_pruner_rag.integrations.llama_index import TextPrunerPostprocessor

TITLES = ["Nikola Tesla", None, 42, "  "]  # a str, no key, not a str, no text


def _docs(key="title"):
    return [Document(page_content=t, metadata={} if title is None else {key: title})
            for t, title in zip(TEXTS, TITLES)]


def test_langchain_passes_each_documents_title(fake_pruner):
    out = TextPrunerCompressor(pruner=fake_pruner, on_empty="keep").compress_documents(_docs(), QUERY)
    assert fake_pruner.calls[-1]["title"] == ["Nikola Tesla", None, None, None]
    assert out and all("Nikola" not in d.page_content for d in out)  # the title is never added to the text
    assert all(d.metadata.get("title") in TITLES for d in out)


def test_langchain_title_key_can_be_renamed_or_turned_off(fake_pruner):
    TextPrunerCompressor(pruner=fake_pruner, title_key="heading").compress_documents(_docs("heading"), QUERY)
    assert fake_pruner.calls[-1]["title"][0] == "Nikola Tesla"
    TextPrunerCompressor(pruner=fake_pruner, title_key=None).compress_documents(_docs(), QUERY)
    assert fake_pruner.calls[-1]["title"] is None
    TextPrunerCompressor(pruner=fake_pruner).compress_documents(_docs("heading"), QUERY)
    assert fake_pruner.calls[-1]["title"] is None  # no document has the key: no title= at all


def test_langchain_async_passes_titles_too(fake_pruner):
    compressor = TextPrunerCompressor(pruner=fake_pruner)
    asyncio.run(compressor.acompress_documents(_docs(), QUERY))
    assert fake_pruner.calls[-1]["title"][0] == "Nikola Tesla"


def test_llama_index_reads_the_node_metadata_key(fake_pruner):
    nodes = [NodeWithScore(node=TextNode(text=t, metadata={} if title is None else {"title": title}), score=1.0)
             for t, title in zip(TEXTS, TITLES)]
    post = TextPrunerPostprocessor(pruner=fake_pruner, on_empty="keep")
    out = post.postprocess_nodes(nodes, QueryBundle(QUERY))
    assert fake_pruner.calls[-1]["title"] == ["Nikola Tesla", None, None, None]
    assert out and all("Nikola" not in n.node.text for n in out)
    asyncio.run(post.apostprocess_nodes(nodes, QueryBundle(QUERY)))
    assert fake_pruner.calls[-1]["title"][0] == "Nikola Tesla"
    TextPrunerPostprocessor(pruner=fake_pruner, title_key=None).postprocess_nodes(nodes, QueryBundle(QUERY))
    assert fake_pruner.calls[-1]["title"] is None


def test_the_real_pruner_reads_the_title(tiny_pruner):
    docs = [Document(page_content=TEXTS[0], metadata={"title": "Nikola Tesla"})]
    out = TextPrunerCompressor(pruner=tiny_pruner, threshold=0.0).compress_documents(docs, QUERY)
    expected = tiny_pruner.prune_many(QUERY, [TEXTS[0]], threshold=0.0, title="Nikola Tesla")[0]
    untitled = tiny_pruner.prune_many(QUERY, [TEXTS[0]], threshold=0.0)[0]
    assert out[0].page_content == TEXTS[0] == expected.pruned_text
    assert out[0].metadata["relevance_score"] == pytest.approx(expected.score)
    assert expected.score != untitled.score


def test_always_select_title_is_a_strict_adapter_option(fake_pruner):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="always_select_title"):
        TextPrunerCompressor(pruner=fake_pruner, always_select_title="yes")
    compressor = TextPrunerCompressor(pruner=fake_pruner, always_select_title=False)
    assert compressor.pruning_policy.always_select_title is False
