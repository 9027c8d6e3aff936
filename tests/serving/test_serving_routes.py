"""The routes against the embedded default model, served in-process: answers equal the Python API's."""

from __future__ import annotations

import io
import json
import math
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

QUERY = "Who designed the Eiffel Tower?"
DOCS = [
    "Bananas are rich in potassium. They grow in the tropics.",
    "The Eiffel Tower is a wrought-iron lattice tower in Paris. It was designed by Gustave Eiffel's company "
    "and built from 1887 to 1889. The tower is 330 metres tall.",
    "",
    "Paris is the capital of France. The Louvre is a museum.",
    "   ",
]


def _scores_by_index(rows, key):
    return {row["index"]: row[key] for row in rows}


def test_health_and_info(client, default_pruner):
    assert client.get("/health").json() == {"status": "ok"}
    info = client.get("/info").json()
    assert info["model"] == "text-pruner-minilm-l6-en"
    assert re.fullmatch(r"[0-9a-f]{16}", info["weights_sha256"])
    assert info["default_threshold"] == default_pruner.default_threshold
    assert info["backend"] == "torch" and info["quantize"] is None
    assert info["routes"] == {"ja": "text-pruner-e5-small-ja-en"}
    assert info["batching"]["max_wait_ms"] == 20.0


def test_rerank_equals_python_rerank(client, default_pruner):
    rows = client.post("/rerank", json={"query": QUERY, "texts": DOCS, "return_text": True}).json()
    expected = default_pruner.rerank(QUERY, DOCS)
    assert [r["index"] for r in rows] == [e.index for e in expected]  # best first, no-text contexts last
    for row, e in zip(rows, expected):
        assert row["text"] == DOCS[e.index]
        assert row["score"] == (None if not math.isfinite(e.score) else pytest.approx(e.score, abs=1e-5))


def test_rerank_raw_scores_are_logits(client):
    plain = _scores_by_index(client.post("/rerank", json={"query": QUERY, "texts": DOCS[:2]}).json(), "score")
    raw = client.post("/rerank", json={"query": QUERY, "texts": DOCS[:2], "raw_scores": True}).json()
    for row in raw:
        assert "text" not in row
        assert 1 / (1 + math.exp(-row["score"])) == pytest.approx(plain[row["index"]], abs=1e-6)


def test_cohere_sdk_rerank_equals_python_rerank(server, default_pruner):
    cohere = pytest.importorskip("cohere")
    co = cohere.ClientV2(api_key="unused", base_url=server.url)
    response = co.rerank(model="text-pruner-minilm-l6-en", query=QUERY, documents=DOCS[:4], top_n=3)
    expected = default_pruner.rerank(QUERY, DOCS[:4], top_n=3)
    assert [r.index for r in response.results] == [e.index for e in expected]
    for got, e in zip(response.results, expected):
        assert got.relevance_score == pytest.approx(e.score, abs=1e-5)


def test_cohere_relevant_spans_are_the_kept_sentences(server, default_pruner):
    cohere = pytest.importorskip("cohere")
    co = cohere.ClientV2(api_key="unused", base_url=server.url)
    response = co.rerank(model="m", query=QUERY, documents=DOCS[:2],
                         relevant_spans={"mode": "enabled", "threshold": 0.3, "max_spans": 2})
    results = default_pruner.prune_many(QUERY, DOCS[:2], threshold=0.3)
    for got in response.results:
        kept = sorted((s for s in results[got.index].sentences if s.kept), key=lambda s: -s.probability)[:2]
        spans = [(s.start, s.end, s.score) for s in got.relevant_spans or []]
        assert [(a, b) for a, b, _ in spans] == [(s.start, s.end) for s in kept]
        assert [c for _, _, c in spans] == pytest.approx([s.probability for s in kept], abs=1e-5)
    assert any(got.relevant_spans for got in response.results)


def test_prune_equals_cli_json(client, tmp_path, capsys):
    from text_pruner_rag.cli import main

    (tmp_path / "doc.txt").write_text(DOCS[1], encoding="utf-8")
    assert main(["prune", "--query", QUERY, str(tmp_path / "doc.txt"), "--json", "--threshold", "0.3",
                 "--min-sentences", "1"]) == 0
    cli = json.loads(capsys.readouterr().out)
    served = client.post("/prune", json={"query": QUERY, "contexts": [DOCS[1]], "threshold": 0.3,
                                         "min_sentences": 1}).json()["results"][0]
    assert served["score"] == pytest.approx(cli.pop("score"), abs=1e-5)
    for got, want in zip(served.pop("sentences"), cli.pop("sentences")):
        assert got.pop("probability") == pytest.approx(want.pop("probability"), abs=1e-5)
        assert got == want
    del served["score"]
    assert served == cli


def test_prune_all_options_equal_prune_many(client, default_pruner):
    options = dict(threshold=0.2, min_sentences=1, keep_first=True, keep_ratio=None, context_token_budget=40,
                   token_budget=30, language="en")
    contexts = [DOCS[1], ["Paris is the capital of France. ", "The Louvre is a museum."], DOCS[2]]
    served = client.post("/prune", json={"query": QUERY, "contexts": contexts, **options}).json()["results"]
    expected = default_pruner.prune_many(QUERY, contexts, **options)
    assert [s["pruned_text"] for s in served] == [e.pruned_text for e in expected]
    assert [s["compression_rate"] for s in served] == pytest.approx([e.compression_rate for e in expected])
    assert served[2]["score"] is None and served[0]["policy"]["token_budget"] == 30


def test_japanese_request_uses_the_routed_model(client, default_pruner):
    query = "エッフェル塔を設計したのは誰ですか？"
    texts = ["エッフェル塔はパリにある鉄塔です。ギュスターヴ・エッフェルの会社が設計しました。", "バナナはカリウムが豊富です。"]
    rows = client.post("/rerank", json={"query": query, "texts": texts}).json()
    expected = default_pruner.rerank(query, texts)
    assert [r["index"] for r in rows] == [e.index for e in expected]
    assert [r["score"] for r in rows] == pytest.approx([e.score if math.isfinite(e.score) else None for e in expected], abs=1e-5)


def test_concurrent_requests_equal_sequential_answers(client, default_pruner):
    queries = ["Who designed the Eiffel Tower?", "What is rich in potassium?", "What is the capital of France?",
               "How tall is the tower?"] * 3

    def ask(i):
        if i % 2:
            return client.post("/prune", json={"query": queries[i], "contexts": DOCS[:2]}).json()["results"]
        return client.post("/rerank", json={"query": queries[i], "texts": DOCS[:4]}).json()

    before = client.get("/info").json()["batches_run"]
    with ThreadPoolExecutor(len(queries)) as pool:
        answers = list(pool.map(ask, range(len(queries))))
    batches = client.get("/info").json()["batches_run"] - before
    for i, answer in enumerate(answers):
        if i % 2:
            expected = default_pruner.prune_many(queries[i], DOCS[:2])
            assert [a["pruned_text"] for a in answer] == [e.pruned_text for e in expected]
        else:
            expected = default_pruner.rerank(queries[i], DOCS[:4])
            assert [a["index"] for a in answer] == [e.index for e in expected]
            assert [a["score"] for a in answer] == pytest.approx([e.score if math.isfinite(e.score) else None for e in expected], abs=1e-5)
    assert 1 <= batches <= len(queries)
