"""Streaming replies from a chat model: local transformers models, LoRA adapters, endpoints.

``stream_chat`` yields the reply so far (cumulative text) as tokens arrive.
A local model's requests go to its generation service (``playground.chat.service``:
one continuous-batching decode loop shared by every user); requests the batch
cannot take (a fixed seed, a repetition penalty, adapters, ZeroGPU) run a plain
``generate`` in a background thread with a ``TextIteratorStreamer`` and a
stopping criterion that watches the ``stop`` event. Either way setting ``stop``
(or abandoning the iterator) ends that reply within a decoding step, and
``info.path`` says which path ran. The model is held with ``registry.use`` for
the whole reply, so it is never evicted or unloaded mid-reply.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from playground.chat.prompt import PreparedPrompt, prepare
from playground.chat.service import stream_batched
from playground.chat.settings import GenerationSettings
from playground.errors import InputError, PlaygroundError

log = logging.getLogger(__name__)

# How long the reader waits for the next token before checking the worker is alive.
_POLL_SECONDS = 0.1
# Sampling draws from torch's global random generator, so two seeded replies running
# at once (compare mode) would disturb each other: seeded replies take turns.
_SEEDED = threading.Lock()


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
            f"'{model}' is a {entry.task} model, not a chat model. Chat models: {chat_models}"
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


# ------------------------------------------------------------------ local models


class _StopOnEvent:
    """A transformers stopping criterion that ends generation once ``event`` is set."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        done = self.event.is_set()
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)


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
        apply_configured_template(chat_model)
        tokenizer = chat_model.tokenizer
        prepared = prepare(
            tokenizer,
            messages,
            context_window=chat_model.context_window,
            max_new_tokens=settings.max_new_tokens,
            model_name=model,
            enable_thinking=settings.enable_thinking,
        )
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
        yield from _stream_plain(chat_model, inputs, settings, stop, info, ignore_eos)


def _no_service_reason(chat_model: Any) -> str:
    """Why a loaded model has no batching service (ZeroGPU, an adapter, no room)."""
    return getattr(chat_model, "no_service_reason", "") or "no batching service"


def _stream_plain(
    chat_model: Any,
    inputs: dict,
    settings: GenerationSettings,
    stop: threading.Event,
    info: StreamInfo,
    ignore_eos: bool,
) -> Iterator[str]:
    """One ``model.generate`` in a worker thread, streamed token by token."""
    from transformers import StoppingCriteriaList

    model, tokenizer = info.model, chat_model.tokenizer
    inputs = {k: v.to(chat_model.model.device) for k, v in inputs.items()}
    # Our own event too, so that abandoning the iterator also ends the worker.
    halt = threading.Event()
    streamer = _token_streamer(tokenizer, info)
    kwargs = dict(
        **inputs,
        **settings.generate_kwargs(),
        streamer=streamer,
        stopping_criteria=StoppingCriteriaList([_StopOnEvent(stop), _StopOnEvent(halt)]),
        pad_token_id=tokenizer.pad_token_id,
    )
    if ignore_eos:  # EOS is suppressed until max_new_tokens
        kwargs["min_new_tokens"] = settings.max_new_tokens
    failure: list[BaseException] = []
    worker = threading.Thread(
        target=_generate,
        args=(chat_model.model, kwargs, settings.seed, streamer, failure),
        name=f"chat-generate-{model}",
        daemon=True,
    )
    start = time.perf_counter()
    worker.start()
    text = ""
    try:
        for piece in _read(streamer, worker):
            if not piece:
                continue
            if info.first_token_seconds is None:
                info.first_token_seconds = time.perf_counter() - start
            text += piece
            yield text
            if stop.is_set():
                break
    finally:
        halt.set()
        worker.join()
        info.seconds = time.perf_counter() - start
    if failure:
        raise _explain_generation_error(model, failure[0])
    if stop.is_set():
        info.finish_reason = "cancelled"
    elif info.new_tokens >= settings.max_new_tokens:
        info.finish_reason = "length"
    else:
        info.finish_reason = "stop"


def _generate(model: Any, kwargs: dict, seed: int | None, streamer: Any, failure: list) -> None:
    import torch

    try:
        with _SEEDED if seed is not None else contextlib.nullcontext():
            if seed is not None:
                from transformers import set_seed

                set_seed(seed)
            with torch.inference_mode():
                model.generate(**kwargs)
    except BaseException as exc:  # re-raised in the reading thread
        failure.append(exc)
        streamer.end()


def _read(streamer: Any, worker: threading.Thread) -> Iterator[str]:
    """Pieces of text from the streamer until it ends (or the worker died)."""
    import queue

    while True:
        try:
            piece = streamer.text_queue.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            if not worker.is_alive() and streamer.text_queue.empty():
                return
            continue
        if piece is streamer.stop_signal:
            return
        yield piece


def _token_streamer(tokenizer: Any, info: StreamInfo) -> Any:
    """A ``TextIteratorStreamer`` that hands out text after every token, not every word.

    The stock streamer holds text back until a space, which makes a reply (and
    random test models especially) arrive in lumps. Here only an incomplete
    multi-byte character is held back. It also counts tokens into ``info``.
    """
    from transformers import TextIteratorStreamer

    class TokenStreamer(TextIteratorStreamer):
        def put(self, value: Any) -> None:
            if len(value.shape) > 1:
                value = value[0]
            if self.next_tokens_are_prompt:
                self.next_tokens_are_prompt = False
                return
            info.new_tokens += int(value.numel())
            self.token_cache.extend(value.tolist())
            text = self.tokenizer.decode(self.token_cache, **self.decode_kwargs)
            if text.endswith("\ufffd"):  # half a character: wait for the next token
                return
            printable = text[self.print_len :]
            if text.endswith("\n"):  # keep decoding cheap: start afresh after each line
                self.token_cache, self.print_len = [], 0
            else:
                self.print_len = len(text)
            if printable:
                self.on_finalized_text(printable)

    return TokenStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)


def _explain_generation_error(model: str, exc: BaseException) -> BaseException:
    if isinstance(exc, PlaygroundError):
        return exc
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "out of memory" in text.lower():
        from playground.errors import OutOfMemoryError

        return OutOfMemoryError(
            f"'{model}' ran out of memory while answering ({text}). Lower max new tokens, "
            "clear the chat history, or unload other models in the Models tab."
        )
    return PlaygroundError(f"'{model}' failed while generating: {type(exc).__name__}: {text}")
