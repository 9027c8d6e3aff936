"""Former home of the data layer; a thin re-export kept for old imports (deprecated).

The code now lives in:

* :mod:`text_pruner_rag.data.records`: ``Record``, ``Passage``, ``ReadStats``, ``DataFormatError``, JSONL I/O;
* :mod:`text_pruner_rag.data.readers`: one module per format family, and the ``READERS`` registry;
* :mod:`text_pruner_rag.data.preparation`: ``SourceConfig``, ``iter_source``, ``prepare``;
* :mod:`text_pruner_rag.data.devsets`: ``build_dev_sets``.
"""

import warnings

from ..data.records import DataFormatError, Passage, ReadStats, Record, load_records, read_jsonl, write_records
from ..data.devsets import build_dev_sets
from ..data.preparation import SourceConfig, iter_source, prepare
from ..data.readers.multihop import read_hotpotqa, read_musique
from ..data.readers.nq_open import normalize_question, read_nq_open_oracle
from ..data.readers.openprovence import read_openprovence
from ..data.readers.qed import read_qed
from ..data.readers.registry import LICENSE_NOTES, READERS
from ..data.readers.squad import read_squad

warnings.warn(
    "text_pruner_rag.training.data is deprecated: import from text_pruner_rag.data (records, readers, "
    "preparation, devsets)",
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
