"""One decode loop per loaded chat model: many users' replies batched together.

A ``ChatService`` wraps transformers' continuous batching
(``model.init_continuous_batching()``): every request is added to one paged
KV cache and one background loop decodes all running requests a step at a
time, so eight users cost about as much wall time as two or three. Each
request streams its own tokens; ``cancel()`` drops that request at the next
step and leaves the others running.

What transformers' manager can vary per request (checked in
``generation/continuous_batching/cb_logits_processors.py``, transformers 5.x):
``max_new_tokens``, ``eos_token_id``, ``temperature``, ``top_k`` and
``top_p``. Greedy decoding is expressed per request as ``top_k=1`` on the
sampling loop (sampling from one token is argmax). A repetition penalty and a
fixed seed are manager-wide (one logits processor, one random generator), so
``unbatchable()`` names them and the engine sends such requests down the plain
``generate`` path instead.

Prefix sharing, when the model's entry opts in (``options.prefix_cache: true``;
transformers' ``allow_block_sharing``): a finished reply's complete
pages stay cached by content hash, and a request whose prompt starts with the
same tokens takes those pages instead of computing them (the library evicts
cached pages when live requests need room). A role's system prompt is then
computed once for every user of the role, and the next turn of a chat
prefills only what follows the pages of the last one. Pages are small
(``PAGE_SIZE``) so that little of a shared start is lost to rounding. It is off
by default: a cache hit shows in the time to first token, so on a server
shared with strangers one user could test whether another sent a given text.

The cache is sized by us (``options.kv_cache_tokens``, cut to what the memory
budget has left), not by the library's default of "most of the free memory",
and ``kv_bytes`` (cache plus the attention mask that spans it) is counted in
the registry's budget.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

from playground.errors import PlaygroundError

log = logging.getLogger(__name__)

DEFAULT_KV_TOKENS = 16384  # cache for ~16 chats of 1,000 tokens; options.kv_cache_tokens
PAGE_SIZE = 16  # tokens per cache page: a shared prefix is reused in whole pages
MAX_BATCH_TOKENS = 512  # tokens per forward step (prefill chunks + one per decoding request)
_POLL_SECONDS = 0.1  # the router's wait for output before re-checking the loop is alive
# How often a waiting reader looks at its Stop event: well under one decode step.
_STOP_POLL_SECONDS = 0.02


class ServiceClosedError(PlaygroundError):
    """The model's generation service was stopped (the model is being unloaded)."""


def kv_bytes_per_token(config: Any, dtype_bytes: int) -> int:
    """Bytes of key + value cache one token takes across every layer."""
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    heads = text.num_attention_heads
    kv_heads = getattr(text, "num_key_value_heads", None) or heads
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // heads
    return text.num_hidden_layers * 2 * kv_heads * head_dim * dtype_bytes


def reserved_bytes(tokens: int, per_token: int, mask_itemsize: int) -> int:
    """Memory the batching loop holds for a cache of ``tokens``.

    The KV pages, plus (for sdpa/eager attention) the attention mask the library
    allocates at ``[max_batch_tokens, tokens + max_batch_tokens]``.
    """
    mask = MAX_BATCH_TOKENS * (tokens + MAX_BATCH_TOKENS) * mask_itemsize
    return tokens * per_token + mask


def plan_kv_tokens(wanted: int, headroom: int, per_token: int, mask_itemsize: int) -> int:
    """Cache tokens to reserve: ``wanted``, cut until it fits the budget's headroom.

    Returns 0 (no batching: the engine uses plain ``generate``) when not even
    two pages fit.
    """
    tokens = max(0, int(wanted)) // PAGE_SIZE * PAGE_SIZE
    while tokens >= 2 * PAGE_SIZE and reserved_bytes(tokens, per_token, mask_itemsize) > headroom:
        tokens //= 2
    return tokens if tokens >= 2 * PAGE_SIZE else 0


class BatchRequest:
    """One submitted reply; ``stream()`` gives its cumulative generated token ids."""

    def __init__(self, service: ChatService, request_id: str) -> None:
        self.service = service
        self.request_id = request_id
        self.updates: queue.Queue = queue.Queue()
        self.finished = False

    def stream(self, stop: threading.Event | None = None) -> Iterator[list[int]]:
        """Cumulative token ids after each step; ends when finished or ``stop`` is set."""
        while not self.finished:
            if stop is not None and stop.is_set():
                self.cancel()
                return
            try:
                output = self.updates.get(timeout=_STOP_POLL_SECONDS)
            except queue.Empty:
                self.service.check_alive()
                continue
            if output.error:
                self.finished = True
                raise PlaygroundError(
                    f"generation failed: {output.error}",
                    key="errors.chat.batch_failed",
                    detail=str(output.error),
                )
            self.finished = output.is_finished()
            yield list(output.generated_tokens)

    def cancel(self) -> None:
        """Drop this request from the batch (takes effect at the next decoding step)."""
        if not self.finished:
            self.finished = True
            self.service.cancel(self.request_id)


class ChatService:
    """A continuous-batching decode loop shared by every caller of one loaded model."""

    def __init__(
        self,
        model: Any,
        *,
        kv_tokens: int,
        kv_bytes: int,
        eos_token_id: Any = None,
        prefix_sharing: bool = False,
    ) -> None:
        self.model = model
        self.kv_tokens = kv_tokens
        self.kv_bytes = kv_bytes  # what the registry counts for this loop
        self.eos_token_id = eos_token_id
        self.prefix_sharing = prefix_sharing  # trusted users only: see the module doc
        self._manager: Any = None
        self._router: threading.Thread | None = None
        self._requests: dict[str, BatchRequest] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._counter = 0
        self.failure: str | None = None

    # ------------------------------------------------------------ requests

    def unbatchable(self, settings: Any) -> str | None:
        """Why a request with ``settings`` cannot share the batch (None when it can)."""
        if self.failure:
            return f"the batching loop stopped ({self.failure})"
        if settings.seed is not None:
            return "a fixed seed needs its own random generator"
        if settings.repetition_penalty != 1.0:
            return "repetition penalty is not per-request in continuous batching"
        return None

    def submit(self, input_ids: list[int], settings: Any, *, stop_at_eos: bool = True):
        """Queue one reply; returns a ``BatchRequest`` streaming its tokens."""
        sampling = self._sampling_kwargs(settings)
        with self._lock:
            if self._closed:
                raise ServiceClosedError(
                    "this model is being unloaded; load it again and retry",
                    key="errors.chat.service_closed",
                )
            self._start_locked()
            self._counter += 1
            request = BatchRequest(self, f"chat-{self._counter}")
            self._requests[request.request_id] = request
        added = self._manager.add_request(
            list(input_ids),
            request_id=request.request_id,
            max_new_tokens=settings.max_new_tokens,
            streaming=True,
            eos_token_id=self.eos_token_id if stop_at_eos else -1,
            **sampling,
        )
        if added is None:  # the manager refused it (stopping)
            self._forget(request.request_id)
            raise ServiceClosedError(
                "this model is being unloaded; load it again and retry",
                key="errors.chat.service_closed",
            )
        return request

    def _sampling_kwargs(self, settings: Any) -> dict[str, Any]:
        if settings.greedy:
            return {"temperature": 1.0, "top_k": 1, "top_p": 1.0}
        vocab = self.model.config.get_text_config().vocab_size
        return {
            "temperature": float(settings.temperature),
            "top_k": int(settings.top_k) or int(vocab),  # 0 means "no top-k"
            "top_p": float(settings.top_p),
        }

    def cancel(self, request_id: str) -> None:
        if self._manager is not None:
            self._manager.cancel_request(request_id)
        self._forget(request_id)

    def _forget(self, request_id: str) -> None:
        with self._lock:
            self._requests.pop(request_id, None)

    @property
    def active(self) -> int:
        """Requests submitted and not yet finished or cancelled."""
        with self._lock:
            return len(self._requests)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Hold the decode loop between steps (it keeps its cache and requests).

        Requests submitted meanwhile wait and then start in the same step; tests use
        this to make replies overlap for certain.
        """
        with self._lock:
            self._start_locked()
        with self._manager.pause():
            yield

    def check_alive(self) -> None:
        if self.failure:
            raise PlaygroundError(
                f"the model's decode loop stopped: {self.failure}",
                key="errors.chat.decode_loop_stopped",
                detail=str(self.failure),
            )

    # ------------------------------------------------------------ the loop

    def _start_locked(self) -> None:
        if self._manager is not None:
            return
        from transformers import GenerationConfig
        from transformers.generation.configuration_utils import ContinuousBatchingConfig

        from playground.chat import batch_attention, cb_processors

        cb_processors.install()  # the library's top-k/top-p sort the whole vocabulary per row
        batch_attention.install()  # on a CPU, each request's queries meet only its own keys

        # Sampling processors must exist at creation for per-request values to apply;
        # the values here are only defaults that every request overrides.
        generation = GenerationConfig(
            do_sample=True, temperature=0.7, top_k=50, top_p=0.9,
            eos_token_id=self.eos_token_id if self.eos_token_id is not None else -1,
        )  # fmt: skip
        batching = ContinuousBatchingConfig(
            num_blocks=self.kv_tokens // PAGE_SIZE,
            page_size=PAGE_SIZE,
            max_batch_tokens=MAX_BATCH_TOKENS,
            per_request_processors=True,
            allow_block_sharing=self.prefix_sharing,
            use_async_batching=False,
            auto_switch_to_flash=False,  # keep the attention the model was loaded with
        )
        self._manager = self.model.init_continuous_batching(
            generation_config=generation, continuous_batching_config=batching
        )
        started = threading.Event()
        # The manager's loop thread inherits "daemon" from the thread that starts it:
        # starting it from our daemon router keeps a forgotten model from blocking exit.
        self._router = threading.Thread(
            target=self._route, args=(started,), name="chat-service-router", daemon=True
        )
        self._router.start()
        started.wait()

    def _route(self, started: threading.Event) -> None:
        """Start the manager's loop, then hand each output to its request's queue."""
        import torch

        with torch.inference_mode():
            self._manager.start()
        started.set()
        manager = self._manager
        while True:
            output = manager.get_result(timeout=_POLL_SECONDS)
            if output is None:
                error = manager.background_thread_status.fatal_error
                if error is not None:
                    self.failure = f"{type(error).__name__}: {error}"
                    return
                if not manager.is_running():
                    return
                continue
            with self._lock:
                request = self._requests.get(output.request_id)
                if request is not None and output.is_finished():
                    del self._requests[output.request_id]
            if request is not None:
                request.updates.put(output)

    def close(self, timeout: float | None = 60.0) -> None:
        """Stop taking requests, let running ones finish, stop the loop, free the cache."""
        with self._lock:
            self._closed = True
            manager, router = self._manager, self._router
        if manager is None:
            return
        if manager.is_running():
            manager.stop(block=True, timeout=timeout)  # flushes: running replies end normally
        if router is not None:
            router.join(timeout=timeout)
        manager.batch_processor = None
        self._manager = None
        log.info("chat service stopped; KV cache freed")


def stream_batched(
    service: ChatService,
    tokenizer: Any,
    input_ids: list[int],
    settings: Any,
    stop: threading.Event,
    info: Any,
    ignore_eos: bool = False,
) -> Iterator[str]:
    """Submit one reply to ``service``; yield its cumulative text, filling ``info``.

    ``stop`` is checked at every update and every poll, so a Stop reaches the
    manager (``cancel_request``) within one decoding step; only this request ends.
    """
    start = time.perf_counter()
    request = service.submit(input_ids, settings, stop_at_eos=not ignore_eos)
    text, decoded, tokens = "", "", []
    try:
        for tokens in request.stream(stop):
            info.new_tokens = len(tokens)
            if info.first_token_seconds is None and tokens:
                info.first_token_seconds = time.perf_counter() - start
            decoded = tokenizer.decode(tokens, skip_special_tokens=True)
            if decoded.endswith("\ufffd") or decoded == text:  # half a character: wait
                continue
            text = decoded
            yield text
        if decoded != text and not stop.is_set():  # the reply ended mid-character
            text = decoded
            yield text
    finally:
        request.cancel()  # no-op once finished; frees the slot if the reader left early
        info.seconds = time.perf_counter() - start
    if stop.is_set():
        info.finish_reason = "cancelled"
    elif len(tokens) >= settings.max_new_tokens:
        info.finish_reason = "length"
    else:
        info.finish_reason = "stop"
