"""Pure tests of the keep/drop rules and their documented order, and of threshold calibration."""

from __future__ import annotations

import pytest

from text_pruner_rag.evaluation.metrics import best_sweep_row, best_threshold, threshold_sweep
from text_pruner_rag.policy import PruningPolicy, SentenceAggregator

PROBS = [0.9, 0.2, 0.6, 0.05, 0.4]


def test_threshold_is_strict():
    assert PruningPolicy(threshold=0.4).select(PROBS) == [True, False, True, False, False]
    assert PruningPolicy(threshold=0.5).select([0.5, 0.5000001]) == [False, True]


def test_threshold_extremes():
    assert PruningPolicy(threshold=0.0).select([0.0, 0.01, 1.0]) == [False, True, True]
    assert PruningPolicy(threshold=1.0).select([0.0, 0.99, 1.0]) == [False, False, False]


def test_empty():
    assert PruningPolicy(min_sentences=3, keep_first=True, threshold=0.5).select([]) == []


def test_fraction_rule_replaces_the_mean():
    fractions = [0.0, 0.8, 0.3, 0.6, 0.1]
    kept = PruningPolicy(threshold=0.5).select(PROBS, fractions_above=fractions)
    assert kept == [False, True, False, True, False]


def test_keep_ratio_ranks_and_ignores_threshold():
    assert PruningPolicy(keep_ratio=0.4, threshold=0.99).select(PROBS) == [True, False, True, False, False]
    # ceil(0.5 * 5) = 3
    assert PruningPolicy(keep_ratio=0.5, threshold=0.0).select(PROBS) == [True, False, True, False, True]
    # at least one sentence, ties go to the earlier sentence
    assert PruningPolicy(keep_ratio=0.01, threshold=0.5).select([0.3, 0.7, 0.7]) == [False, True, False]
    assert PruningPolicy(keep_ratio=1.0, threshold=1.0).select(PROBS) == [True] * 5


def test_context_token_budget_drops_lowest_probability_first():
    counts = [10, 10, 10, 10, 10]
    policy = PruningPolicy(context_token_budget=20, threshold=0.1)
    assert policy.select(PROBS, token_counts=counts) == [True, False, True, False, False]
    assert PruningPolicy(context_token_budget=0, threshold=0.1).select(PROBS, token_counts=counts) == [False] * 5
    # a budget that fits everything changes nothing
    assert PruningPolicy(context_token_budget=1000, threshold=0.1).select(PROBS, token_counts=counts) == \
        PruningPolicy(threshold=0.1).select(PROBS)
    # without token counts the budget is not applied
    assert PruningPolicy(context_token_budget=0, threshold=0.1).select(PROBS) == [True, True, True, False, True]


def test_context_token_budget_counts_tokens_and_stops_as_soon_as_it_fits():
    counts = [5, 10, 30]
    assert PruningPolicy(context_token_budget=35, threshold=0.1).select([0.9, 0.2, 0.6], token_counts=counts) == \
        [True, False, True]
    assert PruningPolicy(context_token_budget=34, threshold=0.1).select([0.9, 0.2, 0.6], token_counts=counts) == \
        [True, False, False]


def test_min_sentences_adds_best_dropped():
    assert PruningPolicy(min_sentences=2, threshold=0.95).select(PROBS) == [True, False, True, False, False]
    assert PruningPolicy(min_sentences=10, threshold=0.95).select(PROBS) == [True] * 5
    assert PruningPolicy(min_sentences=1, threshold=0.5).select(PROBS) == [True, False, True, False, False]


def test_min_sentences_wins_over_context_token_budget():
    kept = PruningPolicy(context_token_budget=0, min_sentences=1, threshold=0.1).select(PROBS, token_counts=[5] * 5)
    assert kept == [True, False, False, False, False]


def test_keep_first_only_when_something_else_is_kept():
    assert PruningPolicy(keep_first=True, threshold=0.5).select([0.1, 0.9, 0.2]) == [True, True, False]
    assert PruningPolicy(keep_first=True, threshold=0.5).select([0.1, 0.2, 0.3]) == [False, False, False]
    # applied last: after the token budget, even past the budget
    kept = PruningPolicy(keep_first=True, context_token_budget=10, threshold=0.05).select(
        [0.1, 0.9, 0.8], token_counts=[10, 10, 10])
    assert kept == [True, True, False]
    # and after min_sentences
    kept = PruningPolicy(keep_first=True, min_sentences=1, threshold=0.9).select([0.1, 0.3, 0.2])
    assert kept == [True, True, False]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"threshold": 1.2}, "threshold"), ({"threshold": -0.01}, "threshold"), ({"min_sentences": -1}, "min_sentences"),
     ({"keep_ratio": 0.0}, "keep_ratio"), ({"keep_ratio": 1.5}, "keep_ratio"), ({"token_budget": -5}, "token_budget")],
)
def test_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PruningPolicy(**kwargs)


def test_threshold_sweep_by_hand():
    probs = [0.9, 0.7, 0.4, 0.2]
    labels = [1, 0, 1, 0]
    lengths = [10, 20, 30, 40]
    (row,) = threshold_sweep(probs, labels, lengths, [0.5], beta=1.0)
    # kept: 0.9 (tp), 0.7 (fp); missed: 0.4 (fn)
    assert row["precision"] == pytest.approx(0.5)
    assert row["recall"] == pytest.approx(0.5)
    assert row["f_beta"] == pytest.approx(0.5)
    assert row["compression"] == pytest.approx(1 - 30 / 100)
    with pytest.raises(ValueError):
        threshold_sweep([0.1], [1, 0], [1], [0.5])


def test_calibration_on_a_hand_made_dev_set_one_tie_rule():
    probs = [0.95, 0.8, 0.55, 0.3, 0.25, 0.1, 0.05]
    labels = [1, 1, 0, 1, 0, 0, 0]
    lengths = [1] * len(probs)
    # F2 per candidate (keep iff p > t):
    #   t=0.5: tp=2 fp=1 fn=1 -> P=2/3 R=2/3 -> F2=2/3
    #   t=0.28: tp=3 fp=1 fn=0 -> P=3/4 R=1 -> F2 = 5*0.75/(4*0.75+1) = 0.9375
    #   t=0.2: tp=3 fp=2 -> P=0.6 R=1 -> F2 = 3/3.4 = 0.882
    table = threshold_sweep(probs, labels, lengths, [0.2, 0.26, 0.28, 0.5])
    by_t = {row["threshold"]: row for row in table}
    assert by_t[0.28]["f_beta"] == pytest.approx(0.9375)
    assert by_t[0.5]["f_beta"] == pytest.approx(2 / 3)
    assert by_t[0.2]["f_beta"] == pytest.approx(3 / 3.4)
    # 0.26 and 0.28 tie at F2 = 0.9375: the higher one wins, in both entry points
    assert best_sweep_row(table)["threshold"] == pytest.approx(0.28)
    assert best_threshold(probs, labels, lengths, [0.2, 0.26, 0.28, 0.5])["threshold"] == pytest.approx(0.28)
    assert best_threshold(probs, labels, lengths, [0.28, 0.26, 0.2, 0.5])["threshold"] == pytest.approx(0.28)
    # precision-weighted F0.5 prefers the stricter threshold
    assert best_threshold(probs, labels, lengths, [0.2, 0.28, 0.9], beta=0.5)["threshold"] == pytest.approx(0.28)
    with pytest.raises(ValueError, match="at least one"):
        best_sweep_row([])


def test_min_recall_picks_the_most_compressing_threshold_that_keeps_the_recall():
    probs = [0.95, 0.8, 0.55, 0.3, 0.25, 0.1, 0.05]
    labels = [1, 1, 0, 1, 0, 0, 0]
    table = threshold_sweep(probs, labels, [1] * len(probs), [0.2, 0.26, 0.28, 0.5, 0.9])
    # recall: 1 at 0.2/0.26/0.28, 2/3 at 0.5, 1/3 at 0.9
    assert best_sweep_row(table, min_recall=0.9)["threshold"] == pytest.approx(0.28)
    assert best_sweep_row(table, min_recall=0.6)["threshold"] == pytest.approx(0.5)
    assert best_sweep_row(table, min_recall=0.0)["threshold"] == pytest.approx(0.9)
    # nobody reaches it: the highest recall, ties to the highest threshold
    low_recall = [row for row in table if row["threshold"] >= 0.5]
    assert best_sweep_row(low_recall, min_recall=0.9)["threshold"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="min_recall"):
        best_sweep_row(table, min_recall=1.5)


def test_training_calibration_uses_the_same_picker(monkeypatch):
    from text_pruner_rag.training import card

    probs, labels, lengths = [0.95, 0.8, 0.55, 0.3, 0.25, 0.1], [1, 1, 0, 1, 0, 0], [1] * 6
    monkeypatch.setattr(card, "collect_dev_predictions", lambda *a: (probs, labels, lengths))
    best, table, _ = card.calibrate(None, [], thresholds=[0.2, 0.26, 0.28, 0.5])
    assert best == best_threshold(probs, labels, lengths, [0.2, 0.26, 0.28, 0.5])["threshold"] == 0.28
    # the recipe's evaluation.min_recall reaches the same picker
    assert card.calibrate(None, [], thresholds=[0.2, 0.26, 0.28, 0.5], min_recall=0.6)[0] == 0.5
    monkeypatch.setattr(card, "collect_dev_predictions", lambda *a: ([], [], []))
    with pytest.raises(ValueError, match="empty"):
        card.calibrate(None, [])


# -- one owner of the options ---------------------------------------------------------------------


def test_select_uses_the_policy_threshold_and_needs_one():
    assert PruningPolicy(threshold=0.3).select([0.9, 0.31, 0.3]) == [True, True, False]
    assert PruningPolicy(threshold=0.5).select([0.9, 0.31, 0.3]) == [True, False, False]
    with pytest.raises(ValueError, match="resolve"):
        PruningPolicy().select([0.9])
    # keep_ratio needs no threshold
    assert PruningPolicy(keep_ratio=0.5).select([0.1, 0.9]) == [False, True]
    with pytest.raises(ValueError, match="token_counts"):
        PruningPolicy(threshold=0.5).select([0.9, 0.1], token_counts=[1])


def test_resolve_fills_only_a_missing_threshold():
    assert PruningPolicy().resolve(0.25).threshold == 0.25
    assert PruningPolicy(threshold=0.7).resolve(0.25).threshold == 0.7
    with pytest.raises(ValueError, match="default_threshold"):
        PruningPolicy().resolve(1.5)


def test_from_options_policy_or_keywords():
    base = PruningPolicy(threshold=0.2, min_sentences=2, keep_first=True)
    assert PruningPolicy.from_options() == PruningPolicy()
    assert PruningPolicy.from_options(base) is base
    assert PruningPolicy.from_options(threshold=0.2, min_sentences=2, keep_first=True) == base
    # a keyword given explicitly replaces the policy's field; None means "not given"
    merged = PruningPolicy.from_options(base, threshold=0.6, keep_ratio=None)
    assert merged == PruningPolicy(threshold=0.6, min_sentences=2, keep_first=True)
    with pytest.raises(TypeError, match="PruningPolicy"):
        PruningPolicy.from_options({"threshold": 0.2})
    with pytest.raises(TypeError, match="unknown pruning option"):
        PruningPolicy.from_options(treshold=0.2)
    with pytest.raises(ValueError, match="threshold"):
        PruningPolicy.from_options(base, threshold=2.0)
    assert set(PruningPolicy.option_names()) == {
        "threshold", "min_sentences", "keep_first", "keep_ratio", "context_token_budget", "token_budget",
        "always_select_title"}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"threshold": "0.5"}, "threshold"), ({"threshold": True}, "threshold"), ({"min_sentences": 1.5}, "min_sentences"),
     ({"keep_first": 1}, "keep_first"), ({"keep_ratio": "half"}, "keep_ratio"), ({"token_budget": "5"}, "token_budget")],
)
def test_wrong_types_are_rejected(kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        PruningPolicy(**kwargs)


def test_sentence_aggregator_means_tokens_across_windows():
    aggregate = SentenceAggregator([2, 1])
    aggregate.add(0, [-1, 0, 0, 1, -1], [0.0, 0.2, 0.6, 0.9, 1.0])  # special tokens (-1) ignored
    aggregate.add(0, [1, 1], [0.3, 0.3])  # sentence 1 continues in a second window
    aggregate.add(1, [-1], [0.7])  # context 1: its only sentence has no token
    assert aggregate.sentence_probabilities()[0] == pytest.approx([0.4, 0.5])
    assert aggregate.sentence_probabilities()[1] == [0.0]
    assert aggregate.token_counts() == [[2, 3], [0]]
    assert aggregate.fractions_above(0.5)[0] == pytest.approx([0.5, 1 / 3])
    assert not hasattr(aggregate, "threshold")  # the policy is the one owner of the threshold


def test_sentence_aggregator_fills_tokenless_sentences_from_neighbours():
    aggregate = SentenceAggregator([3])
    aggregate.add(0, [1], [0.8])
    assert aggregate.sentence_probabilities() == [[0.8, 0.8, 0.8]]
    aggregate = SentenceAggregator([3])
    aggregate.add(0, [0, 2], [0.2, 1.5])  # clipped to [0, 1]
    assert aggregate.sentence_probabilities() == [[0.2, 0.2, 1.0]]


def test_sentence_aggregator_select_applies_the_checkpoint_rounding():
    # sentence 0: tokens 0.9, 0.1, 0.1 -> mean 0.367 > 0.3 but only 1/3 of its tokens above 0.3 (> 0.3 too);
    # sentence 1: tokens 0.35, 0.35, 0.35, 0.0 -> mean 0.26 <= 0.3, but 3/4 of its tokens above 0.3.
    aggregate = SentenceAggregator([2])
    aggregate.add(0, [0, 0, 0, 1, 1, 1, 1], [0.9, 0.1, 0.1, 0.35, 0.35, 0.35, 0.0])
    policy = PruningPolicy(threshold=0.3)
    assert aggregate.select(policy) == [[True, False]]
    assert aggregate.select(policy, "fraction_above_threshold") == [[True, True]]
    aggregate = SentenceAggregator([2])
    aggregate.add(0, [0, 0, 0, 1, 1, 1, 1], [0.9, 0.1, 0.1, 0.35, 0.35, 0.35, 0.0])
    assert aggregate.select(PruningPolicy(threshold=0.4), "fraction_above_threshold") == [[False, False]]
    assert aggregate.select(PruningPolicy(threshold=0.4, min_sentences=1)) == [[True, False]]
    with pytest.raises(ValueError, match="sentence_rounding"):
        aggregate.select(policy, "mean")


# -- token budget across documents (pure) ---------------------------------------------------------
from text_pruner_rag.policy import fit_token_budget, select_within_token_budget  # noqa: E402
from text_pruner_rag.results import PruningResult, SentenceScore  # noqa: E402


def test_cross_document_budget_takes_most_probable_sentences_first():
    probs = [[0.9, 0.3], [0.8, 0.7, 0.1]]
    counts = [[4, 4], [4, 4, 4]]
    cands = [[True, True], [True, True, True]]
    taken = select_within_token_budget(probs, counts, cands, 12)
    assert taken == [[True, False], [True, True, False]]
    assert select_within_token_budget(probs, counts, cands, 8) == [[True, False], [True, False, False]]
    assert select_within_token_budget(probs, counts, cands, 0) == [[False, False], [False, False, False]]
    assert select_within_token_budget(probs, counts, cands, 100) == [[True, True], [True, True, True]]


def test_cross_document_budget_only_takes_candidates():
    probs = [[0.9, 0.8], [0.7]]
    taken = select_within_token_budget(probs, [[1, 1], [1]], [[False, True], [True]], 100)
    assert taken == [[False, True], [True]]


def test_cross_document_budget_skips_a_sentence_that_does_not_fit_and_fills_with_later_ones():
    probs = [[0.9, 0.8, 0.2]]
    taken = select_within_token_budget(probs, [[5, 30, 3]], [[True, True, True]], 10)
    assert taken == [[True, False, True]]


def test_cross_document_budget_ties_broken_by_document_score_then_order():
    probs = [[0.5], [0.5], [0.5]]
    counts = [[3], [3], [3]]
    cands = [[True], [True], [True]]
    assert select_within_token_budget(probs, counts, cands, 3, [0.1, 0.9, 0.5]) == [[False], [True], [False]]
    assert select_within_token_budget(probs, counts, cands, 6, [0.1, 0.9, 0.5]) == [[False], [True], [True]]
    assert select_within_token_budget(probs, counts, cands, 3, [None, 0.2, None]) == [[False], [True], [False]]
    assert select_within_token_budget(probs, counts, cands, 3) == [[True], [False], [False]]


def test_cross_document_budget_keep_first_takes_the_title_with_the_sentence():
    probs = [[0.1, 0.9, 0.8]]
    counts = [[2, 5, 5]]
    cands = [[True, True, True]]
    assert select_within_token_budget(probs, counts, cands, 7, keep_first=True) == [[True, True, False]]
    # neither 0.9 nor 0.8 fits with the title; the title itself is a candidate and fits alone
    assert select_within_token_budget(probs, counts, cands, 6, keep_first=True) == [[True, False, False]]
    assert select_within_token_budget(probs, counts, [[False, True, True]], 6, keep_first=True) == \
        [[False, True, False]]
    assert select_within_token_budget(probs, counts, cands, 6) == [[False, True, False]]


def test_cross_document_budget_drops_a_document_of_zero_token_sentences():
    taken = select_within_token_budget([[0.9, 0.5], [0.8]], [[0, 10], [3]], [[True, True], [True]], 5)
    assert taken == [[False, False], [True]]


@pytest.mark.parametrize("budget", [-1, 1.5, True])
def test_cross_document_budget_rejects_bad_budget(budget):
    with pytest.raises((TypeError, ValueError), match="token_budget"):
        select_within_token_budget([[0.5]], [[1]], [[True]], budget)


def test_cross_document_budget_rejects_ragged_inputs():
    with pytest.raises(ValueError, match="differ in length"):
        select_within_token_budget([[0.5, 0.2]], [[1]], [[True, True]], 5)
    with pytest.raises(ValueError, match="one entry per document"):
        select_within_token_budget([[0.5]], [[1], [2]], [[True]], 5)


def _result(sentences, probabilities, kept, score):
    spans, start = [], 0
    for text in sentences:
        spans.append((start, start + len(text)))
        start += len(text)
    context = "".join(sentences)
    scored = [SentenceScore(t, a, b, p, k) for t, (a, b), p, k in zip(sentences, spans, probabilities, kept)]
    pruned = "".join(t for t, k in zip(sentences, kept) if k)
    return PruningResult(pruned, score, 1 - len(pruned) / len(context), scored, context)


def _words(texts):
    return [len(t.split()) for t in texts]


def test_fit_token_budget_keeps_order_and_fits():
    results = [
        _result(["a b c. ", "d e. ", "f g h i. "], [0.2, 0.9, 0.6], [True, True, True], 1.0),
        _result(["j k. ", "l m n. "], [0.95, 0.1], [True, False], 2.0),
    ]
    fitted = fit_token_budget(results, 8, _words)
    assert [r.pruned_text for r in fitted] == ["d e. f g h i. ", "j k. "]
    assert sum(_words([r.pruned_text for r in fitted])) <= 8
    # 7 tokens: "f g h i." (4) no longer fits after "j k." and "d e."; "a b c." (3) does
    assert [r.pruned_text for r in fit_token_budget(results, 7, _words)] == ["a b c. d e. ", "j k. "]
    assert fitted[1] is results[1]  # unchanged result returned as is
    assert fitted[0].compression_rate == pytest.approx(1 - len("d e. f g h i. ") / len(results[0].context))
    assert [s.kept for s in fitted[0].sentences] == [False, True, True]
    assert fitted[0].score == 1.0 and fitted[0].context == results[0].context
    # a document left with nothing: empty text, score kept
    fitted = fit_token_budget(results, 2, _words)
    assert [r.pruned_text for r in fitted] == ["", "j k. "]
    assert fitted[0].score == 1.0 and not any(s.kept for s in fitted[0].sentences)


def test_fit_token_budget_recounts_the_joined_text():
    # a counter that charges one extra token per text joined from two or more sentences
    def merged(texts):
        return [len(t.split()) + (t.count(".") > 1) for t in texts]

    results = [_result(["a b. ", "c d. "], [0.9, 0.8], [True, True], 1.0)]
    assert sum(merged([r.pruned_text for r in fit_token_budget(results, 4, merged)])) <= 4
    assert fit_token_budget(results, 4, merged)[0].pruned_text == "a b. "
    assert fit_token_budget(results, 5, merged)[0].pruned_text == "a b. c d. "


def test_fit_token_budget_empty_and_invalid():
    assert fit_token_budget([], 10, _words) == []
    with pytest.raises(ValueError, match="token_budget"):
        fit_token_budget([], -1, _words)


def test_policy_holds_both_budgets():
    policy = PruningPolicy(context_token_budget=5, token_budget=50)
    assert (policy.context_token_budget, policy.token_budget) == (5, 50)
    with pytest.raises(ValueError, match="context_token_budget"):
        PruningPolicy(context_token_budget=-1)
