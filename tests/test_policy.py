"""Pure tests of the keep/drop rules and their documented order, and of threshold calibration."""

from __future__ import annotations

import pytest

from text_pruner_rag.policy import PruningPolicy, calibrate_threshold, threshold_table

PROBS = [0.9, 0.2, 0.6, 0.05, 0.4]


def test_threshold_is_strict():
    assert PruningPolicy().select(PROBS, threshold=0.4) == [True, False, True, False, False]
    assert PruningPolicy().select([0.5, 0.5000001], threshold=0.5) == [False, True]


def test_threshold_extremes():
    assert PruningPolicy().select([0.0, 0.01, 1.0], threshold=0.0) == [False, True, True]
    assert PruningPolicy().select([0.0, 0.99, 1.0], threshold=1.0) == [False, False, False]


def test_empty():
    assert PruningPolicy(min_sentences=3, keep_first=True).select([], threshold=0.5) == []


def test_fraction_rule_replaces_the_mean():
    fractions = [0.0, 0.8, 0.3, 0.6, 0.1]
    kept = PruningPolicy().select(PROBS, threshold=0.5, fractions_above=fractions)
    assert kept == [False, True, False, True, False]


def test_keep_ratio_ranks_and_ignores_threshold():
    assert PruningPolicy(keep_ratio=0.4).select(PROBS, threshold=0.99) == [True, False, True, False, False]
    # ceil(0.5 * 5) = 3
    assert PruningPolicy(keep_ratio=0.5).select(PROBS, threshold=0.0) == [True, False, True, False, True]
    # at least one sentence, ties go to the earlier sentence
    assert PruningPolicy(keep_ratio=0.01).select([0.3, 0.7, 0.7], threshold=0.5) == [False, True, False]
    assert PruningPolicy(keep_ratio=1.0).select(PROBS, threshold=1.0) == [True] * 5


def test_token_budget_drops_lowest_probability_first():
    counts = [10, 10, 10, 10, 10]
    policy = PruningPolicy(token_budget=20)
    assert policy.select(PROBS, threshold=0.1, token_counts=counts) == [True, False, True, False, False]
    assert PruningPolicy(token_budget=0).select(PROBS, threshold=0.1, token_counts=counts) == [False] * 5
    # a budget that fits everything changes nothing
    assert PruningPolicy(token_budget=1000).select(PROBS, threshold=0.1, token_counts=counts) == \
        PruningPolicy().select(PROBS, threshold=0.1)
    # without token counts the budget is not applied
    assert PruningPolicy(token_budget=0).select(PROBS, threshold=0.1) == [True, True, True, False, True]


def test_token_budget_counts_tokens_and_stops_as_soon_as_it_fits():
    counts = [5, 10, 30]
    assert PruningPolicy(token_budget=35).select([0.9, 0.2, 0.6], threshold=0.1, token_counts=counts) == \
        [True, False, True]
    assert PruningPolicy(token_budget=34).select([0.9, 0.2, 0.6], threshold=0.1, token_counts=counts) == \
        [True, False, False]


def test_min_sentences_adds_best_dropped():
    assert PruningPolicy(min_sentences=2).select(PROBS, threshold=0.95) == [True, False, True, False, False]
    assert PruningPolicy(min_sentences=10).select(PROBS, threshold=0.95) == [True] * 5
    assert PruningPolicy(min_sentences=1).select(PROBS, threshold=0.5) == [True, False, True, False, False]


def test_min_sentences_wins_over_token_budget():
    kept = PruningPolicy(token_budget=0, min_sentences=1).select(PROBS, threshold=0.1, token_counts=[5] * 5)
    assert kept == [True, False, False, False, False]


def test_keep_first_only_when_something_else_is_kept():
    assert PruningPolicy(keep_first=True).select([0.1, 0.9, 0.2], threshold=0.5) == [True, True, False]
    assert PruningPolicy(keep_first=True).select([0.1, 0.2, 0.3], threshold=0.5) == [False, False, False]
    # applied last: after the token budget, even past the budget
    kept = PruningPolicy(keep_first=True, token_budget=10).select(
        [0.1, 0.9, 0.8], threshold=0.05, token_counts=[10, 10, 10])
    assert kept == [True, True, False]
    # and after min_sentences
    kept = PruningPolicy(keep_first=True, min_sentences=1).select([0.1, 0.3, 0.2], threshold=0.9)
    assert kept == [True, True, False]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"threshold": 1.2}, "threshold"), ({"threshold": -0.01}, "threshold"), ({"min_sentences": -1}, "min_sentences"),
     ({"keep_ratio": 0.0}, "keep_ratio"), ({"keep_ratio": 1.5}, "keep_ratio"), ({"token_budget": -5}, "token_budget")],
)
def test_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PruningPolicy(**kwargs)


def test_threshold_table_by_hand():
    probs = [0.9, 0.7, 0.4, 0.2]
    labels = [1, 0, 1, 0]
    lengths = [10, 20, 30, 40]
    (row,) = threshold_table(probs, labels, lengths, [0.5], beta=1.0)
    # kept: 0.9 (tp), 0.7 (fp); missed: 0.4 (fn)
    assert row["precision"] == pytest.approx(0.5)
    assert row["recall"] == pytest.approx(0.5)
    assert row["f_beta"] == pytest.approx(0.5)
    assert row["compression"] == pytest.approx(1 - 30 / 100)
    with pytest.raises(ValueError, match="one value per sentence"):
        threshold_table([0.1], [1, 0], [1], [0.5])


def test_calibrate_threshold_on_a_hand_made_dev_set():
    probs = [0.95, 0.8, 0.55, 0.3, 0.25, 0.1, 0.05]
    labels = [1, 1, 0, 1, 0, 0, 0]
    # F2 per candidate (keep iff p > t):
    #   t=0.5: tp=2 fp=1 fn=1 -> P=2/3 R=2/3 -> F2=2/3
    #   t=0.28: tp=3 fp=1 fn=0 -> P=3/4 R=1 -> F2 = 5*0.75/(4*0.75+1) = 0.9375
    #   t=0.2: tp=3 fp=2 -> P=0.6 R=1 -> F2 = 3/3.4 = 0.882
    best, table = calibrate_threshold(probs, labels, thresholds=[0.2, 0.26, 0.28, 0.5])
    assert best == pytest.approx(0.26)  # 0.26 and 0.28 tie at F2 = 0.9375: the lower one wins
    by_t = {row["threshold"]: row for row in table}
    assert by_t[0.28]["f_beta"] == pytest.approx(0.9375)
    assert by_t[0.5]["f_beta"] == pytest.approx(2 / 3)
    assert by_t[0.2]["f_beta"] == pytest.approx(3 / 3.4)
    # precision-weighted F0.5 prefers the stricter threshold
    best_precise, _ = calibrate_threshold(probs, labels, beta=0.5, thresholds=[0.2, 0.28, 0.9])
    assert best_precise == pytest.approx(0.28)


def test_calibrate_default_grid_and_errors():
    best, table = calibrate_threshold([0.9, 0.1], [1, 0])
    assert len(table) == 95 and table[0]["threshold"] == pytest.approx(0.01)
    assert best == pytest.approx(0.1)
    with pytest.raises(ValueError, match="empty"):
        calibrate_threshold([], [])
