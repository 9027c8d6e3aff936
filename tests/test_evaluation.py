"""Tests for text_pruner_rag.evaluation (metrics, baselines, harness) and the benchmark scripts."""

from __future__ import annotations

import importlib.util
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from text_pruner_rag.metrics import reciprocal_ranks
from text_pruner_rag.evaluation import (
    BM25Selector,
    KeepAllSelector,
    RandomSelector,
    answer_retention,
    best_threshold,
    compression_stats,
    contains_answer,
    evaluate,
    f_beta,
    format_markdown,
    mean_ndcg_at_k,
    mean_reciprocal_rank,
    ndcg_at_k,
    negatives_emptied,
    normalize_answer,
    reciprocal_rank,
    select_matched_compression,
    select_top_ratio,
    sentence_prf,
    threshold_sweep,
    tokenize,
)
from text_pruner_rag.evaluation.schema import EvaluationReport, ResultRow
from text_pruner_rag.protocols import Pruner
from text_pruner_rag.results import PruningResult, RankedContext, SentenceScore

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------------
# Fixtures: a fake pruner and hand-built records


class FakePruner:
    """Keep probability 0.9 for sentences sharing a content word with the query, else 0.05.

    It has only what the :class:`~text_pruner_rag.protocols.Pruner` protocol gives the harness (no
    ``model``, no ``threshold`` keyword), so the harness cannot reach past the protocol."""

    default_threshold = 0.1
    name_or_path = None
    sentence_rounding = "token_mean"

    def __init__(self):
        self.calls = []

    def model_for(self, query=None, contexts=(), language=None):
        return self

    @staticmethod
    def _probability(query: str, sentence: str) -> float:
        words = {w for w in re.findall(r"\w+", query.lower()) if len(w) > 3}
        return 0.9 if words & set(re.findall(r"\w+", sentence.lower())) else 0.05

    def prune_many(self, query, contexts, *, policy=None, batch_size=None, show_progress_bar=None):
        threshold = None if policy is None else policy.threshold
        self.calls.append({"threshold": threshold, "batch_size": batch_size, "show_progress_bar": show_progress_bar})
        threshold = self.default_threshold if threshold is None else threshold
        results = []
        for context in contexts:
            sentences = context if isinstance(context, list) else [context]
            scored, start = [], 0
            for text in sentences:
                p = self._probability(query, text)
                scored.append(SentenceScore(text, start, start + len(text), p, p > threshold))
                start += len(text)
            full = "".join(sentences)
            pruned = "".join(s.text for s in scored if s.kept)
            rate = 1 - len(pruned) / len(full) if full else 0.0
            score = max((s.probability for s in scored), default=None)
            results.append(PruningResult(pruned, score, rate, scored, full))
        return results

    def prune_batch(self, queries, contexts_per_query, *, policy=None, batch_size=None, show_progress_bar=None):
        return [self.prune_many(q, c, policy=policy, batch_size=batch_size, show_progress_bar=show_progress_bar)
                for q, c in zip(queries, contexts_per_query)]

    def count_tokens(self, texts):
        return [len(t.split()) for t in texts]

    def predict(self, inputs, batch_size=None, show_progress_bar=None, convert_to_numpy=True, convert_to_tensor=False):
        return [max(self._probability(q, d), 0.0) for q, d in inputs]

    def rerank(self, query, contexts, top_n=None):
        results = self.prune_many(query, contexts)
        ranked = sorted(range(len(contexts)), key=lambda i: -results[i].score)
        return [RankedContext(i, results[i].score, results[i].context) for i in ranked][:top_n]


def _passage(sentences, relevance, label):
    text, spans, start = "".join(sentences), [], 0
    for s in sentences:
        spans.append([start, start + len(s)])
        start += len(s)
    return {"text": text, "title": "", "spans": spans, "relevance": relevance, "label": label, "teacher_score": None}


def _records():
    return [
        {
            "id": "q1", "query": "Where is the Eiffel Tower?", "language": "en", "source": "test",
            "answers": ["Paris"],
            "passages": [
                _passage(["The Eiffel Tower stands in Paris. ", "It was built in 1889. ", "Cats like fish."], [1, 0, 0], 1),
                _passage(["Bananas are yellow. ", "Rivers flow to the sea."], [0, 0], 0),
                _passage(["The tower of London is old. ", "Eiffel was an engineer."], [0, 0], 0),
            ],
        },
        {
            "id": "q2", "query": "富士山の高さは？", "language": "ja", "source": "test", "answers": ["3776メートル"],
            "passages": [_passage(["富士山の高さは3776メートルである。", "日本一の山だ。"], [1, 0], 1)],
        },
    ]  # fmt: skip


# --------------------------------------------------------------------------------------------------
# Metrics


def test_sentence_prf_hand_computed():
    # tp=2 (s0, s3), fp=1 (s1), fn=1 (s2), tn=1 (s4); nested and flat inputs agree
    out = sentence_prf([[1, 1, 0], [1, 0]], [[1, 0, 1], [1, 0]])
    assert (out["tp"], out["fp"], out["fn"], out["tn"]) == (2, 1, 1, 1)
    assert out["precision"] == pytest.approx(2 / 3)
    assert out["recall"] == pytest.approx(2 / 3)
    assert out["f_beta"] == pytest.approx(2 / 3)
    assert out["accuracy"] == pytest.approx(3 / 5)
    flat = sentence_prf([1, 1, 0, 1, 0], [1, 0, 1, 1, 0])
    assert flat["f_beta"] == out["f_beta"]
    # P = 1/2, R = 1: F2 = 5 * 0.5 / (4 * 0.5 + 1) = 5/6 ; F1 = 2/3
    assert sentence_prf([1, 1], [1, 0])["f_beta"] == pytest.approx(5 / 6)
    assert f_beta(0.5, 1.0, beta=1.0) == pytest.approx(2 / 3)
    empty = sentence_prf([0, 0], [0, 1])
    assert (empty["precision"], empty["recall"], empty["f_beta"]) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="one value per sentence"):
        sentence_prf([1, 0], [1])


def test_compression_mean_and_global():
    out = compression_stats([100, 300, 0], [50, 300, 0])
    assert out["mean_compression"] == pytest.approx((0.5 + 0.0 + 0.0) / 3)
    assert out["global_compression"] == pytest.approx(1 - 350 / 400)
    with pytest.raises(ValueError):
        compression_stats([10], [11])


def test_answer_normalisation_and_retention():
    assert normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    assert normalize_answer("The Beatles, a band") == "beatles band"
    assert contains_answer("It stands in PARIS, France.", ["Paris"])
    assert not contains_answer("concatenate", ["cat"])  # word boundaries
    assert contains_answer("富士山は3776メートル。", ["3776メートル"], "ja")
    assert not contains_answer("富士山", ["富士山は"], "ja")
    out = answer_retention(
        ["in Paris", "", "nothing", "x"],
        [["Paris"], ["Rome"], ["Berlin"], []],
        "en",
        original_texts=["in Paris", "Rome!", "nothing here", "x"],
    )
    # passage 3 is skipped (answer never in the original), passage 4 has no answer: 1 of 2
    assert out == {"answer_retention": 0.5, "n_answerable": 2}
    assert answer_retention([], [], "en")["answer_retention"] is None


def test_negatives_emptied():
    out = negatives_emptied(["", " \n", "text", "kept"], [0, 0, 0, 1])
    assert out["negatives_emptied"] == pytest.approx(2 / 3)
    assert out["n_negatives"] == 3
    assert negatives_emptied(["a"], [1])["negatives_emptied"] is None


def test_ranking_metrics_hand_computed():
    assert reciprocal_rank([0.1, 0.9, 0.5], [1, 0, 0]) == pytest.approx(1 / 3)
    assert reciprocal_rank([0.9, 0.1], [1, 0]) == 1.0
    assert reciprocal_rank([0.5, 0.5, 0.5], [1, 0, 0]) == pytest.approx(1 / 3)  # ties pessimistic
    assert reciprocal_rank([None, 0.1], [1, 0]) == 0.5
    assert reciprocal_rank([0.1, 0.2], [0, 0]) is None
    assert ndcg_at_k([0.1, 0.9], [1, 0]) == pytest.approx(1 / math.log2(3))
    # two relevant at ranks 1 and 3: (1 + 1/2) / (1 + 1/log2(3))
    assert ndcg_at_k([0.9, 0.8, 0.7], [1, 0, 1]) == pytest.approx(1.5 / (1 + 1 / math.log2(3)))
    assert ndcg_at_k([0.9, 0.8, 0.7], [0, 0, 1], k=2) == 0.0
    mrr = mean_reciprocal_rank([[0.9, 0.1], [0.1, 0.9], [0.3]], [[1, 0], [1, 0], [0]])
    assert mrr == {"mrr": 0.75, "n_queries": 2}
    assert reciprocal_ranks([[0.9, 0.1], [0.1, 0.9], [0.3]], [[1, 0], [1, 0], [0]]) == [1.0, 0.5, None]
    assert mean_ndcg_at_k([[0.9, 0.1]], [[1, 0]], k=5)["ndcg"] == 1.0


def test_threshold_sweep_and_best_threshold():
    probs = [[0.9, 0.3], [0.6, 0.05]]
    gold = [[1, 0], [1, 0]]
    lengths = [[10, 30], [20, 40]]
    rows = threshold_sweep(probs, gold, lengths, thresholds=[0.0, 0.5, 0.95])
    assert [r["threshold"] for r in rows] == [0.0, 0.5, 0.95]
    # t = 0.0: everything kept (0.05 > 0)
    assert rows[0]["precision"] == 0.5 and rows[0]["recall"] == 1.0 and rows[0]["compression"] == 0.0
    # t = 0.5: exactly the gold sentences kept; 30 of 100 chars kept
    assert rows[1]["f2"] == 1.0 and rows[1]["compression"] == pytest.approx(0.7)
    assert rows[1]["mean_compression"] == pytest.approx((30 / 40 + 40 / 60) / 2)
    # t = 0.95: nothing kept
    assert rows[2]["recall"] == 0.0 and rows[2]["compression"] == 1.0
    assert best_threshold(probs, gold, lengths, thresholds=[0.0, 0.5, 0.95])["threshold"] == 0.5
    # strict ">": a probability equal to the threshold is dropped
    assert threshold_sweep([0.5], [1], [4], thresholds=[0.5])[0]["recall"] == 0.0
    # ties in F-beta go to the higher threshold
    assert best_threshold(probs, gold, lengths, thresholds=[0.4, 0.5])["threshold"] == 0.5


# --------------------------------------------------------------------------------------------------
# Baselines


def test_matched_compression_hits_target():
    rng = np.random.default_rng(1)
    lengths = rng.integers(20, 200, size=2000)
    scores = np.round(rng.random(2000), 1)  # many ties
    total = lengths.sum()
    for target in (0.0, 0.25, 0.5, 0.83, 1.0):
        out = select_matched_compression(scores, lengths, target)
        assert abs(out["compression"] - target) <= 0.5 * lengths.max() / total + 1e-12
        kept = np.array(out["kept"])
        assert out["compression"] == pytest.approx(1 - lengths[kept].sum() / total)
        if kept.any() and (~kept).any():  # a global cut-off: no dropped sentence scores above a kept one
            assert scores[~kept].max() <= scores[kept].min()
    with pytest.raises(ValueError, match="target_compression"):
        select_matched_compression([1.0], [3], 1.5)


def test_top_ratio_per_passage():
    assert select_top_ratio([0.1, 0.9, 0.5], [10, 10, 10], char_fraction=0.5) == [False, True, False]
    assert select_top_ratio([0.1, 0.9, 0.5], [10, 10, 10], char_fraction=0.7) == [False, True, True]
    assert select_top_ratio([0.3, 0.3], [5, 5], char_fraction=1.0) == [True, True]
    assert select_top_ratio([0.3, 0.3], [5, 5], char_fraction=0.0) == [False, False]


def test_random_selector_deterministic_per_seed():
    sentences = ["a b", "c d", "e f", "g h"]
    first = RandomSelector(seed=3).scores("q", sentences)
    other = RandomSelector(seed=3)
    other.scores("another query", ["x"])  # call order does not matter
    assert other.scores("q", sentences) == first
    assert RandomSelector(seed=4).scores("q", sentences) != first
    assert all(0.0 <= x < 1.0 for x in first)
    assert KeepAllSelector().scores("q", sentences) == [1.0] * 4


def test_bm25_ranks_the_matching_sentence_first():
    bm25 = BM25Selector()
    sentences = ["Cats sleep a lot. ", "The Eiffel Tower is in Paris. ", "Rain falls in autumn."]
    scores = bm25.scores("where is the eiffel tower", sentences)
    assert int(np.argmax(scores)) == 1
    assert bm25.scores("eiffel tower", ["The Eiffel Tower.", "Nothing."]) [0] > 0.0  # tiny corpora work
    ja = bm25.scores("富士山の高さ", ["東京は首都だ。", "富士山の高さは3776メートル。"])
    assert int(np.argmax(ja)) == 1
    assert tokenize("富士山は、日本", "ja") == ["富士", "士山", "山は", "日本"]
    assert bm25.scores("", ["a"]) == [0.0] and bm25.scores("q", []) == []


@pytest.fixture(scope="module")
def minilm_selector():
    from text_pruner_rag.evaluation import EmbeddingSelector

    return EmbeddingSelector()


def test_embedding_selector(minilm_selector):
    sentences = ["The Eiffel Tower is located in Paris, France.", "Bananas are rich in potassium."]
    scores = minilm_selector.scores("Where is the Eiffel Tower?", sentences)
    assert scores[0] > scores[1] and all(-1.0 <= s <= 1.0 for s in scores)
    many = minilm_selector.scores_many("Where is the Eiffel Tower?", [sentences, [], sentences[:1]])
    assert [len(g) for g in many] == [2, 0, 1] and many[2][0] == pytest.approx(scores[0], abs=1e-5)


# --------------------------------------------------------------------------------------------------
# Harness


def _row(report, method, threshold):
    rows = [r for r in report["results"] if r["method"] == method and r["threshold"] == threshold]
    assert len(rows) == 1, (method, threshold, rows)
    return rows[0]


def test_evaluate_hand_computed_values(minilm_selector):
    pruner = FakePruner()
    records = _records()
    report = evaluate(pruner, records, thresholds=[0.1, 0.95], baselines=["keep_all", "random", "bm25", minilm_selector],
                      batch_size=4)  # fmt: skip
    assert isinstance(pruner, Pruner)
    # one call per query, the default policy, no per-query progress bar
    assert pruner.calls == [{"threshold": None, "batch_size": 4, "show_progress_bar": False}] * 2
    assert isinstance(report, EvaluationReport) and isinstance(report.results[0], ResultRow)
    assert report["thresholds"] == [0.1, 0.95] and report["default_threshold"] == 0.1
    assert (report["n_queries"], report["n_passages"], report["n_sentences"]) == (2, 4, 9)
    assert (report["n_answerable_passages"], report["n_unanswerable_passages"]) == (2, 2)
    assert {r["method"] for r in report["results"]} == {"pruner", "keep_all", "random", "bm25", "embedding"}
    assert len(report["results"]) == 2 * 4 + 1  # keep_all once
    for row in report["results"]:
        assert {"method", "threshold", "precision", "recall", "f1", "f2", "f2.5", "compression"} <= set(row)

    # t = 0.1: the fake keeps "The Eiffel Tower stands in Paris." (gold) and both sentences of the
    # London/engineer negative; it misses the Japanese gold sentence (no shared \w+ word).
    row = _row(report, "pruner", 0.1)
    assert (row["tp"], row["fp"], row["fn"], row["tn"]) == (1, 2, 1, 5)
    assert row["precision"] == pytest.approx(1 / 3) and row["recall"] == pytest.approx(1 / 2)
    assert row["f1"] == pytest.approx(0.4) and row["f2"] == pytest.approx(5 / 11)
    assert row["f2.5"] == pytest.approx(f_beta(1 / 3, 1 / 2, 2.5))
    texts = ["".join(_sentences(p)) for r in records for p in r["passages"]]
    kept = len(_sentences(records[0]["passages"][0])[0]) + len(texts[2])
    assert row["compression"] == pytest.approx(1 - kept / sum(map(len, texts)))
    assert row["compression_unanswerable"] == pytest.approx(1 - len(texts[2]) / (len(texts[1]) + len(texts[2])))
    assert row["emptied_negative_rate"] == 0.5  # bananas emptied, Eiffel-engineer passage not
    assert row["answer_retention"] == 0.5  # Paris kept, 3776メートル lost
    # ranking: P1 and P3 both score 0.9, ties are pessimistic -> the gold passage is 2nd
    assert row["mrr"] == pytest.approx(0.5) and row["ndcg@10"] == pytest.approx(1 / math.log2(3))
    assert report["ranking"]["pruner"]["n_ranked_queries"] == 1
    assert report["ranking"]["pruner"]["reciprocal_ranks"] == [pytest.approx(0.5)]  # per query, for paired tests

    keep_all = _row(report, "keep_all", None)
    assert keep_all["recall"] == 1.0 and keep_all["compression"] == 0.0 and keep_all["precision"] == pytest.approx(2 / 9)
    assert keep_all["answer_retention"] == 1.0 and keep_all["emptied_negative_rate"] == 0.0
    nothing = _row(report, "pruner", 0.95)
    assert nothing["recall"] == 0.0 and nothing["compression"] == 1.0 and nothing["emptied_negative_rate"] == 1.0
    longest = max(len(s) for r in records for p in r["passages"] for s in _sentences(p))
    for method in ("random", "bm25", "embedding"):
        for threshold in (0.1, 0.95):
            baseline, target = _row(report, method, threshold), _row(report, "pruner", threshold)["compression"]
            assert baseline["target_compression"] == target
            assert abs(baseline["compression"] - target) <= 0.5 * longest / sum(map(len, texts)) + 1e-12
    json.dumps(report.to_dict())  # the report.json layout is JSON-serialisable
    markdown = format_markdown(report)
    assert "## At the default threshold (0.100)" in markdown and "| **pruner** | 0.100 |" in markdown


def _sentences(passage):
    return [passage["text"][s:e] for s, e in passage["spans"]]


def test_evaluate_fraction_above_threshold_runs_once_per_threshold():
    class NaverLike(FakePruner):
        sentence_rounding = "fraction_above_threshold"  # the Pruner property, not model.config

    pruner = NaverLike()
    report = evaluate(pruner, _records(), thresholds=[0.5, 0.95], baselines=[])
    # one pass for probabilities and scores, then one pass per threshold (0.1 default, 0.5, 0.95)
    assert len(pruner.calls) == 2 + 3 * 2
    assert sorted(c["threshold"] for c in pruner.calls[2:]) == [0.1, 0.1, 0.5, 0.5, 0.95, 0.95]
    assert _row(report, "pruner", 0.95)["recall"] == 0.0


def test_evaluate_ignores_a_model_config_behind_the_protocol():
    class ConfigOnly(FakePruner):
        class model:  # noqa: N801 - a rule hidden in model.config is not the Pruner's business
            config = type("C", (), {"sentence_rounding": "fraction_above_threshold"})()

    pruner = ConfigOnly()
    evaluate(pruner, _records(), thresholds=[0.5], baselines=[])
    assert len(pruner.calls) == 2  # one pass: the default rule ("token_mean"), swept on probabilities


def test_typed_report_round_trips_the_json_layout():
    report = evaluate(FakePruner(), _records(), thresholds=[0.1, 0.95], baselines=["keep_all", "bm25"])
    layout = report.to_dict()
    assert EvaluationReport.from_dict(json.loads(json.dumps(layout))).to_dict() == layout
    assert list(layout)[:3] == ["model", "data", "n_queries"] and "command" not in layout
    pruner_row, bm25_row = report.row("pruner", 0.1), report.row("bm25", 0.1)
    assert pruner_row.to_dict()["f2.5"] == pruner_row.f2_5 and "target_compression" not in pruner_row.to_dict()
    assert list(bm25_row.to_dict())[-4:] == ["target_compression", "cutoff", "mrr", "ndcg@10"]
    assert report.counts.n_queries == layout["n_queries"] == 2
    assert {(r.method, r.threshold) for r in report.rows_at_default()} == {("pruner", 0.1), ("bm25", 0.1),
                                                                           ("keep_all", None)}
    with pytest.raises(KeyError, match="no row for method 'pruner' at threshold 0.5"):
        report.row("pruner", 0.5)


def test_evaluate_prints_an_estimate(capsys):
    evaluate(FakePruner(), _records(), thresholds=[0.5], baselines=["keep_all"], show_progress_bar=True)
    err = capsys.readouterr().err
    assert "Estimated run time: ~" in err and "for queries 2-2 " in err and "plus" in err


def test_evaluate_aligns_merged_sentences_by_offsets():
    class MergingPruner(FakePruner):
        """Returns the first gold sentence of each context as a single kept sentence, the rest merged."""

        def prune_many(self, query, contexts, **kwargs):
            results = []
            for sentences in contexts:
                full, head = "".join(sentences), len(sentences[0])
                scored = [SentenceScore(full[:head], 0, head, 0.8, True)]
                if len(full) > head:
                    scored.append(SentenceScore(full[head:], head, len(full), 0.2, False))
                results.append(PruningResult(full[:head], 0.5, 1 - head / len(full), scored, full))
            return results

    report = evaluate(MergingPruner(), _records(), thresholds=[0.5], baselines=[])
    row = _row(report, "pruner", 0.5)
    # first sentence of each of the 4 passages kept: 2 gold (tp), 2 negatives (fp), 5 dropped (tn)
    assert (row["tp"], row["fp"], row["fn"], row["tn"]) == (2, 2, 0, 5)
    assert report["ranking"]["pruner"]["mrr"] == pytest.approx(1 / 3)  # constant scores, ties pessimistic


def test_evaluate_rejects_bad_input():
    bad = _records()[:1]
    bad[0]["passages"][0]["relevance"] = [1]
    with pytest.raises(ValueError, match="one relevance label per span"):
        evaluate(FakePruner(), bad, baselines=[])
    with pytest.raises(ValueError, match=r"Thresholds must be in \[0, 1\], but got \[1.5\]"):
        evaluate(FakePruner(), _records(), thresholds=[1.5], baselines=[])
    with pytest.raises(ValueError, match="Baseline names must be unique"):
        evaluate(FakePruner(), _records(), baselines=["random", RandomSelector(seed=1)])
    with pytest.raises(ValueError, match="at least one record"):
        evaluate(FakePruner(), [], baselines=[])


# --------------------------------------------------------------------------------------------------
# Benchmark scripts (thin CLIs)


def _load_script(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_speed_script_reports_ratio(tiny_pruner):
    speed = _load_script("speed")
    groups = speed.synthetic_groups(n_contexts=12, group_size=4, sentences_per_context=3, seed=0)
    assert len(groups) == 3 and all(len(contexts) == 4 for _, contexts in groups)
    out = speed.benchmark(tiny_pruner, groups, batch_size=4, repeats=1, warmup=False)
    assert {"rerank_seq_per_s", "prune_seq_per_s", "ratio_prune_over_rerank"} <= set(out)
    assert out["n_contexts"] == 12 and out["ratio_prune_over_rerank"] > 0


def test_bm25_auto_language_is_the_pruner_detector():
    from text_pruner_rag.chunking import detect_language
    from text_pruner_rag.evaluation.baselines import BM25Selector

    # An English passage quoting one Japanese name is English for the pruner's splitter, and so for BM25.
    sentences = ["Tokyo (東京) became the capital in 1868. ", "Kyoto was the capital before. ", "Paris is in France."]
    query = "When did Tokyo become the capital?"
    assert detect_language("\n".join([query, *sentences])) == "en"
    auto = BM25Selector().scores(query, sentences)
    assert auto == BM25Selector(language="en").scores(query, sentences)
    assert auto != BM25Selector(language="ja").scores(query, sentences)
    japanese = ["東京は1868年に首都になった。", "京都はその前の首都だった。"]
    assert BM25Selector().scores("東京はいつ首都になった？", japanese) == BM25Selector(language="ja").scores(
        "東京はいつ首都になった？", japanese)
