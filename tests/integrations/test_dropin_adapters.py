"""Adapters as drop-ins: TextPrunerCrossEncoder in LangChain's CrossEncoderReranker, the token budget
across documents, LangChain callbacks, and serialization that keeps the model."""

from __future__ import annotations

import json

import pytest
from fake_pruner import QUERY, TEXTS, FakePruner

from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_classic.retrievers.document_compressors import CrossEncoderReranker
from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler, CallbackManagerForRetrieverRun
from langchain_core.cross_encoders import BaseCrossEncoder
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from text_pruner_rag import TextPruner
from text_pruner_rag.integrations.langchain import TextPrunerCompressor, TextPrunerCrossEncoder
from text_pruner_rag.integrations.llama_index import TextPrunerPostprocessor

CORPUS = [
    "Marie Curie was a physicist born in Warsaw. In 1911 she won her second Nobel Prize, in Chemistry.",
    "The Rhine rises in the Swiss Alps. It reaches the North Sea in the Netherlands.",
    "",
    "Oxygen is a chemical element. It was discovered in the 1770s. It makes up a fifth of the air.",
    "The Apollo program landed humans on the Moon in 1969. Neil Armstrong walked on the surface.",
]
QUESTION = "When did Marie Curie win her second Nobel Prize?"


class ListRetriever(BaseRetriever):
    """Returns the same documents for every query."""

    docs: list[Document]

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return list(self.docs)


def corpus_docs() -> list[Document]:
    return [Document(page_content=t, id=f"d{i}") for i, t in enumerate(CORPUS)]


def make_docs() -> list[Document]:
    return [Document(page_content=t, id=f"doc-{i}") for i, t in enumerate(TEXTS)]


def words(texts) -> int:
    return sum(len(t.split()) for t in texts)


# -- TextPrunerCrossEncoder ---------------------------------------------------------------------------
def test_cross_encoder_in_a_real_cross_encoder_reranker_pipeline(tiny_pruner):
    encoder = TextPrunerCrossEncoder(pruner=tiny_pruner)
    assert isinstance(encoder, BaseCrossEncoder)
    retriever = ContextualCompressionRetriever(
        base_compressor=CrossEncoderReranker(model=encoder, top_n=3),
        base_retriever=ListRetriever(docs=corpus_docs()),
    )
    out = retriever.invoke(QUESTION)
    expected = [f"d{r['corpus_id']}" for r in tiny_pruner.rank(QUESTION, CORPUS, top_k=3)]
    assert [d.id for d in out] == expected
    assert [d.page_content for d in out] == [CORPUS[int(i[1:])] for i in expected]  # reranked, not pruned


async def test_cross_encoder_reranker_async(tiny_pruner):
    retriever = ContextualCompressionRetriever(
        base_compressor=CrossEncoderReranker(model=TextPrunerCrossEncoder(pruner=tiny_pruner), top_n=2),
        base_retriever=ListRetriever(docs=corpus_docs()),
    )
    assert [d.id for d in await retriever.ainvoke(QUESTION)] == [d.id for d in retriever.invoke(QUESTION)]


def test_cross_encoder_scores_are_predict_scores(tiny_pruner):
    encoder = TextPrunerCrossEncoder(pruner=tiny_pruner, batch_size=2)
    pairs = [(QUESTION, t) for t in CORPUS] + [("Where is the Rhine?", CORPUS[1])]
    scores = encoder.score(pairs)
    assert isinstance(scores, list) and all(type(s) is float for s in scores)
    assert scores == tiny_pruner.predict(pairs, batch_size=2).tolist()
    assert scores[2] == float("-inf")  # no text: ranked last
    assert encoder.score([]) == []


def test_cross_encoder_loads_its_model_lazily(tiny_model_dir):
    encoder = TextPrunerCrossEncoder(str(tiny_model_dir), device="cpu")
    assert encoder._pruner is None
    assert len(encoder.score([(QUESTION, CORPUS[0])])) == 1
    assert encoder.pruner.name_or_path == str(tiny_model_dir)
    assert repr(encoder) == f"TextPrunerCrossEncoder(model={str(tiny_model_dir)!r})"


def test_cross_encoder_options_are_checked(tiny_pruner):
    with pytest.raises(ValueError, match="either `pruner`"):
        TextPrunerCrossEncoder("some/model", pruner=tiny_pruner)
    with pytest.raises(ValueError, match="batch_size"):
        TextPrunerCrossEncoder(batch_size=0)
    with pytest.raises(ValueError, match="query"):
        TextPrunerCrossEncoder(pruner=tiny_pruner).score([("", "text")])


# -- token budget in the adapters -------------------------------------------------------------------
def budgeted(pruner, budget, **options):
    out = TextPrunerCompressor(pruner=pruner, token_budget=budget, **options).compress_documents(make_docs(), QUERY)
    return [(d.id, d.page_content) for d in out]


def test_compressor_token_budget_fits_keeps_order_and_drops_empty_documents(fake_pruner):
    # Fake pruner, threshold 0.3, one token per word. Kept sentences (probability, words):
    # doc-0 "Tesla was born in Smiljan. " (1/3, 5), "He moved to New York in 1884. " (2/3, 7);
    # doc-2 "New buildings rise there." (1/3, 4); doc-3 "Tesla lived in New Orleans briefly. " (2/3, 6).
    # Document scores: doc-0 1.0 > doc-3 2/3 > doc-2 1/3.
    both = "Tesla was born in Smiljan. He moved to New York in 1884. "
    # 12: the 2/3 tie goes to doc-0 (higher score, 7 words); doc-3's (6) no longer fits, doc-0's 1/3 (5) does
    assert budgeted(fake_pruner, 12, threshold=0.3) == [("doc-0", both)]
    # 16: both 2/3 sentences (13); neither 1/3 sentence fits; doc-2 is left empty and dropped
    assert budgeted(fake_pruner, 16, threshold=0.3) == [
        ("doc-0", "He moved to New York in 1884. "), ("doc-3", "Tesla lived in New Orleans briefly. ")]
    # 17: doc-2's 4 words fit after the 5-word sentence was skipped
    assert budgeted(fake_pruner, 17, threshold=0.3) == [
        ("doc-0", "He moved to New York in 1884. "), ("doc-3", "Tesla lived in New Orleans briefly. "),
        ("doc-2", "New buildings rise there.")]
    for budget in (0, 3, 7, 12, 16, 17, 22):
        assert words(text for _, text in budgeted(fake_pruner, budget, threshold=0.3)) <= budget
    unlimited = TextPrunerCompressor(pruner=fake_pruner, threshold=0.3).compress_documents(make_docs(), QUERY)
    assert budgeted(fake_pruner, 1000, threshold=0.3) == [(d.id, d.page_content) for d in unlimited]
    assert budgeted(fake_pruner, 0) == []
    out = TextPrunerCompressor(pruner=fake_pruner, threshold=0.3, token_budget=16).compress_documents(make_docs(), QUERY)
    assert out[0].metadata["compression_rate"] == pytest.approx(1 - len(out[0].page_content) / len(TEXTS[0]))
    assert out[0].metadata["relevance_score"] == 1.0
    in_order = budgeted(fake_pruner, 17, threshold=0.3, reorder=False)
    assert [i for i, _ in in_order] == ["doc-0", "doc-2", "doc-3"]


def test_compressor_token_budget_is_spent_after_top_n():
    pruner = FakePruner(scores={TEXTS[2]: 5.0})  # doc-2 ranks first
    # top_n=1 keeps doc-2 alone; the 7 tokens are not spent on doc-0's more probable sentence first
    assert budgeted(pruner, 7, threshold=0.3, top_n=1) == [("doc-2", "New buildings rise there.")]
    assert budgeted(pruner, 3, threshold=0.3, top_n=1) == []


def test_compressor_token_budget_with_on_empty(fake_pruner):
    # threshold 0.5 keeps only the two 2/3 sentences; with on_empty="keep" doc-1 and doc-2 compete whole:
    # doc-0's (7) fits, doc-3's (6) not, doc-2's "New buildings rise there." (1/3, 4) fits; nothing else does
    assert budgeted(fake_pruner, 12, on_empty="keep") == [
        ("doc-0", "He moved to New York in 1884. "), ("doc-2", "New buildings rise there.")]
    # on_empty="best_sentence": doc-1's best is its first sentence (ties), doc-2's "New buildings rise there."
    # 12: doc-0's (7), not doc-3's (6), then doc-2's (4); doc-1's best (probability 0, 5 words) does not fit
    assert budgeted(fake_pruner, 12, on_empty="best_sentence") == [
        ("doc-0", "He moved to New York in 1884. "), ("doc-2", "New buildings rise there.")]
    assert budgeted(fake_pruner, 22, on_empty="best_sentence") == budgeted(fake_pruner, None, on_empty="best_sentence")
    assert len(budgeted(fake_pruner, 21, on_empty="best_sentence")) == 3
    assert budgeted(fake_pruner, 1000, on_empty="keep") == budgeted(fake_pruner, None, on_empty="keep")


def test_compressor_token_budget_with_a_real_pruner(tiny_pruner):
    docs = [Document(page_content=t) for t in CORPUS * 3]
    unlimited = TextPrunerCompressor(pruner=tiny_pruner, threshold=0.0).compress_documents(docs, QUESTION)
    total = sum(tiny_pruner.count_tokens([d.page_content for d in unlimited]))
    budget = total // 3
    out = TextPrunerCompressor(pruner=tiny_pruner, threshold=0.0, token_budget=budget).compress_documents(
        docs, QUESTION)
    assert 0 < sum(tiny_pruner.count_tokens([d.page_content for d in out])) <= budget
    assert len(out) <= len(unlimited)


def test_postprocessor_token_budget(fake_pruner):
    nodes = [NodeWithScore(node=TextNode(text=t, id_=f"node-{i}"), score=0.1) for i, t in enumerate(TEXTS)]
    postprocessor = TextPrunerPostprocessor(pruner=fake_pruner, threshold=0.3, token_budget=16)
    out = postprocessor.postprocess_nodes(nodes, query_bundle=QueryBundle(QUERY))
    assert [(n.node.node_id, n.node.get_content()) for n in out] == [
        ("node-0", "He moved to New York in 1884. "), ("node-3", "Tesla lived in New Orleans briefly. ")]
    assert [n.score for n in out] == [1.0, pytest.approx(2 / 3)]
    assert out[0].node.metadata["compression_rate"] == pytest.approx(1 - len(out[0].node.get_content()) / len(TEXTS[0]))
    assert [n.node.get_content() for n in nodes] == TEXTS  # shared nodes untouched


def test_token_budget_is_validated():
    with pytest.raises(ValueError):
        TextPrunerCompressor(token_budget=-1)
    with pytest.raises(ValueError):
        TextPrunerPostprocessor(token_budget=-1)


# -- LangChain callbacks -------------------------------------------------------------------------------
class Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def on_retriever_start(self, serialized, query, *, run_id, parent_run_id=None, **kwargs):
        self.events.append(("retriever_start", run_id, parent_run_id, None))

    def on_chain_start(self, serialized, inputs, *, run_id, parent_run_id=None, **kwargs):
        self.events.append(("chain_start", run_id, parent_run_id, (kwargs.get("name"), inputs, kwargs.get("metadata"))))

    def on_chain_end(self, outputs, *, run_id, parent_run_id=None, **kwargs):
        self.events.append(("chain_end", run_id, parent_run_id, outputs))

    def on_chain_error(self, error, *, run_id, parent_run_id=None, **kwargs):
        self.events.append(("chain_error", run_id, parent_run_id, error))


class AsyncRecorder(AsyncCallbackHandler):
    def __init__(self) -> None:
        self.events: list[tuple] = []

    async def on_chain_start(self, serialized, inputs, *, run_id, parent_run_id=None, **kwargs):
        self.events.append(("chain_start", run_id, kwargs.get("name")))

    async def on_chain_end(self, outputs, *, run_id, parent_run_id=None, **kwargs):
        self.events.append(("chain_end", run_id, outputs))


def test_compressor_run_is_reported_to_callbacks(fake_pruner):
    recorder = Recorder()
    compressor = TextPrunerCompressor(pruner=fake_pruner, top_n=2)
    out = compressor.compress_documents(make_docs(), QUERY, callbacks=[recorder])
    (start, run_id, _, (name, inputs, metadata)), (end, end_id, _, outputs) = recorder.events
    assert (start, end, name, end_id) == ("chain_start", "chain_end", "TextPrunerCompressor", run_id)
    assert inputs["query"] == QUERY and [d.id for d in inputs["documents"]] == [f"doc-{i}" for i in range(4)]
    assert metadata["top_n"] == 2
    assert outputs == {"documents": out}


def test_compressor_run_is_a_child_of_the_retriever_run(fake_pruner):
    recorder = Recorder()
    retriever = ContextualCompressionRetriever(
        base_compressor=TextPrunerCompressor(pruner=fake_pruner), base_retriever=ListRetriever(docs=make_docs())
    )
    out = retriever.invoke(QUERY, config={"callbacks": [recorder]})
    retriever_run = next(e[1] for e in recorder.events if e[0] == "retriever_start")
    chain = [e for e in recorder.events if e[0] == "chain_start"]
    assert len(chain) == 1 and chain[0][3][0] == "TextPrunerCompressor"
    assert chain[0][2] == retriever_run  # parent run: the retriever's
    assert [e for e in recorder.events if e[0] == "chain_end"][0][3] == {"documents": out}


def test_compressor_error_is_reported_and_raised():
    class Broken(FakePruner):
        def prune_many(self, *args, **kwargs):
            raise RuntimeError("model failed")

    recorder = Recorder()
    with pytest.raises(RuntimeError, match="model failed"):
        TextPrunerCompressor(pruner=Broken()).compress_documents(make_docs(), QUERY, callbacks=[recorder])
    assert [e[0] for e in recorder.events] == ["chain_start", "chain_error"]
    assert str(recorder.events[1][3]) == "model failed"


async def test_async_compressor_reports_to_callbacks(fake_pruner):
    recorder = AsyncRecorder()
    out = await TextPrunerCompressor(pruner=fake_pruner).acompress_documents(make_docs(), QUERY, callbacks=[recorder])
    assert [(e[0], e[2] if e[0] == "chain_start" else None) for e in recorder.events] == [
        ("chain_start", "TextPrunerCompressor"), ("chain_end", None)]
    assert recorder.events[1][2] == {"documents": out}


# -- serialization keeps the model ---------------------------------------------------------------------
def test_langchain_model_dump_records_and_restores_the_model(tiny_pruner, tiny_model_dir):
    docs = [Document(page_content=t) for t in CORPUS]
    from_pruner = TextPrunerCompressor(pruner=tiny_pruner, top_n=2, threshold=0.3)
    data = from_pruner.model_dump()
    assert data["model"] == str(tiny_model_dir) and data["top_n"] == 2
    restored = TextPrunerCompressor(**data)
    assert restored.model == str(tiny_model_dir) and restored._pruner is None
    assert restored.compress_documents(docs, QUESTION) == from_pruner.compress_documents(docs, QUESTION)
    assert restored.pruner.name_or_path == str(tiny_model_dir)
    assert TextPrunerCompressor.model_validate_json(from_pruner.model_dump_json()).model == str(tiny_model_dir)
    assert TextPrunerCompressor(model="org/name").model_dump()["model"] == "org/name"
    assert TextPrunerCompressor().model_dump()["model"] is None  # the embedded default


def test_llama_index_to_dict_records_and_restores_the_model(tiny_pruner, tiny_model_dir):
    postprocessor = TextPrunerPostprocessor(pruner=tiny_pruner, top_n=2)
    data = postprocessor.to_dict()
    assert data["model"] == str(tiny_model_dir) and data["class_name"] == "TextPrunerPostprocessor"
    restored = TextPrunerPostprocessor.from_dict(data)
    assert restored.model == str(tiny_model_dir) and restored.top_n == 2
    nodes = [NodeWithScore(node=TextNode(text=t, id_=f"n{i}")) for i, t in enumerate(CORPUS)]
    got = restored.postprocess_nodes(nodes, query_str=QUESTION)
    want = postprocessor.postprocess_nodes(nodes, query_str=QUESTION)
    assert [(n.node.node_id, n.node.get_content(), n.score) for n in got] == \
        [(n.node.node_id, n.node.get_content(), n.score) for n in want]
    assert json.loads(postprocessor.to_json())["model"] == str(tiny_model_dir)
    assert TextPrunerPostprocessor.from_json(postprocessor.to_json()).model == str(tiny_model_dir)


def test_embedded_default_pruner_serializes_by_name():
    default = TextPruner.from_pretrained(device="cpu")
    data = TextPrunerCompressor(pruner=default).model_dump()
    assert data["model"] == "text-pruner-minilm-l6-en"
    assert TextPrunerCompressor(**data).pruner.name_or_path == "text-pruner-minilm-l6-en"


def test_in_memory_pruner_cannot_be_serialized(tiny_pruner, fake_pruner):
    in_memory = TextPruner(tiny_pruner.model, tiny_pruner.tokenizer, device="cpu")
    for pruner in (in_memory, fake_pruner):
        compressor = TextPrunerCompressor(pruner=pruner)
        with pytest.raises(ValueError, match="built in memory"):
            compressor.model_dump()
        with pytest.raises(ValueError, match="built in memory"):
            compressor.model_dump_json()
        postprocessor = TextPrunerPostprocessor(pruner=pruner)
        with pytest.raises(ValueError, match="built in memory"):
            postprocessor.to_dict()
        with pytest.raises(ValueError, match="built in memory"):
            postprocessor.to_json()
    # ... but it still works
    assert TextPrunerCompressor(pruner=in_memory).compress_documents([Document(page_content=CORPUS[0])], QUESTION) \
        is not None


# -- rerank only ---------------------------------------------------------------------------------------
def test_prune_false_reranks_without_pruning(tiny_pruner):
    expected = [i for i in (r["corpus_id"] for r in tiny_pruner.rank(QUESTION, CORPUS, top_k=3))]
    docs = [Document(page_content=t, id=f"d{i}") for i, t in enumerate(CORPUS)]
    out = TextPrunerCompressor(pruner=tiny_pruner, prune=False, top_n=3, threshold=1.0).compress_documents(
        docs, QUESTION)
    assert [d.id for d in out] == [f"d{i}" for i in expected]
    assert [d.page_content for d in out] == [CORPUS[i] for i in expected]
    assert all(d.metadata["compression_rate"] == 0.0 for d in out)
    nodes = [NodeWithScore(node=TextNode(text=t, id_=f"n{i}"), score=0.0) for i, t in enumerate(CORPUS)]
    got = TextPrunerPostprocessor(pruner=tiny_pruner, prune=False, top_n=3, threshold=1.0).postprocess_nodes(
        nodes, query_str=QUESTION)
    assert [n.node.node_id for n in got] == [f"n{i}" for i in expected]
    assert [n.node.get_content() for n in got] == [CORPUS[i] for i in expected]
    assert [n.score for n in got] == [pytest.approx(s) for s in tiny_pruner.predict(
        [(QUESTION, CORPUS[i]) for i in expected]).tolist()]


def test_prune_false_with_token_budget_cuts_sentences(fake_pruner):
    # whole documents compete sentence by sentence: doc-0's 2/3 sentence (7 words) and doc-3's (6)
    assert budgeted(fake_pruner, 13, prune=False, threshold=0.9) == [
        ("doc-0", "He moved to New York in 1884. "), ("doc-3", "Tesla lived in New Orleans briefly. ")]
    assert budgeted(fake_pruner, 1000, prune=False) == [
        ("doc-0", TEXTS[0]), ("doc-3", TEXTS[3]), ("doc-2", TEXTS[2]), ("doc-1", TEXTS[1])]


def test_default_model_cross_encoder_reranker_puts_the_answer_first():
    encoder = TextPrunerCrossEncoder(device="cpu")  # the embedded default model, loaded on first use
    retriever = ContextualCompressionRetriever(
        base_compressor=CrossEncoderReranker(model=encoder, top_n=3), base_retriever=ListRetriever(docs=corpus_docs())
    )
    out = retriever.invoke(QUESTION)
    assert len(out) == 3 and out[0].id == "d0"  # the Marie Curie passage
    assert encoder.pruner.name_or_path == "text-pruner-minilm-l6-en"
    budgeted_docs = TextPrunerCompressor(pruner=encoder.pruner, token_budget=25).compress_documents(
        corpus_docs(), QUESTION)
    assert sum(encoder.pruner.count_tokens([d.page_content for d in budgeted_docs])) <= 25
    assert budgeted_docs and "1911" in budgeted_docs[0].page_content


def test_compressor_run_appears_in_a_langchain_trace(fake_pruner):
    from langchain_core.tracers.context import collect_runs

    retriever = ContextualCompressionRetriever(
        base_compressor=TextPrunerCompressor(pruner=fake_pruner, top_n=1), base_retriever=ListRetriever(docs=make_docs())
    )
    with collect_runs() as collector:
        out = retriever.invoke(QUERY)
    [root] = collector.traced_runs
    assert root.run_type == "retriever"
    compressor_runs = [run for run in root.child_runs if run.name == "TextPrunerCompressor"]
    assert len(compressor_runs) == 1
    run = compressor_runs[0]
    assert run.run_type == "chain" and run.error is None and run.end_time is not None
    assert run.inputs["query"] == QUERY and len(run.inputs["documents"]) == len(TEXTS)
    assert [d.id for d in run.outputs["documents"]] == [d.id for d in out] == ["doc-0"]


def test_cross_encoder_is_importable_from_the_integrations_package():
    import text_pruner_rag.integrations as integrations

    assert integrations.TextPrunerCrossEncoder is TextPrunerCrossEncoder


@pytest.mark.parametrize("adapter", [TextPrunerCompressor, TextPrunerPostprocessor])
def test_both_adapters_take_every_policy_option(adapter):
    from text_pruner_rag.policy import PruningPolicy

    assert {"policy", *PruningPolicy.option_names()} <= set(adapter.model_fields)


def test_adapters_prune_like_the_pruner_with_the_same_policy(tiny_pruner):
    from text_pruner_rag.policy import PruningPolicy

    policy = PruningPolicy(threshold=0.5, min_sentences=1, keep_first=True)
    results = tiny_pruner.prune_many(QUESTION, CORPUS, policy=policy)
    expected = {f"d{i}": r.pruned_text for i, r in enumerate(results) if r.pruned_text}
    assert len(expected) == 4  # every document with text keeps at least one sentence (min_sentences=1)
    docs = TextPrunerCompressor(pruner=tiny_pruner, policy=policy, reorder=False).compress_documents(
        corpus_docs(), QUESTION)
    assert {d.id: d.page_content for d in docs} == expected
    nodes = [NodeWithScore(node=TextNode(text=t, id_=f"d{i}")) for i, t in enumerate(CORPUS)]
    out = TextPrunerPostprocessor(pruner=tiny_pruner, policy=policy, reorder=False).postprocess_nodes(
        nodes, QueryBundle(QUESTION))
    assert {n.node.node_id: n.node.get_content() for n in out} == expected


def test_policy_survives_serialization():
    from text_pruner_rag.policy import PruningPolicy

    policy = PruningPolicy(threshold=0.2, keep_ratio=0.5, context_token_budget=30)
    postprocessor = TextPrunerPostprocessor(model="org/m", policy=policy, min_sentences=1)
    assert TextPrunerPostprocessor.from_json(postprocessor.to_json()).pruning_policy == postprocessor.pruning_policy
    compressor = TextPrunerCompressor(model="org/m", policy=policy, min_sentences=1)
    restored = TextPrunerCompressor.model_validate_json(compressor.model_dump_json())
    assert restored.pruning_policy == compressor.pruning_policy == PruningPolicy(
        threshold=0.2, min_sentences=1, keep_ratio=0.5, context_token_budget=30)
