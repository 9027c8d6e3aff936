"""Strict request bodies of the server's routes (pydantic v2).

Every model refuses unknown fields and coerces nothing (``"0.5"`` is not a number, ``1`` is not a
bool, ``5.0`` is not an integer): a bad body is a 422 with the field named. Value ranges (a threshold
in ``[0, 1]``, counts ``>= 0``) are checked afterwards by the same code as the Python API
(:class:`~text_pruner_rag.policy.PruningPolicy`), so the server and ``TextPruner`` accept the same values.

Shapes follow the upstream APIs clients already speak:

- :class:`RerankRequest`: Hugging Face text-embeddings-inference ``POST /rerank``.
- :class:`CohereRerankRequest`: Cohere ``POST /v2/rerank`` (the fields ``cohere.ClientV2.rerank`` sends).
- :class:`PruneRequest`: our own; the options of :meth:`TextPruner.prune_many
  <text_pruner_rag.TextPruner.prune_many>`.
"""

from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RerankRequest", "CohereRerankRequest", "RelevantSpans", "PruneRequest", "PRUNING_OPTIONS"]

PRUNING_OPTIONS = ("threshold", "min_sentences", "keep_first", "keep_ratio", "context_token_budget", "token_budget",
                   "always_select_title")
"""The fields of :class:`PruneRequest` that are :class:`~text_pruner_rag.policy.PruningPolicy` options."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class RerankRequest(_Strict):
    """``POST /rerank`` (text-embeddings-inference shape).

    Attributes:
        query (str): the question; not empty.
        texts (list[str]): the contexts to score.
        truncate (bool): accepted for compatibility; nothing is ever truncated (a long text is read
            whole, through several token windows). Defaults to False.
        truncation_direction (str): ``"Right"`` or ``"Left"``; accepted for compatibility, unused.
        raw_scores (bool): True returns the ranking logit before the checkpoint's activation (for a
            sigmoid checkpoint ``log(p / (1 - p))``); False the reranking score of the Python API.
        return_text (bool): include each text under ``"text"``. Defaults to False.
    """

    query: str
    texts: list[str]
    truncate: bool = False
    truncation_direction: Literal["Right", "Left", "right", "left"] = "Right"
    raw_scores: bool = False
    return_text: bool = False


class RelevantSpans(_Strict):
    """Cohere's ``relevant_spans`` option: the kept sentences of each document as character spans.

    Attributes:
        mode (str): ``"enabled"`` or ``"disabled"``.
        threshold (float, optional): a sentence is a span iff its keep probability is above this, in
            ``[0, 1]``; None: the model's default threshold (Cohere's own default is 0.1).
        max_spans (int, optional): at most this many spans per document, most probable first.
    """

    mode: Literal["enabled", "disabled"]
    threshold: Optional[float] = None
    max_spans: Optional[int] = Field(default=None, ge=0)


class CohereRerankRequest(_Strict):
    """``POST /v2/rerank`` (Cohere v2 shape).

    Attributes:
        model (str, optional): accepted (Cohere clients must send one); the served model answers.
        query (str): the question; not empty.
        documents (list[str]): the contexts to score.
        top_n (int, optional): return only the best ``top_n`` (``>= 0``); None returns all.
        max_tokens_per_doc (int, optional): accepted for compatibility; documents are never truncated.
        priority (int, optional): accepted for compatibility; unused.
        relevant_spans (RelevantSpans, optional): with ``mode="enabled"``, each result also carries the
            kept sentences as ``relevant_spans`` ``[{"start", "end", "score"}]`` (characters, keep probability).
    """

    model: Optional[str] = None
    query: str
    documents: list[str]
    top_n: Optional[int] = None
    max_tokens_per_doc: Optional[int] = None
    priority: Optional[int] = None
    relevant_spans: Optional[RelevantSpans] = None


class PruneRequest(_Strict):
    """``POST /prune``: every option of :meth:`TextPruner.prune_many <text_pruner_rag.TextPruner.prune_many>`.

    Attributes:
        query (str): the question; not empty.
        contexts (list[str | list[str]]): texts, or sentence lists already split (kept exactly).
        threshold (float, optional): keep a sentence iff its keep probability is above this, ``[0, 1]``;
            None: the model's default threshold.
        min_sentences, keep_first, keep_ratio, context_token_budget: see
            :class:`~text_pruner_rag.policy.PruningPolicy` (``keep_ratio`` is a fraction of the sentences,
            ``context_token_budget`` model tokens per context).
        token_budget (int, optional): at most this many model tokens over all the contexts of this request.
        title (str | list[str | None], optional): ``"first_sentence"``, one title for every context, or
            one per context (None: no title); scored with its context and reported apart (see
            ``docs/titles.md``).
        always_select_title (bool, optional): keep a title whenever a sentence of its context is kept;
            None: on when there is a title.
        language (str, optional): ``"auto"``, ``"en"`` or ``"ja"``; None: the server's pruner's.
    """

    query: str
    contexts: list[Union[str, list[str]]]
    threshold: Optional[float] = None
    min_sentences: Optional[int] = None
    keep_first: Optional[bool] = None
    keep_ratio: Optional[float] = None
    context_token_budget: Optional[int] = None
    token_budget: Optional[int] = None
    title: Optional[Union[str, list[Optional[str]]]] = None
    always_select_title: Optional[bool] = None
    language: Optional[Literal["auto", "en", "ja"]] = None
