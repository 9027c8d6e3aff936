"""Language routing: the default pruner sends Japanese calls whole to the bilingual model."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from text_pruner_rag import TextPruner
from text_pruner_rag.routing import LanguageRouter, Route

ENGLISH = "The Eiffel Tower is in Paris. It was built in 1889. Bananas are yellow."
JAPANESE = "東京タワーは東京都港区にある電波塔です。高さは333メートルです。バナナは黄色い果物です。"
EN_QUERY = "When was the Eiffel Tower built?"
JA_QUERY = "東京タワーの高さは？"

# the tiny models use MiniLM's English vocabulary: Japanese gives [UNK] tokens (warned, expected here)
pytestmark = pytest.mark.filterwarnings("ignore:the tokenizer turned")


@pytest.fixture(scope="module")
def second_model_dir(tmp_path_factory, bert_tokenizer):
    """Another tiny random checkpoint (other weights, other default threshold): the "bilingual" model."""
    import torch
    from transformers import AutoConfig

    from text_pruner_rag.modeling import TextPrunerConfig, TextPrunerModel

    torch.manual_seed(1)
    backbone = AutoConfig.for_model("bert", hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                    intermediate_size=37, vocab_size=bert_tokenizer.vocab_size,
                                    max_position_embeddings=512)
    config = TextPrunerConfig(base_model_config=backbone.to_dict(), max_length=128, default_threshold=0.45)
    folder = tmp_path_factory.mktemp("tiny_second")
    TextPrunerModel(config).save_pretrained(str(folder))
    bert_tokenizer.save_pretrained(str(folder))
    return folder


@pytest.fixture()
def models(tiny_model_dir, second_model_dir):
    """(routed English pruner, the Japanese-route pruner alone, load counter)."""
    english = TextPruner.from_pretrained(str(tiny_model_dir), device="cpu")
    japanese = TextPruner.from_pretrained(str(second_model_dir), device="cpu")
    loads = []

    def load():
        loads.append(1)
        return japanese

    english.router = LanguageRouter(english, {"ja": Route("second", load)})
    return english, japanese, loads


def _same(a, b):
    assert [r.pruned_text for r in a] == [r.pruned_text for r in b]
    assert [r.score for r in a] == pytest.approx([r.score for r in b])
    assert [[s.probability for s in r.sentences] for r in a] == \
        [pytest.approx([s.probability for s in r.sentences]) for r in b]


def test_english_stays_and_route_is_not_loaded(models, tiny_pruner):
    english, _, loads = models
    assert english.routes == {"ja": "second"}
    _same(english.prune_many(EN_QUERY, [ENGLISH, ENGLISH[:30]]), tiny_pruner.prune_many(EN_QUERY, [ENGLISH, ENGLISH[:30]]))
    assert loads == []  # lazy: nothing Japanese was asked


def test_japanese_context_or_query_routes_the_whole_call(models, tiny_pruner):
    english, japanese, loads = models
    for query, contexts in [(EN_QUERY, [ENGLISH, JAPANESE]), (JA_QUERY, [ENGLISH]), (JA_QUERY, [JAPANESE])]:
        got = english.prune_many(query, contexts)
        _same(got, japanese.prune_many(query, contexts))
        # the routed model's own default threshold decides (0.45, not the English model's 0.5)
        assert [s.kept for s in got[0].sentences] == [s.probability > 0.45 for s in got[0].sentences]
    assert loads == [1]  # loaded once, then reused
    assert [r.pruned_text for r in tiny_pruner.prune_many(JA_QUERY, [JAPANESE], threshold=0.0)] == [JAPANESE]


def test_pre_split_japanese_sentences_route(models):
    english, japanese, _ = models
    sentences = ["東京タワーは電波塔です。", "高さは333メートルです。"]
    _same([english.prune(EN_QUERY, sentences)], [japanese.prune(EN_QUERY, sentences)])


def test_explicit_language_decides(models, tiny_pruner):
    english, japanese, loads = models
    _same([english.prune(JA_QUERY, JAPANESE, language="en")], [tiny_pruner.prune(JA_QUERY, JAPANESE, language="en")])
    assert loads == []
    _same([english.prune(EN_QUERY, ENGLISH, language="ja")], [japanese.prune(EN_QUERY, ENGLISH, language="ja")])
    with pytest.raises(ValueError, match="language"):
        english.prune(EN_QUERY, ENGLISH, language="fr")


def test_rank_and_rerank_use_one_model_per_ranking(models):
    english, japanese, _ = models
    documents = [ENGLISH, JAPANESE, "Paris is the capital of France."]
    assert english.rank(EN_QUERY, documents) == japanese.rank(EN_QUERY, documents)
    assert [(r.index, r.score) for r in english.rerank(EN_QUERY, documents)] == \
        [(r.index, pytest.approx(r.score)) for r in japanese.rerank(EN_QUERY, documents)]


def test_predict_routes_each_pair(models, tiny_pruner):
    english, japanese, _ = models
    pairs = [(EN_QUERY, ENGLISH), (JA_QUERY, JAPANESE), (EN_QUERY, "Paris is in France."), (EN_QUERY, JAPANESE)]
    got = english.predict(pairs)
    expected = [tiny_pruner.predict(pairs[0]), japanese.predict(pairs[1]), tiny_pruner.predict(pairs[2]),
                japanese.predict(pairs[3])]
    np.testing.assert_allclose(got, np.asarray(expected, dtype=np.float32), rtol=1e-5)


def test_token_budget_counts_with_the_model_that_pruned(models, monkeypatch):
    from text_pruner_rag import engine

    english, japanese, loads = models
    seen = []
    original = engine.count_tokens
    monkeypatch.setattr(engine, "count_tokens", lambda model, texts: seen.append(model) or original(model, texts))
    english.prune_many(JA_QUERY, [JAPANESE, JAPANESE], token_budget=5, threshold=0.0, language="en")
    assert seen and all(m is english for m in seen) and loads == []  # forced English: no other model loads
    seen.clear()
    english.prune_many(JA_QUERY, [JAPANESE], token_budget=5, threshold=0.0)  # routed: the budget counts the routed model's tokens
    assert seen and all(m is japanese for m in seen)
    # count_tokens: the pruner's own model, or the model `language` is routed to; never guessed from the text
    seen.clear()
    english.count_tokens([JAPANESE])
    assert seen == [english]
    seen.clear()
    english.count_tokens([ENGLISH], language="ja")
    assert seen == [japanese]
    assert english.model_for(JA_QUERY, [ENGLISH]) is japanese and english.model_for(EN_QUERY, [ENGLISH]) is english
    with pytest.raises(ValueError, match="language"):
        english.count_tokens([ENGLISH], language="auto")


def test_embedded_budget_is_a_hard_cap_in_the_tokens_of_the_model_that_pruned():
    chinese = "東京都港区芝公園総合電波塔竣工世界一高自立式鉄塔。中華人民共和国国務院総理李克強。北京市海淀区中関村大街。"
    pruner = TextPruner.from_pretrained()
    with pytest.warns(UserWarning, match="unknown token"):  # the English model cannot read it: forced anyway
        results = pruner.prune_many("Tokyo tower height?", [chinese] * 4, language="en", token_budget=50,
                                    threshold=0.0)
    assert sum(len(pruner.tokenizer(r.pruned_text, add_special_tokens=False)["input_ids"]) for r in results) <= 50
    assert not pruner.router.route("ja").loaded  # a forced English call never loads the bilingual model
    english = ["The Eiffel Tower is in Paris. It is 330 metres tall. It was built in 1889. "] * 3
    results = pruner.prune_many("エッフェル塔の高さは？", english, token_budget=12, threshold=0.0)
    model = pruner.model_for("エッフェル塔の高さは？", english)
    assert model is not pruner and sum(model.count_tokens([r.pruned_text for r in results])) <= 12
    assert sum(pruner.count_tokens([r.pruned_text for r in results], language="ja")) <= 12


def test_route_loads_once_under_threads(models):
    english, japanese, loads = models
    results = []
    threads = [threading.Thread(target=lambda: results.append(english.prune(JA_QUERY, JAPANESE).pruned_text))
               for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert loads == [1] and len(results) == 6 and len(set(results)) == 1


def test_bad_input_errors_are_unchanged_by_routing(models):
    english, _, loads = models
    with pytest.raises(TypeError, match="contexts"):
        english.prune_many(JA_QUERY, "not a list")
    with pytest.raises(TypeError):
        english.prune_many(JA_QUERY, [JAPANESE, 3])
    with pytest.raises(ValueError, match="query"):
        english.prune_many("", [JAPANESE])


def test_from_pretrained_routing_switch(tiny_model_dir):
    assert TextPruner.from_pretrained(str(tiny_model_dir), device="cpu").routes == {}  # other models: no routes
    with pytest.raises(TypeError, match="language_routing"):
        TextPruner.from_pretrained(str(tiny_model_dir), language_routing="no")


def test_eval_reads_a_set_with_the_model_routing_gives_it(models):
    from text_pruner_rag.cli import UsageError as _UsageError, _routed_for
    from text_pruner_rag.records import Passage, Record

    english, japanese, _ = models
    english.name_or_path, japanese.name_or_path = "english", "second"

    def record(query, text):
        return Record(id=query, query=query, language="en", source="t", answers=[],
                      passages=[Passage(text=text, spans=[(0, len(text))], relevance=[0], label=0)])

    assert _routed_for(english, [record(EN_QUERY, ENGLISH)], "auto") is english
    assert _routed_for(english, [record(JA_QUERY, JAPANESE)], "auto") is japanese
    with pytest.raises(_UsageError, match="mixes languages"):
        _routed_for(english, [record(EN_QUERY, ENGLISH), record(JA_QUERY, JAPANESE)], "auto")
    assert _routed_for(english, [record(EN_QUERY, ENGLISH), record(JA_QUERY, JAPANESE)], "en") is english


def test_embedded_default_routes_japanese_to_the_bilingual_model():
    import warnings

    from text_pruner_rag.pruner import JAPANESE_MODEL_NAME

    default = TextPruner.from_pretrained()
    assert default.routes == {"ja": JAPANESE_MODEL_NAME} and not default.router.route("ja").loaded
    assert TextPruner.from_pretrained(language_routing=False).routes == {}
    alone = TextPruner.from_pretrained(JAPANESE_MODEL_NAME)
    assert alone.routes == {} and alone.name_or_path == JAPANESE_MODEL_NAME and alone.default_threshold == 0.15
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        routed = default.prune(JA_QUERY, JAPANESE)
    assert not [w for w in caught if "unknown token" in str(w.message)]  # the bilingual vocabulary reads it
    assert default.router.route("ja").loaded
    expected = alone.prune(JA_QUERY, JAPANESE)
    assert routed.score == pytest.approx(expected.score) and routed.pruned_text == expected.pruned_text
