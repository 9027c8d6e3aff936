"""sentence-transformers-style predict/rank, the cross-document token budget, and the source name."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sample_texts import CONTEXTS, JAPANESE, long_document

from text_pruner_rag import TextPruner
from text_pruner_rag.policy import select_within_token_budget

QUERY = "How tall is the Eiffel Tower?"
OTHER = "Where does the river flow?"
DOCS = [CONTEXTS[0], CONTEXTS[2], "   ", long_document(60, seed=1), JAPANESE, CONTEXTS[5]]


# -- predict -----------------------------------------------------------------------------------------
def test_predict_scores_equal_prune_many_scores(tiny_pruner):
    scores = tiny_pruner.predict([(QUERY, d) for d in DOCS])
    assert isinstance(scores, np.ndarray) and scores.dtype == np.float32 and scores.shape == (len(DOCS),)
    expected = [r.score for r in tiny_pruner.prune_many(QUERY, DOCS)]
    assert expected[2] == -np.inf and scores[2] == -np.inf  # whitespace-only context: no text to score
    for got, want in zip(scores.tolist(), expected):
        if want is not None:
            assert got == np.float32(want)  # same windows, same batches: bit-identical


def test_predict_batches_across_queries(tiny_pruner, monkeypatch):
    pairs = [(QUERY, DOCS[0]), (OTHER, DOCS[1]), (QUERY, DOCS[3]), (OTHER, DOCS[0]), (QUERY, DOCS[4])]
    from text_pruner_rag import engine

    calls = []
    original = engine.run_windows

    def spy(model, windows, batch_size, show_progress_bar):
        calls.append(len(windows))
        yield from original(model, windows, batch_size, show_progress_bar)

    monkeypatch.setattr(engine, "run_windows", spy)
    scores = tiny_pruner.predict(pairs, batch_size=64)
    assert len(calls) == 1  # one pass over the windows of both queries
    monkeypatch.undo()
    for (query, doc), got in zip(pairs, scores):
        want = tiny_pruner.prune_many(query, [doc])[0].score
        assert got == pytest.approx(want, rel=1e-5, abs=1e-6)


def test_predict_return_types_like_cross_encoder(tiny_pruner):
    pairs = [[QUERY, DOCS[0]], [OTHER, DOCS[1]]]
    as_numpy = tiny_pruner.predict(pairs)
    tensor = tiny_pruner.predict(pairs, convert_to_tensor=True)
    assert isinstance(tensor, torch.Tensor) and tensor.shape == (2,) and tensor.dtype == torch.float32
    assert tensor.tolist() == as_numpy.tolist()
    as_list = tiny_pruner.predict(pairs, convert_to_numpy=False)
    assert isinstance(as_list, list) and all(isinstance(t, torch.Tensor) and t.dim() == 0 for t in as_list)
    assert [t.item() for t in as_list] == as_numpy.tolist()
    single = tiny_pruner.predict((QUERY, DOCS[0]))
    assert isinstance(single, np.float32) and single == as_numpy[0]
    assert tiny_pruner.predict([QUERY, DOCS[0]], convert_to_tensor=True).dim() == 0
    assert tiny_pruner.predict(np.array([[QUERY, DOCS[0]], [OTHER, DOCS[1]]])).tolist() == as_numpy.tolist()
    empty = tiny_pruner.predict([])
    assert isinstance(empty, np.ndarray) and empty.shape == (0,)


def test_predict_batch_size_does_not_change_scores(tiny_pruner):
    pairs = [(QUERY, d) for d in DOCS]
    np.testing.assert_allclose(tiny_pruner.predict(pairs, batch_size=1), tiny_pruner.predict(pairs, batch_size=64),
                               rtol=1e-5, atol=1e-6)


def test_predict_bad_input(tiny_pruner):
    with pytest.raises(ValueError, match=r"inputs\[1\]"):
        tiny_pruner.predict([(QUERY, "a"), (QUERY, "b", "c")])
    with pytest.raises(ValueError, match="query"):
        tiny_pruner.predict([("  ", "a")])
    with pytest.raises(TypeError, match="query"):
        tiny_pruner.predict([(None, "a")])
    with pytest.raises(TypeError, match="pair"):
        tiny_pruner.predict("just a string")
    with pytest.raises(TypeError, match=r"contexts\[0\]"):
        tiny_pruner.predict([(QUERY, 3)])
    with pytest.raises(ValueError, match="batch_size"):
        tiny_pruner.predict([(QUERY, "a")], batch_size=0)


# -- rank --------------------------------------------------------------------------------------------
def test_rank_like_cross_encoder(tiny_pruner):
    scores = tiny_pruner.predict([(QUERY, d) for d in DOCS]).tolist()
    ranked = tiny_pruner.rank(QUERY, DOCS)
    assert [set(r) for r in ranked] == [{"corpus_id", "score"}] * len(DOCS)
    assert sorted(r["corpus_id"] for r in ranked) == list(range(len(DOCS)))
    assert [r["score"] for r in ranked] == sorted(scores, reverse=True)
    assert all(type(r["score"]) is float for r in ranked)
    for r in ranked:
        assert r["score"] == scores[r["corpus_id"]]
    assert ranked[-1] == {"corpus_id": 2, "score": float("-inf")}
    top = tiny_pruner.rank(QUERY, DOCS, top_k=2, return_documents=True)
    assert [(r["corpus_id"], r["score"]) for r in top] == [(r["corpus_id"], r["score"]) for r in ranked[:2]]
    assert all(r["text"] is DOCS[r["corpus_id"]] for r in top)
    assert tiny_pruner.rank(QUERY, DOCS, top_k=0) == []
    assert tiny_pruner.rank(QUERY, []) == []


def test_rank_ties_keep_input_order(tiny_pruner):
    ranked = tiny_pruner.rank(QUERY, [DOCS[0], DOCS[1], DOCS[0]])
    ids = [r["corpus_id"] for r in ranked]
    assert ids.index(0) < ids.index(2)


def test_rank_bad_input(tiny_pruner):
    with pytest.raises(ValueError, match="top_k"):
        tiny_pruner.rank(QUERY, DOCS, top_k=-1)
    with pytest.raises(TypeError, match="documents"):
        tiny_pruner.rank(QUERY, "one string")
    with pytest.raises(ValueError, match="query"):
        tiny_pruner.rank("", DOCS)


# -- token budget across documents ----------------------------------------------------------------
def _tokens(pruner, texts):
    return sum(len(pruner.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)


@pytest.mark.parametrize("budget", [0, 7, 40, 150, 100_000])
def test_token_budget_across_documents_fits_and_keeps_order(tiny_pruner, budget):
    docs = [d for d in DOCS if d.strip()]
    free = tiny_pruner.prune_many(QUERY, docs, threshold=0.0)
    fitted = tiny_pruner.prune_many(QUERY, docs, threshold=0.0, token_budget=budget)
    assert _tokens(tiny_pruner, [r.pruned_text for r in fitted]) <= budget
    for before, after in zip(free, fitted):
        assert after.score == before.score and after.context == before.context
        # only removals, sentences stay in order, text made of original spans
        assert all(b.kept or not a.kept for a, b in zip(after.sentences, before.sentences))
        assert after.pruned_text == "".join(after.context[s.start:s.end] for s in after.sentences if s.kept)
    # the decision is the pure policy function over the sentences' own token counts
    counts = [[len(tiny_pruner.tokenizer(s.text, add_special_tokens=False)["input_ids"]) for s in r.sentences]
              for r in free]
    expected = select_within_token_budget([[s.probability for s in r.sentences] for r in free], counts,
                                          [[s.kept for s in r.sentences] for r in free], budget,
                                          [r.score for r in free])
    if _tokens(tiny_pruner, ["".join(s.text for s, k in zip(r.sentences, m) if k) for r, m in zip(free, expected)]) \
            <= budget:  # no token merged across sentence boundaries: no second round
        assert [[s.kept for s in r.sentences] for r in fitted] == expected
    if budget >= _tokens(tiny_pruner, [r.pruned_text for r in free]):
        assert [r.pruned_text for r in fitted] == [r.pruned_text for r in free]


def test_token_budget_keeps_the_most_probable_sentences(tiny_pruner):
    docs = [CONTEXTS[0], long_document(30, seed=2)]
    budget = 60
    fitted = tiny_pruner.prune_many(QUERY, docs, threshold=0.0, token_budget=budget)
    sentences = [s for r in fitted for s in r.sentences]
    counts = tiny_pruner.count_tokens([s.text for s in sentences])
    used = sum(c for c, s in zip(counts, sentences) if s.kept)
    assert 0 < used <= budget
    lowest_kept = min(s.probability for s in sentences if s.kept)
    for s, c in zip(sentences, counts):
        if not s.kept and s.probability > lowest_kept:
            assert c > budget - used  # a more probable sentence is only left out when it does not fit


def test_token_budget_combines_with_threshold(tiny_pruner):
    docs = [CONTEXTS[0], long_document(30, seed=2)]
    strict = tiny_pruner.prune_many(QUERY, docs, threshold=0.5)
    fitted = tiny_pruner.prune_many(QUERY, docs, threshold=0.5, token_budget=100_000)
    assert [r.pruned_text for r in fitted] == [r.pruned_text for r in strict]
    fitted = tiny_pruner.prune_many(QUERY, docs, threshold=0.5, token_budget=30)
    for a, b in zip(fitted, strict):
        assert all(sb.kept or not sa.kept for sa, sb in zip(a.sentences, b.sentences))


def test_prune_token_budget_single_context(tiny_pruner):
    context = long_document(40, seed=3)
    result = tiny_pruner.prune(QUERY, context, threshold=0.0, token_budget=50)
    assert 0 < _tokens(tiny_pruner, [result.pruned_text]) <= 50


def test_token_budget_validation(tiny_pruner):
    with pytest.raises(ValueError, match="token_budget"):
        tiny_pruner.prune_many(QUERY, DOCS, token_budget=-1)
    with pytest.raises(ValueError, match="context_token_budget"):
        tiny_pruner.prune_many(QUERY, DOCS, context_token_budget=-1)


def test_count_tokens_is_the_tokenizer_without_specials(tiny_pruner):
    texts = ["The Eiffel Tower is 330 metres tall.", "", "東京"]
    assert tiny_pruner.count_tokens(texts) == [len(tiny_pruner.tokenizer(t, add_special_tokens=False)["input_ids"])
                                               for t in texts]
    assert tiny_pruner.count_tokens([]) == []


# -- source name ---------------------------------------------------------------------------------------
def test_name_or_path_is_recorded(tiny_pruner, tiny_model_dir):
    assert tiny_pruner.name_or_path == str(tiny_model_dir)
    in_memory = TextPruner(tiny_pruner.model, tiny_pruner.tokenizer, device="cpu")
    assert in_memory.name_or_path is None


def test_embedded_default_is_loadable_by_name():
    default = TextPruner.from_pretrained()
    assert default.name_or_path == "text-pruner-minilm-l6-en"
    again = TextPruner.from_pretrained(default.name_or_path)
    assert again.name_or_path == "text-pruner-minilm-l6-en"
    assert torch.equal(next(again.model.parameters()), next(default.model.parameters()))


def test_package_ships_py_typed():
    import tomllib
    from pathlib import Path

    import text_pruner_rag

    package = Path(text_pruner_rag.__file__).parent
    assert (package / "py.typed").is_file()
    pyproject = tomllib.loads((package.parent / "pyproject.toml").read_text(encoding="utf-8"))
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"]["text_pruner_rag"]
