"""LlamaIndex node postprocessor: rerank and prune retrieved nodes with a TextPruner.

Example:
    >>> from text_pruner_rag.integrations.llama_index import TextPrunerPostprocessor
    >>> engine = index.as_query_engine(similarity_top_k=10, node_postprocessors=[TextPrunerPostprocessor(top_n=3)])
    >>> response = engine.query("When did Tesla move to New York?")
    >>> [(n.score, n.metadata["compression_rate"]) for n in response.source_nodes]
"""

from __future__ import annotations

import asyncio
from contextlib import contextmanager
from typing import Iterator, List, Optional

try:
    from llama_index.core.callbacks import CBEventType, EventPayload
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
    from llama_index.core.postprocessor.types import BaseNodePostprocessor
    from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle
except ImportError as exc:
    raise ImportError(
        'TextPrunerPostprocessor needs llama-index-core: pip install "text-pruner-rag[llama-index]"'
    ) from exc

from text_pruner_rag.integrations.settings import PrunerSettings, _Kept, check_query

__all__ = ["TextPrunerPostprocessor"]

dispatcher = get_dispatcher(__name__)


class TextPrunerPostprocessor(PrunerSettings, BaseNodePostprocessor):
    """Reranks nodes for a query and removes their irrelevant sentences, in one batched pass.

    Returns new ``NodeWithScore`` objects over copies of the nodes (``node.model_copy`` with a new
    metadata dict and new excluded-key lists, then ``set_content``, which assigns a new text), so the
    nodes shared with the docstore, the index and other postprocessors are never rewritten. Metadata
    values are not copied (a lock or an API client in metadata is fine); other node fields are shared
    with the input node and never modified. The node text is read with ``MetadataMode.NONE``, so metadata is neither
    scored nor baked into the pruned text; kept sentences stay in their original order. On each copy:

    - ``NodeWithScore.score`` is the reranking score (higher is more relevant);
    - ``metadata["retrieval_score"]`` is the incoming score (kept as is if an earlier step already set it);
    - ``metadata["compression_rate"]`` is the fraction in [0, 1] of the node's characters removed;
    - ``metadata["original_text"]`` (only with ``keep_original=True``) is the unpruned text (kept as is
      if an earlier step already set it).

    These keys are added to ``excluded_llm_metadata_keys`` and ``excluded_embed_metadata_keys``, so
    they never reach the LLM prompt or an embedding.

    Selection runs in this order: prune, ``on_empty``, ``score_threshold``, ``top_n``, then ordering
    (``reorder``); see :mod:`text_pruner_rag.integrations.settings`. Emits ``ReRankStartEvent`` and
    ``ReRankEndEvent`` through the instrumentation dispatcher, and a ``RERANKING`` callback event.

    ``to_dict()``/``to_json()`` record ``model`` (the path or hub id, also when built from
    ``pruner=``) and ``TextPrunerPostprocessor.from_dict(...)`` reloads it; they raise ``ValueError``
    when the pruner was built in memory (``pruner.name_or_path is None``).

    With ``on_error="passthrough"``, a failure to load or run the model returns the input nodes
    unchanged (the same ``NodeWithScore`` objects, all of them, in input order) after one logged
    warning; see :mod:`text_pruner_rag.integrations.settings`.

    Args:
        model (str, optional): pruner name or path, loaded on first use. Defaults to the embedded model.
        pruner (Pruner, optional): an already loaded pruner (a :class:`~text_pruner_rag.TextPruner` or any
            :class:`~text_pruner_rag.protocols.Pruner`) instead of ``model``; it can be shared by many
            postprocessors and LangChain compressors.
        policy (PruningPolicy, optional): every pruning option at once.
        threshold, min_sentences, keep_first, keep_ratio, context_token_budget, token_budget, always_select_title: the
            :class:`~text_pruner_rag.policy.PruningPolicy` options, replacing the policy's fields
            when not None.
        title_key (str | None): the metadata key of each document's title (default ``"title"``); see
            :mod:`text_pruner_rag.integrations.settings`. None: titles are not read.
        prune, on_empty, score_threshold, top_n, reorder, keep_original, batch_size, device, on_error: see the
            field descriptions.

    Raises:
        ValueError: when ``pruner`` is given together with ``model`` or ``device``.
        TypeError: ``pruner`` is not a loaded pruner (no ``prune_many``).
        pydantic.ValidationError: for an unknown option, a value PruningPolicy (or a field bound)
            refuses, a bool where a number belongs, or a device that does not exist here.
    """

    @classmethod
    def class_name(cls) -> str:
        return "TextPrunerPostprocessor"

    def _postprocess_nodes(
        self, nodes: List[NodeWithScore], query_bundle: Optional[QueryBundle] = None
    ) -> List[NodeWithScore]:
        query = _query_str(query_bundle)
        if not nodes:
            return []
        texts = [n.node.get_content(metadata_mode=MetadataMode.NONE) for n in nodes]
        with self._rerank_events(query_bundle, nodes) as output:
            output.extend(self._to_nodes(nodes, texts, self._run(query, texts, self._titles([n.node.metadata for n in nodes]))))
        return output

    @dispatcher.span
    async def _apostprocess_nodes(
        self, nodes: List[NodeWithScore], query_bundle: Optional[QueryBundle] = None
    ) -> List[NodeWithScore]:
        """Async :meth:`_postprocess_nodes`.

        The batched forward pass is blocking, compute-bound torch code (and the first call also
        loads the model), so only that pass runs in a worker thread with :func:`asyncio.to_thread`:
        the event loop keeps serving other queries meanwhile (torch releases the GIL inside its
        kernels) and the instrumentation context (``contextvars``) follows the call into the thread.
        Events, selection and copies run on the loop.
        """
        query = _query_str(query_bundle)
        if not nodes:
            return []
        texts = [n.node.get_content(metadata_mode=MetadataMode.NONE) for n in nodes]
        with self._rerank_events(query_bundle, nodes) as output:
            titles = self._titles([n.node.metadata for n in nodes])
            output.extend(self._to_nodes(nodes, texts, await asyncio.to_thread(self._run, query, texts, titles)))
        return output

    @contextmanager
    def _rerank_events(self, query_bundle: QueryBundle, nodes: List[NodeWithScore]) -> Iterator[list]:
        """Emit the start events, yield the list to fill with the output nodes, emit the end events."""
        top_n = self.top_n if self.top_n is not None else len(nodes)
        model_name = (getattr(self._pruner, "name_or_path", None) if self._pruner_given else self.model) \
            or "text-pruner-rag"
        dispatcher.event(ReRankStartEvent(query=query_bundle, nodes=nodes, top_n=top_n, model_name=model_name))
        payload = {
            EventPayload.NODES: nodes,
            EventPayload.MODEL_NAME: model_name,
            EventPayload.QUERY_STR: query_bundle.query_str,
            EventPayload.TOP_K: top_n,
        }
        output: List[NodeWithScore] = []
        with self.callback_manager.event(CBEventType.RERANKING, payload=payload) as event:
            yield output
            event.on_end(payload={EventPayload.NODES: output})
        dispatcher.event(ReRankEndEvent(nodes=output))

    def _to_nodes(self, nodes: List[NodeWithScore], texts: List[str], chosen: Optional[list]) -> List[NodeWithScore]:
        if chosen is None:  # on_error="passthrough" after a failure
            return list(nodes)
        return [self._pruned_node(nodes[kept.index], texts[kept.index], kept) for kept in chosen]

    def _pruned_node(self, original: NodeWithScore, text: str, kept: _Kept) -> NodeWithScore:
        source = original.node
        node = source.model_copy(update={  # shallow on purpose: metadata may hold locks or clients
            "metadata": dict(source.metadata),
            "excluded_llm_metadata_keys": list(source.excluded_llm_metadata_keys),
            "excluded_embed_metadata_keys": list(source.excluded_embed_metadata_keys),
        })
        node.set_content(kept.text)
        added = {"retrieval_score": original.score, "compression_rate": kept.compression_rate}
        if self.keep_original:
            added["original_text"] = text
        for key, value in added.items():
            if key == "compression_rate" or key not in node.metadata:
                node.metadata[key] = value
            for excluded in (node.excluded_llm_metadata_keys, node.excluded_embed_metadata_keys):
                if key not in excluded:
                    excluded.append(key)
        return NodeWithScore(node=node, score=kept.score)


def _query_str(query_bundle: Optional[QueryBundle]) -> str:
    if query_bundle is None:
        raise ValueError(
            "TextPrunerPostprocessor needs the query: call postprocess_nodes(nodes, query_bundle=...) "
            "or postprocess_nodes(nodes, query_str=...)."
        )
    return check_query(query_bundle.query_str, "TextPrunerPostprocessor")
