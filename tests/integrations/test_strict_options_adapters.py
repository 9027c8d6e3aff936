"""The adapters apply the engine's strict option rule before pydantic can coerce; their options are
PruningPolicy's fields (declared once)."""

from __future__ import annotations

import dataclasses

import pytest
from fake_pruner import FakePruner

from text_pruner_rag.policy import PruningPolicy

pydantic = pytest.importorskip("pydantic")

BAD = {
    "threshold": ["0.5", True, [0.5]],
    "min_sentences": ["1", 1.0, True],
    "keep_first": [1, "true"],
    "keep_ratio": ["0.5", True],
    "token_budget": [5.0, "10", True],
    "context_token_budget": [5.0, "10", False],
    "top_n": ["2", 2.0, True],
    "batch_size": ["8", 8.0, True],
    "score_threshold": ["0.1", True, float("nan")],
}
CASES = [(name, value) for name, values in BAD.items() for value in values]


def _adapters():
    classes = []
    try:
        from text_pruner_rag.integrations.langchain import TextPrunerCompressor

        classes.append(TextPrunerCompressor)
    except ImportError:
        pass
    try:
        from text_pruner_rag.integrations.llama_index import TextPrunerPostprocessor

        classes.append(TextPrunerPostprocessor)
    except ImportError:
        pass
    return classes


@pytest.mark.parametrize("adapter", _adapters(), ids=lambda c: c.__name__)
@pytest.mark.parametrize("name, value", CASES)
def test_adapter_refuses_without_coercion(adapter, name, value):
    with pytest.raises(pydantic.ValidationError, match=name):
        adapter(pruner=FakePruner(), **{name: value})


@pytest.mark.parametrize("adapter", _adapters(), ids=lambda c: c.__name__)
def test_adapter_keeps_good_values_as_given(adapter):
    made = adapter(pruner=FakePruner(), threshold=0.5, min_sentences=1, token_budget=10, top_n=2, keep_first=True)
    assert made.pruning_policy == PruningPolicy(threshold=0.5, min_sentences=1, token_budget=10, keep_first=True)


@pytest.mark.parametrize("adapter", _adapters(), ids=lambda c: c.__name__)
def test_adapter_options_are_the_policy_fields(adapter):
    for field in dataclasses.fields(PruningPolicy):
        assert field.name in adapter.model_fields, field.name
        assert adapter.model_fields[field.name].default is None  # None: the policy's own value


def test_cross_encoder_refuses_a_float_batch_size():
    from text_pruner_rag.integrations.langchain import TextPrunerCrossEncoder

    with pytest.raises(ValueError, match="batch_size"):
        TextPrunerCrossEncoder(pruner=FakePruner(), batch_size=8.0)
