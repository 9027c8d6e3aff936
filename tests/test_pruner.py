"""TextPruner end to end on a tiny random BERT: invariants, policy options, batching, bad input."""

from __future__ import annotations

import pytest
import torch
from sample_texts import CONTEXTS, JAPANESE, long_document

from text_pruner_rag import PruningPolicy, PruningResult, TextPruner
from text_pruner_rag.chunking import split_sentences

QUERY = "How tall is the Eiffel Tower?"


def check_invariants(result: PruningResult, context: str) -> None:
    assert isinstance(result, PruningResult)
    assert result.context == context
    assert result.pruned_text == "".join(s.text for s in result.sentences if s.kept)
    assert result.pruned_text == "".join(context[s.start:s.end] for s in result.sentences if s.kept)
    for s in result.sentences:
        assert s.text == context[s.start:s.end]
        assert 0.0 <= s.probability <= 1.0
    spans = [(s.start, s.end) for s in result.sentences]
    assert spans == sorted(spans)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    assert 0.0 <= result.compression_rate <= 1.0
    if context.strip():
        assert result.compression_rate == pytest.approx(1 - len(result.pruned_text) / len(context))
    if context.strip():
        assert isinstance(result.score, float)


def _probabilities(result):
    return [s.probability for s in result.sentences]


def _kept(result):
    return [s.kept for s in result.sentences]


@pytest.fixture(scope="module")
def long_doc_result(tiny_pruner):
    text = long_document()
    seen = []
    original = tiny_pruner.model.forward

    def spy(*args, **kwargs):
        seen.append((kwargs["input_ids"].shape, int(kwargs["attention_mask"].sum())))
        return original(*args, **kwargs)

    tiny_pruner.model.forward = spy
    try:
        result = tiny_pruner.prune(QUERY, text, threshold=0.0)
    finally:
        del tiny_pruner.model.forward
    return text, result, seen


@pytest.fixture(scope="module")
def sharp_pruner(tiny_model_dir):
    """The tiny model with a ranking head scaled up: its random scores differ between contexts/windows
    by a few tenths instead of ~1e-6, so order and max tests are meaningful."""
    pruner = TextPruner.from_pretrained(tiny_model_dir, device="cpu")
    classifier = pruner.model.ranking_model.classifier
    ids = torch.tensor([pruner.tokenizer(QUERY, CONTEXTS[0])["input_ids"]])
    with torch.no_grad():
        centre = float(pruner.model(input_ids=ids, attention_mask=torch.ones_like(ids)).ranking_logits[0, 0])
        classifier.weight.mul_(3000.0)
        classifier.bias.fill_(-3000.0 * centre)  # keep logits near 0 so sigmoid does not saturate
    return pruner


# -- invariants ----------------------------------------------------------------------------------
@pytest.mark.parametrize("context", CONTEXTS + [JAPANESE])
def test_invariants(tiny_pruner, context):
    result = tiny_pruner.prune(QUERY, context)
    check_invariants(result, context)
    assert result.sentences, "every non-blank context has at least one sentence"
    assert "".join(s.text for s in result.sentences) == context
    # default threshold comes from the checkpoint (0.5 for the tiny model), strict >
    assert _kept(result) == [p > 0.5 for p in _probabilities(result)]


def test_sentences_come_from_the_splitter(tiny_pruner):
    context = CONTEXTS[0]
    result = tiny_pruner.prune(QUERY, context, language="en")
    assert [(s.text, s.start, s.end) for s in result.sentences] == [
        (s.text, s.start, s.end) for s in split_sentences(context, "en")]


def test_default_threshold_is_the_checkpoint_value(tiny_pruner):
    assert tiny_pruner.default_threshold == 0.5
    context = CONTEXTS[0]
    assert _kept(tiny_pruner.prune(QUERY, context)) == _kept(tiny_pruner.prune(QUERY, context, threshold=0.5))


# -- threshold semantics -------------------------------------------------------------------------
def test_threshold_zero_keeps_every_sentence_with_positive_probability(tiny_pruner):
    context = CONTEXTS[0] + " " + CONTEXTS[5]
    result = tiny_pruner.prune(QUERY, context, threshold=0.0)
    assert all(p > 0 for p in _probabilities(result))
    assert all(_kept(result))
    assert result.pruned_text == context
    assert result.compression_rate == 0.0


def test_threshold_one_keeps_nothing(tiny_pruner):
    context = CONTEXTS[0]
    result = tiny_pruner.prune(QUERY, context, threshold=1.0)
    check_invariants(result, context)
    assert not any(_kept(result))
    assert result.pruned_text == ""
    assert result.compression_rate == 1.0
    assert isinstance(result.score, float)  # the reranking score is kept when everything is pruned


def test_threshold_is_strict(tiny_pruner):
    context = CONTEXTS[0]
    probabilities = _probabilities(tiny_pruner.prune(QUERY, context))
    middle = sorted(probabilities)[len(probabilities) // 2]
    result = tiny_pruner.prune(QUERY, context, threshold=middle)
    assert _kept(result) == [p > middle for p in probabilities]
    assert not result.sentences[probabilities.index(middle)].kept


# -- policy options through the pruner -----------------------------------------------------------
def test_min_sentences(tiny_pruner):
    context = CONTEXTS[0]
    result = tiny_pruner.prune(QUERY, context, threshold=1.0, min_sentences=2)
    probabilities = _probabilities(result)
    best_two = sorted(range(len(probabilities)), key=lambda i: -probabilities[i])[:2]
    assert [i for i, k in enumerate(_kept(result)) if k] == sorted(best_two)
    check_invariants(result, context)


def test_keep_first(tiny_pruner):
    base = [s.text for s in split_sentences(CONTEXTS[0] + " " + CONTEXTS[5], "en")]
    for shift in range(len(base)):  # find an order whose first sentence is not the most probable
        items = base[shift:] + base[:shift]
        probabilities = _probabilities(tiny_pruner.prune(QUERY, items))
        if probabilities[0] < max(probabilities[1:]):
            break
    else:  # pragma: no cover
        pytest.fail("fixture too weak: the first sentence is always the most probable")
    threshold = probabilities[0]  # strict >: the first sentence is dropped, a better one is kept
    plain = tiny_pruner.prune(QUERY, items, threshold=threshold)
    assert not plain.sentences[0].kept and any(_kept(plain))
    titled = tiny_pruner.prune(QUERY, items, threshold=threshold, keep_first=True)
    assert _kept(titled) == [True] + _kept(plain)[1:]
    assert titled.pruned_text == items[0] + plain.pruned_text
    nothing = tiny_pruner.prune(QUERY, items, threshold=1.0, keep_first=True)
    assert not any(_kept(nothing))


def test_keep_ratio(tiny_pruner):
    context = CONTEXTS[0]
    result = tiny_pruner.prune(QUERY, context, keep_ratio=0.5, threshold=1.0)
    n = len(result.sentences)
    assert sum(_kept(result)) == -(-n // 2)
    kept_probs = [s.probability for s in result.sentences if s.kept]
    dropped_probs = [s.probability for s in result.sentences if not s.kept]
    assert min(kept_probs) >= max(dropped_probs)


def test_context_token_budget(tiny_pruner, bert_tokenizer):
    context = long_document(40, seed=3)
    full = tiny_pruner.prune(QUERY, context, threshold=0.0)
    counts = [len(bert_tokenizer(s.text, add_special_tokens=False)["input_ids"]) for s in full.sentences]
    for budget in (0, 25, 100, 10_000):
        result = tiny_pruner.prune(QUERY, context, threshold=0.0, context_token_budget=budget)
        check_invariants(result, context)
        used = sum(c for c, s in zip(counts, result.sentences) if s.kept)
        assert used <= budget
        expected = PruningPolicy(context_token_budget=budget, threshold=0.0).select(_probabilities(full), token_counts=counts)
        assert _kept(result) == expected
    assert all(_kept(tiny_pruner.prune(QUERY, context, threshold=0.0, context_token_budget=10_000)))


def test_policy_option_out_of_range(tiny_pruner):
    with pytest.raises(ValueError, match="threshold"):
        tiny_pruner.prune(QUERY, CONTEXTS[0], threshold=1.5)
    with pytest.raises(ValueError, match="keep_ratio"):
        tiny_pruner.prune(QUERY, CONTEXTS[0], keep_ratio=0.0)


# -- context forms and languages -----------------------------------------------------------------
def test_pre_split_context_is_kept_exactly(tiny_pruner):
    items = ["First given sentence.", " second one, no capital", "\n", "Third: 東京. ", "", "last"]
    result = tiny_pruner.prune(QUERY, items, threshold=0.0)
    check_invariants(result, "".join(items))
    assert [s.text for s in result.sentences] == [i for i in items if i]
    assert result.pruned_text == "".join(items)
    partial = tiny_pruner.prune(QUERY, items, threshold=0.5)
    assert partial.pruned_text == "".join(s.text for s in partial.sentences if s.kept)


def test_pre_split_tuple(tiny_pruner):
    items = ("One. ", "Two. ", "Three.")
    result = tiny_pruner.prune(QUERY, items)
    assert [s.text for s in result.sentences] == list(items)


def test_japanese_context(tiny_pruner):
    result = tiny_pruner.prune("東京タワーの高さは？", JAPANESE, threshold=0.0)
    check_invariants(result, JAPANESE)
    assert [s.text for s in result.sentences] == [s.text for s in split_sentences(JAPANESE, "ja")]
    assert len(result.sentences) == 4
    assert result.sentences[0].text == "東京タワーは東京都港区にある電波塔です。"
    forced = tiny_pruner.prune("東京タワーの高さは？", JAPANESE, threshold=0.0, language="ja")
    assert _probabilities(forced) == pytest.approx(_probabilities(result))


def test_long_document(tiny_pruner, long_doc_result, bert_tokenizer):
    text, result, seen = long_doc_result
    check_invariants(result, text)
    assert len(result.sentences) == len(split_sentences(text, "en"))
    assert all(s.kept for s in result.sentences)  # threshold 0: every sentence got a probability > 0
    assert all(shape[1] <= tiny_pruner.max_length for shape, _ in seen)
    # no token dropped: context tokens fed to the model == tokens of the document
    prefix_suffix = len(bert_tokenizer(QUERY, "x")["input_ids"]) - 1
    n_windows = sum(shape[0] for shape, _ in seen)
    fed = sum(tokens for _, tokens in seen) - prefix_suffix * n_windows
    expected = len(bert_tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])
    assert expected >= 19000
    assert fed == expected
    assert n_windows >= expected // 128


def _window_scores(pruner, query, sentences):
    from text_pruner_rag.chunking import sentences_from_list

    context, sents = sentences_from_list(sentences)
    encoder = pruner.encoder
    encoded = encoder.encode_contexts([context], [sents])[0]
    windows = encoder.windows(encoder.template(query), 0, context, sents, encoded, "en")
    order = sorted(range(len(windows)), key=lambda i: -len(windows[i].input_ids))  # the pruner's batch order
    scores = []
    for w in windows:
        with torch.no_grad():
            out = pruner.model(input_ids=torch.tensor([w.input_ids]),
                               attention_mask=torch.ones(1, len(w.input_ids), dtype=torch.long),
                               token_type_ids=torch.tensor([w.token_type_ids]))
        scores.append(float(pruner.model.ranking_scores(out.ranking_logits)[0]))
    return scores, order


def test_score_is_the_best_window_score(sharp_pruner):
    base = [f"Paragraph {i} talks about {'the tower height' if i % 3 else 'bananas'} and other things. "
            for i in range(40)]
    for shift in range(0, 40, 3):  # the best window is processed neither first nor last
        sentences = base[shift:] + base[:shift]
        scores, order = _window_scores(sharp_pruner, QUERY, sentences)
        if len(scores) > 2 and scores.index(max(scores)) not in (order[0], order[-1]):
            break
    else:  # pragma: no cover
        pytest.fail("fixture too weak: the best window is always first or last")
    assert max(scores) - min(scores) > 1e-3
    assert sharp_pruner.prune(QUERY, sentences).score == pytest.approx(max(scores), abs=1e-5)


# -- batching ------------------------------------------------------------------------------------
def test_prune_many_equals_prune_one_by_one(sharp_pruner):
    contexts = CONTEXTS + [JAPANESE, ["Pre", "split. ", "list"], long_document(30)]
    many = sharp_pruner.prune_many(QUERY, contexts, batch_size=3, threshold=0.5)
    assert len(many) == len(contexts)
    for context, together in zip(contexts, many):
        alone = sharp_pruner.prune(QUERY, context, threshold=0.5)
        assert together.context == alone.context
        assert [s.text for s in together.sentences] == [s.text for s in alone.sentences]
        assert _probabilities(together) == pytest.approx(_probabilities(alone), abs=1e-5)
        assert together.score == pytest.approx(alone.score, abs=1e-4)
        assert together.pruned_text == alone.pruned_text or any(
            abs(p - 0.5) < 1e-4 for p in _probabilities(alone))


def test_prune_many_empty_list(tiny_pruner):
    assert tiny_pruner.prune_many(QUERY, []) == []


# -- reranking -----------------------------------------------------------------------------------
def test_rerank_order_and_top_n(sharp_pruner):
    contexts = CONTEXTS[:6] + [""]
    ranked = sharp_pruner.rerank(QUERY, contexts)
    assert sorted(r.index for r in ranked) == list(range(len(contexts)))
    scores = [r.score for r in ranked]
    assert scores[-1] == float("-inf") and ranked[-1].index == len(contexts) - 1
    assert scores[:-1] == sorted(scores[:-1], reverse=True)
    assert len(set(round(x, 4) for x in scores[:-1])) == len(scores) - 1  # distinct scores: a real order
    pruned = sharp_pruner.prune_many(QUERY, contexts)
    for r in ranked:
        assert r.text == contexts[r.index]
        assert r.score == pruned[r.index].score
    top = sharp_pruner.rerank(QUERY, contexts, top_n=2)
    assert [(r.index, r.score) for r in top] == [(r.index, r.score) for r in ranked[:2]]
    assert sharp_pruner.rerank(QUERY, contexts, top_n=0) == []
    assert len(sharp_pruner.rerank(QUERY, contexts, top_n=100)) == len(contexts)
    with pytest.raises(ValueError, match="top_n"):
        sharp_pruner.rerank(QUERY, contexts, top_n=-1)


# -- bad input -----------------------------------------------------------------------------------
@pytest.mark.parametrize("query", [None, 3, b"bytes", ["list"]])
def test_query_type(tiny_pruner, query):
    with pytest.raises(TypeError, match="`query`"):
        tiny_pruner.prune(query, "Some context.")
    with pytest.raises(TypeError, match="`query`"):
        tiny_pruner.prune_many(query, ["Some context."])


@pytest.mark.parametrize("query", ["", "   \n"])
def test_empty_query(tiny_pruner, query):
    with pytest.raises(ValueError, match="`query` must not be empty"):
        tiny_pruner.prune(query, "Some context.")


@pytest.mark.parametrize("context", [None, 42, 3.5, {"a": 1}])
def test_context_type(tiny_pruner, context):
    with pytest.raises(TypeError, match="`context`"):
        tiny_pruner.prune(QUERY, context)
    with pytest.raises(TypeError, match=r"contexts\[1\]"):
        tiny_pruner.prune_many(QUERY, ["ok", context])


def test_contexts_argument_type(tiny_pruner):
    with pytest.raises(TypeError, match="`contexts`"):
        tiny_pruner.prune_many(QUERY, "a single string")
    with pytest.raises(TypeError, match="`contexts`"):
        tiny_pruner.prune_many(QUERY, None)


def test_context_list_with_non_str_item_names_the_index(tiny_pruner):
    with pytest.raises(TypeError, match=r"context\[2\]"):
        tiny_pruner.prune(QUERY, ["a. ", "b. ", 7, "d."])
    with pytest.raises(TypeError, match=r"sentences\[1\]"):
        tiny_pruner.prune_many(QUERY, [["a. ", None]])


@pytest.mark.parametrize(("context", "compression"), [("", 0.0), ("   \n\t ", 0.0), ([], 0.0), (["", ""], 0.0)])
def test_empty_and_blank_contexts(tiny_pruner, context, compression):
    result = tiny_pruner.prune(QUERY, context)
    assert result.pruned_text == ""
    assert result.score == float("-inf")
    assert result.sentences == []
    assert result.compression_rate == compression


def test_bad_language(tiny_pruner):
    with pytest.raises(ValueError, match="language"):
        tiny_pruner.prune(QUERY, "Text.", language="fr")


@pytest.mark.parametrize("device", ["tpu-ish", "cuda:x", "", "cuda:99"])
def test_invalid_device(tiny_model_dir, device):
    if device == "cuda:99" and torch.cuda.device_count() > 99:  # pragma: no cover
        pytest.skip("a machine with 100 GPUs")
    with pytest.raises(ValueError, match="device"):
        TextPruner.from_pretrained(tiny_model_dir, device=device)


def test_unavailable_cuda_is_a_clear_error(tiny_model_dir):
    if torch.cuda.is_available():  # pragma: no cover
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match="CUDA is not available"):
        TextPruner.from_pretrained(tiny_model_dir, device="cuda")


def test_constructor_validation(tiny_model_dir):
    with pytest.raises(ValueError, match="language"):
        TextPruner.from_pretrained(tiny_model_dir, device="cpu", language="de")
    with pytest.raises(ValueError, match="batch_size"):
        TextPruner.from_pretrained(tiny_model_dir, device="cpu", batch_size=0)
    with pytest.raises(ValueError, match="dtype"):
        TextPruner.from_pretrained(tiny_model_dir, device="cpu", dtype="float8")
    with pytest.raises(ValueError, match="exceeds"):
        TextPruner.from_pretrained(tiny_model_dir, device="cpu", max_length=4096)


def test_max_length_override(tiny_model_dir):
    pruner = TextPruner.from_pretrained(tiny_model_dir, device="cpu", max_length=32)
    assert pruner.max_length == 32
    result = pruner.prune(QUERY, CONTEXTS[0] * 3)
    check_invariants(result, CONTEXTS[0] * 3)


def test_bfloat16(tiny_model_dir, tiny_pruner):
    pruner = TextPruner.from_pretrained(tiny_model_dir, device="cpu", dtype="bfloat16")
    assert next(pruner.model.parameters()).dtype == torch.bfloat16
    context = CONTEXTS[0]
    result = pruner.prune(QUERY, context)
    check_invariants(result, context)
    reference = tiny_pruner.prune(QUERY, context)
    assert _probabilities(result) == pytest.approx(_probabilities(reference), abs=0.05)
    assert result.score == pytest.approx(reference.score, abs=0.05)


def test_policy_argument_is_the_keyword_options(tiny_pruner):
    policy = PruningPolicy(threshold=0.4, min_sentences=1, keep_first=True, context_token_budget=50)
    by_policy = tiny_pruner.prune_many(QUERY, CONTEXTS[:3], policy=policy)
    by_keywords = tiny_pruner.prune_many(QUERY, CONTEXTS[:3], threshold=0.4, min_sentences=1, keep_first=True,
                                         context_token_budget=50)
    assert by_policy == by_keywords
    # a keyword option given explicitly replaces the policy's field
    assert tiny_pruner.prune(QUERY, CONTEXTS[0], policy=policy, threshold=0.9) == tiny_pruner.prune(
        QUERY, CONTEXTS[0], threshold=0.9, min_sentences=1, keep_first=True, context_token_budget=50)
    # no threshold anywhere: the checkpoint's
    default = PruningPolicy(threshold=tiny_pruner.default_threshold)
    assert tiny_pruner.prune(QUERY, CONTEXTS[1]) == tiny_pruner.prune(QUERY, CONTEXTS[1], policy=default)
    with pytest.raises(TypeError, match="PruningPolicy"):
        tiny_pruner.prune(QUERY, CONTEXTS[0], policy={"threshold": 0.2})


def test_fraction_above_threshold_checkpoint_decides_on_token_fractions(tiny_pruner, monkeypatch):
    # naver Provence's rule: keep iff the fraction of the sentence's tokens above t is itself > t. The
    # pruner must pass the checkpoint's sentence_rounding to the policy; the two rules differ here.
    from text_pruner_rag import engine
    from text_pruner_rag.policy import SentenceAggregator

    prepared = [engine.prepare(i, c, tiny_pruner.language) for i, c in enumerate(CONTEXTS)]
    _, windows = engine._score(tiny_pruner, [QUERY] * len(prepared), prepared, 8, False)
    aggregate = SentenceAggregator([len(p.sentences) for p in prepared])
    for window, probs in windows:
        aggregate.add(window.context_index, window.sentence_ids, probs)
    differs = False
    for t in (0.3, 0.45, 0.5, 0.55, 0.7):
        by_fraction = [[f > t for f in fractions] for fractions in aggregate.fractions_above(t)]
        by_mean = [[p > t for p in probs] for probs in aggregate.sentence_probabilities()]
        monkeypatch.setattr(tiny_pruner.model.config, "sentence_rounding", "fraction_above_threshold")
        assert [_kept(r) for r in tiny_pruner.prune_many(QUERY, CONTEXTS, threshold=t)] == by_fraction
        monkeypatch.setattr(tiny_pruner.model.config, "sentence_rounding", "token_mean")
        assert [_kept(r) for r in tiny_pruner.prune_many(QUERY, CONTEXTS, threshold=t)] == by_mean
        differs |= by_fraction != by_mean
    assert differs


# -- from_pretrained keyword arguments -------------------------------------------------------------
@pytest.mark.parametrize("option", [{"backnd": "onnx"}, {"trust_remote_code": True}, {"threshold": 0.2}])
def test_from_pretrained_rejects_unknown_keyword_arguments(tiny_model_dir, option):
    with pytest.raises(TypeError, match=next(iter(option))):
        TextPruner.from_pretrained(tiny_model_dir, device="cpu", **option)


def test_from_pretrained_hub_options_are_explicit(tiny_model_dir):
    pruner = TextPruner.from_pretrained(tiny_model_dir, device="cpu", revision="main", token=False,
                                        cache_dir="/nonexistent", local_files_only=True)
    assert pruner.backend == "torch" and pruner.quantize is None


def test_backend_options_are_validated(tiny_model_dir):
    with pytest.raises(ValueError, match="backend"):
        TextPruner.from_pretrained(tiny_model_dir, device="cpu", backend="tensorrt")
    with pytest.raises(ValueError, match="quantize"):
        TextPruner.from_pretrained(tiny_model_dir, device="cpu", backend="onnx", quantize="int4")
    with pytest.raises(ValueError, match="needs backend='onnx'"):
        TextPruner.from_pretrained(tiny_model_dir, device="cpu", quantize="int8")


def test_batch_size_does_not_change_results(tiny_pruner):
    contexts = CONTEXTS + [JAPANESE, long_document(60)]
    reference = tiny_pruner.prune_many(QUERY, contexts, batch_size=32)
    for batch_size in (1, 3):
        results = tiny_pruner.prune_many(QUERY, contexts, batch_size=batch_size)
        assert [r.score for r in results] == pytest.approx([r.score for r in reference], abs=1e-6)
        for got, want in zip(results, reference):
            assert _probabilities(got) == pytest.approx(_probabilities(want), abs=1e-6)
