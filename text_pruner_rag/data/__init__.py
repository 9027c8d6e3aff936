"""Labelled data shared by training and evaluation: records, readers, preparation, dev sets.

* :mod:`.records` — the unified record schema (:class:`Record`, :class:`Passage`) and its JSONL form;
* :mod:`.readers` — one reader module per public format family, and the ``READERS`` registry;
* :mod:`.preparation` — :class:`SourceConfig`, :func:`iter_source`, :func:`prepare` (one JSONL file);
* :mod:`.devsets` — named dev sets and suites, format detection, :func:`load_eval_data`,
  :func:`build_dev_sets`. There is no default data folder: pass one, or set ``TEXT_PRUNER_RAG_DATA``.

Nothing here imports torch, transformers, ``training`` or ``evaluation``. This file is an index: the
names below are imported from their module on first use.
"""

from .._lazy import attach

_EXPORTS = {
    "DataFormatError": ".records",
    "Passage": ".records",
    "ReadStats": ".records",
    "Record": ".records",
    "load_records": ".records",
    "read_jsonl": ".records",
    "write_records": ".records",
    "LICENSE_NOTES": ".readers.registry",
    "READERS": ".readers.registry",
    "register_reader": ".readers.registry",
    "SourceConfig": ".preparation",
    "iter_source": ".preparation",
    "prepare": ".preparation",
    "DATA_ENV": ".devsets",
    "DEV_SETS": ".devsets",
    "SUITES": ".devsets",
    "build_dev_sets": ".devsets",
    "data_root": ".devsets",
    "detect_format": ".devsets",
    "load_eval_data": ".devsets",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = attach(__name__, _EXPORTS)
