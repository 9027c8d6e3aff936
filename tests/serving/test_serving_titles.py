"""/prune takes titles like prune_many: scored with their context, reported apart, never in the text."""

from __future__ import annotations

import pytest

from text_pruner_rag.results import pruning_json

QUERY = "Who designed the Eiffel Tower?"
CONTEXTS = ["It was designed by Gustave Eiffel's company. Bananas are rich in potassium.",
            "Bananas grow in the tropics. They are yellow."]


@pytest.mark.parametrize("title", ["first_sentence", "Eiffel Tower", ["Eiffel Tower", None]])
def test_prune_with_titles_equals_the_python_api(client, default_pruner, title):
    served = client.post("/prune", json={"query": QUERY, "contexts": CONTEXTS, "title": title})
    assert served.status_code == 200, served.text
    expected = default_pruner.prune_many(QUERY, CONTEXTS, title=title)
    policy = default_pruner.model_for(QUERY, CONTEXTS).default_threshold
    rows = served.json()["results"]
    assert [r["pruned_text"] for r in rows] == [e.pruned_text for e in expected]
    for row, result in zip(rows, expected):
        assert row.get("title") == pruning_json(result).get("title") == result.title  # absent: no title
        assert row.get("title_kept", False) == result.title_kept
        assert row["threshold"] == policy


def test_always_select_title_is_a_pruning_option(client, default_pruner):
    body = {"query": QUERY, "contexts": CONTEXTS, "title": "Eiffel Tower", "always_select_title": False}
    rows = client.post("/prune", json=body).json()["results"]
    expected = default_pruner.prune_many(QUERY, CONTEXTS, title="Eiffel Tower", always_select_title=False)
    assert [r.get("title_kept", False) for r in rows] == [e.title_kept for e in expected]
    assert all(r["policy"]["always_select_title"] is False for r in rows)


@pytest.mark.parametrize("title", [3, ["only one title for two contexts"], [1, 2]])
def test_bad_titles_are_422(client, title):
    answer = client.post("/prune", json={"query": QUERY, "contexts": CONTEXTS, "title": title})
    assert answer.status_code == 422, answer.text
    assert "title" in answer.json()["error"]
