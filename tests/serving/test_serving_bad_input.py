"""Bad input gets a 4xx with a clear message (the Python API's checks), never a 500; size limits give 413."""

from __future__ import annotations

import json

import pytest

from text_pruner_rag.serving import ServerLimits, create_app

LIMITS = ServerLimits(max_body_bytes=20_000, max_texts=5, max_characters=5_000)


@pytest.fixture(scope="module")
def api(tiny_pruner):
    from fastapi.testclient import TestClient

    with TestClient(create_app(tiny_pruner, max_wait_ms=0, limits=LIMITS), raise_server_exceptions=False) as client:
        yield client


OK = {"/rerank": {"query": "q", "texts": ["a b. c d."]}, "/v2/rerank": {"query": "q", "documents": ["a b. c d."]},
      "/prune": {"query": "q", "contexts": ["a b. c d."]}}

CASES = [  # route, change to the valid body, status, the error message (exact, or a fragment after "~")
    ("/rerank", {"query": ""}, 422, "`query` must not be empty"),
    ("/v2/rerank", {"query": " \n"}, 422, "`query` must not be empty"),
    ("/prune", {"query": "\t"}, 422, "`query` must not be empty"),
    ("/rerank", {"query": 5}, 422, "invalid request: query: Input should be a valid string"),
    ("/rerank", {"texts": "abc"}, 422, "invalid request: texts: Input should be a valid list"),
    ("/rerank", {"texts": [1]}, 422, "invalid request: texts.0: Input should be a valid string"),
    ("/rerank", {"texts": [None]}, 422, "invalid request: texts.0: Input should be a valid string"),
    ("/rerank", {"raw_scores": "yes"}, 422, "invalid request: raw_scores: Input should be a valid boolean"),
    ("/rerank", {"truncate": 1}, 422, "invalid request: truncate: Input should be a valid boolean"),
    ("/rerank", {"truncation_direction": "up"}, 422, "~truncation_direction: Input should be 'Right'"),
    ("/rerank", {"documents": ["a"]}, 422, "invalid request: documents: Extra inputs are not permitted"),
    ("/v2/rerank", {"top_n": -1}, 422, "`top_n` must be >= 0, got -1"),
    ("/v2/rerank", {"top_n": "3"}, 422, "invalid request: top_n: Input should be a valid integer"),
    ("/v2/rerank", {"documents": [{"text": "a"}]}, 422, "invalid request: documents.0: Input should be a valid string"),
    ("/v2/rerank", {"relevant_spans": {"mode": "on"}}, 422, "~relevant_spans.mode: Input should be 'enabled'"),
    ("/v2/rerank", {"relevant_spans": {"mode": "enabled", "threshold": 1.5}}, 422,
     "relevant_spans: `threshold` must be in [0, 1], got 1.5"),
    ("/prune", {"threshold": -0.1}, 422, "`threshold` must be in [0, 1], got -0.1"),
    ("/prune", {"threshold": "0.5"}, 422, "invalid request: threshold: Input should be a valid number"),
    ("/prune", {"threshold": float("nan")}, 422, "`threshold` must be in [0, 1], got nan"),
    ("/prune", {"min_sentences": -1}, 422, "`min_sentences` must be an integer >= 0, got -1"),
    ("/prune", {"min_sentences": 1.5}, 422, "~min_sentences: Input should be a valid integer"),
    ("/prune", {"keep_ratio": 0}, 422, "`keep_ratio` must be in (0, 1], got 0.0"),
    ("/prune", {"token_budget": 5.0}, 422, "~token_budget: Input should be a valid integer"),
    ("/prune", {"context_token_budget": -3}, 422, "`context_token_budget` must be an integer >= 0, got -3"),
    ("/prune", {"keep_first": 1}, 422, "invalid request: keep_first: Input should be a valid boolean"),
    ("/prune", {"language": "fr"}, 422, "~language: Input should be 'auto', 'en' or 'ja'"),
    ("/prune", {"contexts": [["a", None]]}, 422, "~contexts.0.list[str].1: Input should be a valid string"),
    ("/prune", {"titles": "x"}, 422, "invalid request: titles: Extra inputs are not permitted"),
    ("/prune", {"title": 3}, 422, "~title"),
    ("/rerank", {"texts": ["x"] * 6}, 413, "`texts` holds 6 texts; this server accepts at most 5 per request"),
    ("/prune", {"contexts": ["x" * 5_001]}, 413,
     "the request holds 5002 characters; this server accepts at most 5000 per request"),
    ("/v2/rerank", {"documents": ["x" * 30_000]}, 413, "request body over 20000 bytes"),
]


@pytest.mark.parametrize("route, change, status, message", CASES, ids=[f"{c[0]}-{'-'.join(c[1])}" for c in CASES])
def test_bad_field(api, route, change, status, message):
    response = api.post(route, content=json.dumps({**OK[route], **change}), headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (message[1:] in error) if message.startswith("~") else (error == message)


@pytest.mark.parametrize("body", [b"{not json", b"[]", b"null", b"", b"\xff\xfe", b'{"query": 1e999}'])
@pytest.mark.parametrize("route", list(OK))
def test_body_that_is_not_a_request(api, route, body):
    response = api.post(route, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["error"].startswith("invalid request: ")


@pytest.mark.parametrize("route", list(OK))
def test_lone_surrogate_is_refused_with_its_position(api, route):
    field = {"/rerank": "texts", "/v2/rerank": "documents", "/prune": "contexts"}[route]
    body = json.dumps({**OK[route], field: ["fine", "ab\udc80"]})  # undecodable bytes read with surrogateescape
    response = api.post(route, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"] == f"`{field}[1]` is not valid Unicode: lone surrogate at position 2"


def test_routes_and_methods(api):
    assert api.get("/rerank").status_code == 405
    assert api.post("/nowhere", json={}).status_code == 404
    assert api.post("/rerank", json=OK["/rerank"]).status_code == 200


def test_declared_length_over_the_limit_is_refused_before_reading(api):
    response = api.post("/prune", content=b"{}", headers={"content-type": "application/json", "content-length": "99999"})
    assert response.status_code == 413


def test_valid_edge_cases(api, tiny_pruner):
    assert api.post("/rerank", json={"query": "q", "texts": []}).json() == []
    assert api.post("/prune", json={"query": "q", "contexts": []}).json() == {"results": []}
    rows = api.post("/rerank", json={"query": "q", "texts": ["", "a b."]}).json()
    assert [r["index"] for r in rows] == [1, 0] and rows[1]["score"] is None  # no text: null, last
    assert api.post("/v2/rerank", json={"query": "q", "documents": ["a", "b"], "top_n": 0}).json()["results"] == []
    pruned = api.post("/prune", json={"query": "q", "contexts": [["Pre ", "split."]], "threshold": 0.0}).json()
    assert pruned["results"][0]["pruned_text"] == "Pre split."


hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, strategies as st  # noqa: E402

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
_fields = st.sampled_from(["query", "texts", "documents", "contexts", "threshold", "min_sentences", "keep_first",
                           "keep_ratio", "token_budget", "context_token_budget", "language", "top_n", "raw_scores",
                           "return_text", "relevant_spans", "truncate"])


@given(route=st.sampled_from(list(OK)), changes=st.dictionaries(_fields, _json, max_size=3))
def test_fuzz_never_500(api, route, changes):
    response = api.post(route, json={**OK[route], **changes})
    assert response.status_code in (200, 413, 422), response.text
    assert response.status_code == 200 or response.json()["error"]


@given(route=st.sampled_from(list(OK)), body=_json)
def test_fuzz_any_json_body(api, route, body):
    response = api.post(route, json=body)
    assert response.status_code in (200, 413, 422), response.text
