"""Streaming replies from a chat model: local transformers models, LoRA adapters, endpoints.

``stream_chat`` yields the reply so far (cumulative text) as tokens arrive.
A local model's requests go to its generation service (``playground.chat.service``:
one continuous-batching decode loop shared by every user); requests the batch
cannot take (a fixed seed, a repetition penalty, adapters, ZeroGPU) run a plain
``generate`` in a background thread with a ``TextIteratorStreamer`` and a
stopping criterion that watches the ``stop`` event (``playground.chat.plain``). Either way setting ``stop``
(or abandoning the iterator) ends that reply within a decoding step, and
``info.path`` says which path ran. The model is held with ``registry.use`` for
the whole reply, so it is never evicted or unloaded mid-reply.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from playground.chat.plain import stream_plain
from playground.chat.prompt import PreparedPrompt, prepare
from playground.chat.service import stream_batched
from playground.chat.settings import GenerationSettings
from playground.errors import InputError


@dataclass
class StreamInfo:
    """What happened during one reply; filled in as the stream runs."""

    model: str
    prompt: str = ""  # the exact text sent (chat template rendered); for endpoints, the messages
    prompt_tokens: int = 0
    context_window: int = 0
    dropped: int = 0  # oldest messages left out to fit the context window
    new_tokens: int = 0  # counted live, as the model makes them
    first_token_seconds: float | None = None
    seconds: float = 0.0
    finish_reason: str = ""  # "stop" (model finished), "length", "cancelled"
    settings: GenerationSettings | None = None
    path: str = ""  # "batched", or "plain generate: <why>" (shown in the stats line)

    @property
    def trimmed(self) -> bool:
        return self.dropped > 0

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.seconds if self.seconds > 0 else 0.0


class ChatStream:
    """An iterator of cumulative reply text, with ``info`` about the run.

    ``info`` (prompt text, tokens, trimming, finish reason) is complete once the
    iteration ends; ``info.prompt`` and ``info.dropped`` are set before the first
    text arrives.
    """

    def __init__(self, gen: Iterator[str], info: StreamInfo) -> None:
        self._gen = gen
        self.info = info
        self.text = ""

    def __iter__(self) -> ChatStream:
        return self

    def __next__(self) -> str:
        self.text = next(self._gen)
        return self.text

    def close(self) -> None:
        self._gen.close()


def stream_chat(
    registry: Any,
    model: str,
    messages: list[dict[str, str]],
    settings: GenerationSettings | None = None,
    *,
    stop: threading.Event | None = None,
    ignore_eos: bool = False,
) -> ChatStream:
    """Stream a reply to ``messages`` from ``model``; yields the cumulative reply text.

    ``messages`` are ``{"role": "system"|"user"|"assistant", "content": str}``
    dicts (a role's system prompt first, if any). ``settings`` defaults to the
    model's ``options.generation`` in models.yaml. Setting ``stop`` ends the
    reply early (``info.finish_reason == "cancelled"``). ``ignore_eos`` makes a
    local model always write ``max_new_tokens`` (benchmarks: the same work per reply).
    """
    entry = registry.entry(model)
    if entry.task not in ("chat", "endpoint") or (
        entry.task == "endpoint" and entry.serves != "chat"
    ):
        chat_models = ", ".join(registry.names("chat", "endpoint")) or "(none)"
        raise InputError(
            f"'{model}' is a {entry.task} model, not a chat model. Chat models: {chat_models}",
            key="errors.chat.not_a_chat_model",
            model=model,
            task=entry.task,
            chat_models=chat_models,
        )
    settings = (settings or GenerationSettings.for_model(registry, model)).validated()
    info = StreamInfo(model=model, settings=settings)
    stop = stop or threading.Event()
    if entry.task == "endpoint":
        from playground.chat.remote import stream_endpoint

        gen = stream_endpoint(registry, model, messages, settings, stop, info)
    else:
        gen = _stream_local(registry, model, messages, settings, stop, info, ignore_eos)
    return ChatStream(gen, info)


def complete(
    registry: Any,
    model: str,
    messages: list[dict[str, str]],
    settings: GenerationSettings | None = None,
) -> str:
    """The whole reply at once (the last value ``stream_chat`` yields)."""
    stream = stream_chat(registry, model, messages, settings)
    for _ in stream:
        pass
    return stream.text


def merge_streams(streams: list, stop: threading.Event) -> Iterator[tuple[int, str]]:
    """Run several reply streams at once; yield ``(index, text)`` as any of them advances.

    ``stop`` must be the event the streams were started with: it is set when the
    consumer leaves early or one stream fails, so that every stream ends.
    """
    if len(streams) == 1:
        for text in streams[0]:
            yield 0, text
        return
    updates: queue.Queue = queue.Queue()
    done = object()

    def pump(index: int, stream) -> None:
        try:
            for text in stream:
                updates.put((index, text))
        except BaseException as exc:  # handed to the reading side
            updates.put((index, exc))
        finally:
            updates.put((index, done))

    threads = [
        threading.Thread(target=pump, args=(i, s), daemon=True) for i, s in enumerate(streams)
    ]
    for thread in threads:
        thread.start()
    running = len(threads)
    try:
        while running:
            index, item = updates.get()
            if item is done:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield index, item
    finally:
        if running:
            stop.set()
        for thread in threads:
            thread.join()


def render_prompt(
    registry: Any,
    model: str,
    messages: list[dict[str, str]],
    settings: GenerationSettings | None = None,
) -> PreparedPrompt:
    """The exact text a local model would receive (after trimming), without generating.

    For an endpoint it is the JSON list of messages that would be sent.
    """
    settings = (settings or GenerationSettings.for_model(registry, model)).validated()
    entry = registry.entry(model)
    if entry.task == "endpoint":
        from playground.chat.remote import prepare_endpoint

        return prepare_endpoint(entry, messages, settings)
    with registry.use(model) as chat_model:
        return _prepare_local(chat_model, model, messages, settings)


def _prepare_local(
    chat_model: Any, model: str, messages: list[dict[str, str]], settings: GenerationSettings
) -> PreparedPrompt:
    """The prompt a loaded local model receives: its template applied, trimmed to its window."""
    apply_configured_template(chat_model)
    return prepare(
        chat_model.tokenizer,
        messages,
        context_window=chat_model.context_window,
        max_new_tokens=settings.max_new_tokens,
        model_name=model,
        enable_thinking=settings.enable_thinking,
    )


def apply_configured_template(chat_model: Any) -> None:
    """Use ``options.chat_template`` from models.yaml when the tokenizer has none."""
    template = chat_model.entry.options.get("chat_template")
    if template and not getattr(chat_model.tokenizer, "chat_template", None):
        chat_model.tokenizer.chat_template = template


def _stream_local(
    registry: Any,
    model: str,
    messages: list[dict[str, str]],
    settings: GenerationSettings,
    stop: threading.Event,
    info: StreamInfo,
    ignore_eos: bool = False,
) -> Iterator[str]:
    with registry.use(model) as chat_model:
        tokenizer = chat_model.tokenizer
        prepared = _prepare_local(chat_model, model, messages, settings)
        info.prompt, info.prompt_tokens = prepared.text, prepared.prompt_tokens
        info.context_window, info.dropped = prepared.context_window, prepared.dropped
        inputs = tokenizer(prepared.text, return_tensors="pt", add_special_tokens=False)
        service = getattr(chat_model, "service", None)
        why_not = service.unbatchable(settings) if service else _no_service_reason(chat_model)
        if why_not is None:
            info.path = "batched"
            ids = inputs["input_ids"][0].tolist()
            yield from stream_batched(service, tokenizer, ids, settings, stop, info, ignore_eos)
            return
        info.path = f"plain generate: {why_not}"
        yield from stream_plain(chat_model, inputs, settings, stop, info, ignore_eos)


def _no_service_reason(chat_model: Any) -> str:
    """Why a loaded model has no batching service (ZeroGPU, an adapter, no room)."""
    return getattr(chat_model, "no_service_reason", "") or "no batching service"
