"""Former home of the data layer; a thin re-export kept for old imports (deprecated).

The code now lives in:

* :mod:`text_pruner_rag.records`: ``Record``, ``Passage``, ``ReadStats``, ``DataFormatError``, JSONL I/O;
* :mod:`text_pruner_rag.training.readers`: one module per format family, and the ``READERS`` registry;
* :mod:`text_pruner_rag.training.preparation`: ``SourceConfig``, ``iter_source``, ``prepare``;
* :mod:`text_pruner_rag.training.devsets`: ``build_dev_sets``.
"""

import warnings

from ..records import DataFormatError, Passage, ReadStats, Record, load_records, read_jsonl, write_records
from .devsets import build_dev_sets
from .preparation import SourceConfig, iter_source, prepare
from .readers.multihop import read_hotpotqa, read_musique
from .readers.nq_open import normalize_question, read_nq_open_oracle
from .readers.openprovence import read_openprovence
from .readers.qed import read_qed
from .readers.registry import LICENSE_NOTES, READERS
from .readers.squad import read_squad

warnings.warn(
    "text_pruner_rag.training.data is deprecated: import from text_pruner_rag.records, "
    "text_pruner_rag.training.readers, .preparation or .devsets",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [
    "DataFormatError",
    "Passage",
    "Record",
    "ReadStats",
    "SourceConfig",
    "READERS",
    "LICENSE_NOTES",
    "normalize_question",
    "read_openprovence",
    "read_squad",
    "read_qed",
    "read_nq_open_oracle",
    "read_hotpotqa",
    "read_musique",
    "read_jsonl",
    "iter_source",
    "prepare",
    "load_records",
    "write_records",
    "build_dev_sets",
]
