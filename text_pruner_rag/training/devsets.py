"""Old import path of :mod:`text_pruner_rag.data.devsets`, kept for existing imports: it is that very module."""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("text_pruner_rag.data.devsets")
