"""Readers of public data formats, one module per format family; all yield unified records.

Index (names are imported lazily): the registry (:data:`READERS`, :data:`LICENSE_NOTES`,
:func:`register_reader`; how to add a format is in :mod:`.registry`) and one ``read_*`` function
per format. Shared helpers are in :mod:`.common`.
"""

from ..._lazy import attach

_EXPORTS = {
    "LICENSE_NOTES": ".registry",
    "READERS": ".registry",
    "Reader": ".registry",
    "register_reader": ".registry",
    "read_hotpotqa": ".multihop",
    "read_musique": ".multihop",
    "normalize_question": ".nq_open",
    "read_nq_open_oracle": ".nq_open",
    "read_openprovence": ".openprovence",
    "read_openprovence_eval": ".openprovence",
    "read_qed": ".qed",
    "read_squad": ".squad",
    "read_squad2": ".squad",
    "read_cast_answerability": ".cast",
    "read_fever_eraser": ".eraser",
    "read_multirc_eraser": ".eraser",
    "read_wikiqa": ".wikiqa",
    "read_selqa": ".selqa",
    "PERMISSIVE_FORMATS": ".registry",
    "read_jsonl": "..records",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = attach(__name__, _EXPORTS)
