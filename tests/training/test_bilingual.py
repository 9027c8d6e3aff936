"""The bilingual (English + Japanese) recipe: per-language mining and the offline dry run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from text_pruner_rag.data.records import Passage, Record, load_records
from text_pruner_rag.training.negatives import mine_negatives

REPO = Path(__file__).resolve().parents[2]
RAW = REPO.parent / "shared" / "data" / "raw"


def _record(rid: str, language: str, query: str, text: str) -> Record:
    return Record(id=rid, query=query, language=language, source="t", answers=[],
                  passages=[Passage(text=text, spans=[(0, len(text))], relevance=[1], label=1)])


def test_mining_only_for_the_languages_asked():
    records = [
        _record("e1", "en", "capital of france", "Paris is the capital of France."),
        _record("e2", "en", "tallest mountain", "Mount Everest is the tallest mountain of France's neighbours."),
        _record("e3", "en", "largest ocean", "The Pacific is the largest ocean, larger than France."),
        _record("j1", "ja", "日本の首都は？", "東京は日本の首都です。"),
        _record("j2", "ja", "日本一高い山は？", "富士山は日本で一番高い山です。"),
    ]
    both = mine_negatives(records, method="bm25", num_negatives=1)
    english = mine_negatives(records, method="bm25", num_negatives=1, languages=["en"])
    assert all(len(r.passages) == 2 for r in both)  # every record gets a negative of its own language
    assert [len(r.passages) for r in english] == [2, 2, 2, 1, 1]
    assert english[3:] == records[3:]


def test_bilingual_recipe_dry_run(tmp_path):
    pytest.importorskip("semantra_multilingual")
    if not RAW.is_dir():
        pytest.skip(f"shared raw data not found at {RAW}")
    from text_pruner_rag import TextPruner
    from text_pruner_rag.training.__main__ import main

    out = tmp_path / "dry"
    assert main(["configs/e5-small-ja-en.yaml", "--dry-run", "--set", f"output.dir={out}", "--set", "dry_run.steps=1",
                 "--set", f"data.data_dir={RAW}"]) == 0
    languages = {r.language for r in load_records(out / "dry_run_data" / "train.jsonl")}
    assert languages == {"en", "ja"}
    pruner = TextPruner.from_pretrained(str(out / "dry_run_final"), device="cpu")
    assert len(pruner.tokenizer) == 250002  # multilingual-e5-small's XLM-R tokenizer, not MiniLM's
    from tokenizers import Tokenizer

    from text_pruner_rag.training.convert_e5 import default_tokenizer_file

    text = "東京は日本の首都です。"
    ids = pruner.tokenizer(text, add_special_tokens=False)["input_ids"]
    assert ids == Tokenizer.from_file(str(default_tokenizer_file())).encode(text, add_special_tokens=False).ids
    assert "東京" in pruner.tokenizer.convert_ids_to_tokens(ids)
    card = (out / "dry_run_final" / "README.md").read_text(encoding="utf-8")
    assert "jaquad" in card.lower()
    config = json.loads((out / "dry_run_final" / "config.json").read_text())
    assert config["max_length"] <= 256


def test_model_card_of_the_bilingual_recipe_names_backbone_languages_and_license():
    from text_pruner_rag.training.card import card_metadata
    from text_pruner_rag.training.config import load_config

    config = load_config(REPO / "configs" / "e5-small-ja-en.yaml")
    data = card_metadata(backbone=config.model.backbone, sources=[s.model_dump() for s in config.data.train],
                         dev_sources=[s.model_dump() for s in config.data.dev])
    assert data.base_model == "intfloat/multilingual-e5-small"
    assert data.language == ["en", "ja"]
    assert data.license == "cc-by-sa-4.0"  # JaQuAD, QED (Wikipedia, share-alike) ride on the MIT backbone
