"""Titles: `title=` (explicit, per context, "first_sentence") and `always_select_title`."""

from __future__ import annotations

import math

import pytest

from text_pruner_rag import PruningPolicy
from text_pruner_rag.budget import select_within_token_budget
from text_pruner_rag.engine import TITLE_SEPARATOR, prepare
from text_pruner_rag.results import pruning_json

QUERY = "Who designed the Eiffel Tower?"
CONTEXT = ("The Eiffel Tower is a wrought-iron lattice tower in Paris. It was designed by Gustave Eiffel's "
           "company and built from 1887 to 1889. Bananas are rich in potassium. The tower is 330 metres tall.")
OTHER = "Bananas are yellow. Apples are red. Cherries are small."


def _mask(result):
    return [s.kept for s in result.sentences]


def _probs(result):
    return [s.probability for s in result.sentences]


def test_an_explicit_title_is_read_with_the_context_but_reported_apart(tiny_pruner):
    plain = tiny_pruner.prune(QUERY, CONTEXT, threshold=0.0)
    titled = tiny_pruner.prune(QUERY, CONTEXT, threshold=0.0, title="Eiffel Tower")
    assert titled.title == "Eiffel Tower" and titled.context == CONTEXT
    assert titled.pruned_text == CONTEXT and titled.compression_rate == 0.0  # the title is in neither
    assert [(s.start, s.end) for s in titled.sentences] == [(s.start, s.end) for s in plain.sentences]
    assert all(CONTEXT[s.start:s.end] == s.text for s in titled.sentences)
    assert 0.0 <= titled.title_probability <= 1.0 and titled.title_kept
    # the model read the title: the context's own probabilities and score move
    assert _probs(titled) != _probs(plain) and titled.score != plain.score
    assert plain.title is None and not plain.title_kept and plain.title_probability is None


def test_the_title_is_in_front_of_the_first_window_only(tiny_pruner):
    long_context = " ".join(f"Sentence number {i} talks about towers and iron." for i in range(40))
    p = prepare(0, long_context, "en", "A title")
    assert p.scored_text == "A title" + TITLE_SEPARATOR + long_context
    assert p.scored_sentences[0].text == "A title" + TITLE_SEPARATOR
    assert [s.text for s in p.scored_sentences[1:]] == [s.text for s in p.sentences]
    encoder = tiny_pruner.encoder
    enc = encoder.encode_contexts([p.scored_text], [p.scored_sentences])[0]
    windows = encoder.windows(encoder.template(QUERY), 0, p.scored_text, p.scored_sentences, enc)
    assert len(windows) > 1
    with_title = [i for i, w in enumerate(windows) if 0 in w.sentence_ids]
    assert with_title == [0]
    first_context_token = next(s for s in windows[0].sentence_ids if s >= 0)
    assert first_context_token == 0  # the title comes first in that window


def test_always_select_title_keeps_the_title_whenever_a_sentence_is_kept(tiny_pruner):
    # threshold 1.0: nothing passes, so the title is not kept either (a title never stands alone)
    none = tiny_pruner.prune(QUERY, CONTEXT, threshold=1.0, title="Eiffel Tower")
    assert none.pruned_text == "" and not none.title_kept
    # min_sentences=1: one sentence kept, so the title is kept whatever its own probability
    one = tiny_pruner.prune(QUERY, CONTEXT, threshold=1.0, min_sentences=1, title="Eiffel Tower")
    assert sum(_mask(one)) == 1 and one.title_kept
    # switched off: the title must pass the threshold itself
    off = tiny_pruner.prune(QUERY, CONTEXT, threshold=1.0, min_sentences=1, title="Eiffel Tower",
                            always_select_title=False)
    assert sum(_mask(off)) == 1 and not off.title_kept
    low = off.title_probability - 1e-6
    on_own = tiny_pruner.prune(QUERY, CONTEXT, threshold=low, min_sentences=1, title="Eiffel Tower",
                               always_select_title=False)
    assert on_own.title_kept


def test_keep_title_rule_of_the_policy():
    on, off = PruningPolicy(threshold=0.5), PruningPolicy(threshold=0.5, always_select_title=False)
    assert on.keep_title(0.1, [False, True]) and not on.keep_title(0.9, [False, False])
    assert not off.keep_title(0.1, [True]) and off.keep_title(0.6, [True]) and not off.keep_title(0.6, [False])
    assert off.keep_title(0.1, [True], fraction_above=0.7)  # naver rounding decides on the fraction
    with pytest.raises(TypeError, match="always_select_title"):
        PruningPolicy(always_select_title=1)


def test_first_sentence_title_is_the_keep_first_rule_on_the_first_sentence(tiny_pruner):
    contexts = [CONTEXT, OTHER]
    for threshold in (0.3, 0.5, 0.52):
        titled = tiny_pruner.prune_many(QUERY, contexts, threshold=threshold, title="first_sentence")
        keep_first = tiny_pruner.prune_many(QUERY, contexts, threshold=threshold, keep_first=True)
        plain = tiny_pruner.prune_many(QUERY, contexts, threshold=threshold)
        off = tiny_pruner.prune_many(QUERY, contexts, threshold=threshold, title="first_sentence",
                                     always_select_title=False)
        for t, k, p, o in zip(titled, keep_first, plain, off):
            assert _mask(t) == _mask(k) and _mask(o) == _mask(p)
            assert _probs(t) == _probs(p)  # the first sentence is not read twice
            assert t.title == t.sentences[0].text and t.title_kept == t.sentences[0].kept
            assert t.title_probability == t.sentences[0].probability
            assert t.pruned_text == k.pruned_text  # the first sentence stays part of the context
    # a case where it matters: the first sentence is forced in once another one is kept
    mask = PruningPolicy(threshold=0.5).select([0.1, 0.9], first_is_title=True)
    assert mask == [True, True]
    assert PruningPolicy(threshold=0.5, always_select_title=False).select([0.1, 0.9], first_is_title=True) == [False, True]


def test_titles_per_context_and_one_for_all(tiny_pruner):
    contexts = [CONTEXT, OTHER, CONTEXT]
    each = tiny_pruner.prune_many(QUERY, contexts, threshold=0.0, title=["Eiffel Tower", None, "first_sentence"])
    assert [r.title for r in each] == ["Eiffel Tower", None, each[2].sentences[0].text]
    alone = tiny_pruner.prune(QUERY, CONTEXT, threshold=0.0, title="Eiffel Tower")
    assert _probs(each[0]) == pytest.approx(_probs(alone), abs=1e-5)
    same = tiny_pruner.prune_many(QUERY, contexts, threshold=0.0, title="Fruit")
    assert [r.title for r in same] == ["Fruit"] * 3
    # a title with no text is no title
    blank = tiny_pruner.prune_many(QUERY, [CONTEXT], threshold=0.0, title=["  "])
    assert blank[0].title is None


def test_token_budget_never_counts_an_explicit_title(tiny_pruner):
    full = tiny_pruner.prune(QUERY, CONTEXT, threshold=0.0, title="A very long title " * 5)
    budget = tiny_pruner.count_tokens([full.pruned_text])[0]
    fitted = tiny_pruner.prune(QUERY, CONTEXT, threshold=0.0, title="A very long title " * 5, token_budget=budget)
    assert fitted.pruned_text == CONTEXT and fitted.title_kept
    cut = tiny_pruner.prune(QUERY, CONTEXT, threshold=0.0, title="A very long title " * 5, token_budget=budget - 1)
    assert cut.pruned_text != CONTEXT and tiny_pruner.count_tokens([cut.pruned_text])[0] <= budget - 1
    zero = tiny_pruner.prune(QUERY, CONTEXT, threshold=0.0, title="T", token_budget=0)
    assert zero.pruned_text == "" and not zero.title_kept  # nothing of the context left: title dropped too


def test_budget_keeps_a_first_sentence_title_with_its_context():
    # document 0's first sentence is its title: taken together with its best sentence, or not at all
    masks = select_within_token_budget([[0.1, 0.9], [0.1, 0.8]], [[3, 2], [3, 2]], [[True, True], [True, True]],
                                       token_budget=7, keep_first=[True, False])
    assert masks == [[True, True], [False, True]]


def test_a_context_without_text_keeps_its_title_unscored(tiny_pruner):
    result = tiny_pruner.prune_many(QUERY, ["", "   "], title=["T", "first_sentence"])
    assert result[0].title == "T" and result[0].title_probability is None and not result[0].title_kept
    assert result[0].pruned_text == "" and result[0].score == -math.inf
    assert result[1].title is None


def test_title_json(tiny_pruner):
    titled = pruning_json(tiny_pruner.prune(QUERY, CONTEXT, threshold=0.0, title="Eiffel Tower"))
    assert titled["title"] == "Eiffel Tower" and titled["title_kept"] is True
    assert isinstance(titled["title_probability"], float)
    assert "title" not in pruning_json(tiny_pruner.prune(QUERY, CONTEXT))


@pytest.mark.parametrize("title, error, match", [
    (["a"], ValueError, "`title` has 1 entries for 2 contexts"),
    (5, TypeError, "`title` must be None"),
    (["a", 3], TypeError, r"`title\[1\]`"),
    (["a", "b\udc80"], ValueError, r"`title\[1\]` is not valid Unicode"),
    ({"a": "b"}, TypeError, "`title` must be None"),
])
def test_bad_titles_are_refused_before_the_model_runs(tiny_pruner, title, error, match):
    with pytest.raises(error, match=match):
        tiny_pruner.prune_many(QUERY, [CONTEXT, OTHER], title=title)


def test_prune_refuses_a_bad_title(tiny_pruner):
    with pytest.raises(ValueError, match="`title` is not valid Unicode"):
        tiny_pruner.prune(QUERY, CONTEXT, title="x\udc80")
    with pytest.raises(TypeError, match="always_select_title"):
        tiny_pruner.prune(QUERY, CONTEXT, title="x", always_select_title="yes")


# -- command line -----------------------------------------------------------------------------------
def _cli(argv, capsys):
    from text_pruner_rag import cli

    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_title_flags(tiny_model_dir, tiny_pruner, tmp_path, capsys):
    import json

    path = tmp_path / "context.txt"
    path.write_text(CONTEXT, encoding="utf-8")
    base = ["prune", "-q", QUERY, path, "-m", tiny_model_dir, "--device", "cpu", "--threshold", "0.0"]
    code, out, err = _cli(base + ["--title", "Eiffel Tower", "--json"], capsys)
    assert code == 0, err
    payload = json.loads(out)
    expected = tiny_pruner.prune(QUERY, CONTEXT, threshold=0.0, title="Eiffel Tower")
    assert payload["title"] == "Eiffel Tower" and payload["title_kept"] is True
    assert payload["title_probability"] == pytest.approx(expected.title_probability)
    assert payload["score"] == pytest.approx(expected.score) and payload["pruned_text"] == CONTEXT
    assert payload["policy"]["always_select_title"] is None
    code, out, err = _cli(base + ["--title", "Eiffel Tower"], capsys)
    assert code == 0 and "Eiffel Tower\n" not in out and out.rstrip("\n") == CONTEXT.rstrip("\n")
    code, out, err = _cli(base + ["--title-first-sentence", "--no-always-select-title", "--json"], capsys)
    payload = json.loads(out)
    assert code == 0 and payload["title"] == payload["sentences"][0]["text"]
    assert payload["policy"]["always_select_title"] is False
    code, out, err = _cli(base + ["--title", "x", "--title-first-sentence"], capsys)
    assert code == 2 and "not allowed with" in err  # the two title flags exclude each other
