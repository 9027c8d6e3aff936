"""One pruner shared by many threads gives exactly the sequential results (issue 11, case 1).

Provence/XProvence-style models feed the backbone's final hidden state to the pruning head
(``pruning_head_input="last_hidden_state"``); that state must come from the forward call itself, not
from state stored on the shared model, or concurrent calls read each other's hidden states.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from checkpoint_fixtures import write_provence, write_xprovence
from sample_texts import CONTEXTS

from text_pruner_rag import TextPruner

QUERIES = ["Where is the Eiffel Tower?", "Who went to Washington?", "What is 3.14?", "Which river?"]
THREADS = 8
CALLS_PER_THREAD = 12


def _jobs():
    """(query, context) pairs of different lengths, so a stolen hidden state cannot fit by chance."""
    contexts = [c for c in CONTEXTS if len(c) < 400]
    return [(QUERIES[i % len(QUERIES)], contexts[i % len(contexts)])
            for i in range(THREADS * CALLS_PER_THREAD)]


def _signature(result):
    return result.score, [(s.start, s.end, s.probability, s.kept) for s in result.sentences]


@pytest.fixture(scope="module", params=["provence", "xprovence"])
def hidden_state_pruner(request, tmp_path_factory, bert_tokenizer):
    writer = write_provence if request.param == "provence" else write_xprovence
    ckpt = writer(tmp_path_factory.mktemp(request.param), bert_tokenizer)
    pruner = TextPruner.from_pretrained(ckpt.folder, device="cpu", batch_size=2)
    assert pruner.model.config.pruning_head_input == "last_hidden_state"
    return pruner


def test_threads_share_one_last_hidden_state_pruner(hidden_state_pruner):
    jobs = _jobs()
    expected = [_signature(hidden_state_pruner.prune(q, c, threshold=0.5)) for q, c in jobs]
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        got = list(pool.map(lambda job: _signature(hidden_state_pruner.prune(job[0], job[1], threshold=0.5)), jobs))
    mismatches = [i for i, (a, b) in enumerate(zip(expected, got)) if a != b]
    assert not mismatches, f"{len(mismatches)} of {len(jobs)} threaded calls differ from sequential"


def test_model_keeps_no_per_call_state(hidden_state_pruner):
    model = hidden_state_pruner.model
    assert not model.ranking_model.base_model._forward_hooks
    assert "_last_hidden_state" not in vars(model)
