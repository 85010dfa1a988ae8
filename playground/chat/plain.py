"""A chat reply by a plain ``model.generate`` in a worker thread, streamed token by token.

The path for requests the batching service cannot take (a fixed seed, a
repetition penalty, adapters, ZeroGPU; see ``playground.chat.engine``). A
stopping criterion watches the ``stop`` event, so setting it (or abandoning the
iterator) ends the reply within a decoding step.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from playground.chat.settings import GenerationSettings
from playground.errors import PlaygroundError

if TYPE_CHECKING:
    from playground.chat.engine import StreamInfo

# How long the reader waits for the next token before checking the worker is alive.
_POLL_SECONDS = 0.1
# Sampling draws from torch's global random generator, so two seeded replies running
# at once (compare mode) would disturb each other: seeded replies take turns.
_SEEDED = threading.Lock()


class _StopOnEvent:
    """A transformers stopping criterion that ends generation once ``event`` is set."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        done = self.event.is_set()
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)


def stream_plain(
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
            "clear the chat history, or unload other models in the Models tab.",
            key="errors.chat.out_of_memory",
            model=model,
            detail=text,
        )
    return PlaygroundError(
        f"'{model}' failed while generating: {type(exc).__name__}: {text}",
        key="errors.chat.generation_failed",
        model=model,
        kind=type(exc).__name__,
        detail=text,
    )
