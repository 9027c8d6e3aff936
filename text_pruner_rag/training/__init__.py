"""Training pipeline for text-pruner-rag (``python -m text_pruner_rag.training CONFIG.yaml``)."""
