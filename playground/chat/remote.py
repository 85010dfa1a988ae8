"""Streaming from OpenAI-compatible servers (vLLM, TGI, SGLang, `transformers serve`, Ollama).

The ``openai`` package does the HTTP; this module maps our settings onto the
request and turns connection problems into messages that say what to check.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

from playground.chat.prompt import check_messages, drop_oldest_turn
from playground.chat.settings import GenerationSettings
from playground.errors import DependencyError, InputError, ModelLoadError

HF_ROUTER = "https://router.huggingface.co/v1"
CONNECT_TIMEOUT = 10.0


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate: ~4 ASCII characters per token, ~1 per CJK character."""
    ascii_chars = sum(1 for ch in text if ord(ch) < 128)
    return ascii_chars // 4 + (len(text) - ascii_chars) + 1


def trim_for_endpoint(
    messages: list[dict[str, str]], context_window: int | None, max_new_tokens: int
) -> tuple[list[dict[str, str]], int]:
    """Drop the oldest turns until the estimated prompt fits ``context_window``."""
    if not context_window:
        return messages, 0
    budget = max(context_window - max_new_tokens, 1)
    dropped = 0
    while sum(estimate_tokens(m["content"]) + 4 for m in messages) > budget:
        messages, removed = drop_oldest_turn(messages)
        if not removed:
            break
        dropped += removed
    return messages, dropped


def prepare_endpoint(
    entry: Any, messages: list[dict[str, str]], settings: GenerationSettings
) -> Any:
    """The messages an endpoint would get, trimmed to ``options.context_window`` if set."""
    from playground.chat.prompt import PreparedPrompt

    window = entry.options.get("context_window")
    kept, dropped = trim_for_endpoint(check_messages(messages), window, settings.max_new_tokens)
    return PreparedPrompt(
        messages=kept,
        text=json.dumps(kept, ensure_ascii=False, indent=2),
        prompt_tokens=sum(estimate_tokens(m["content"]) for m in kept),
        context_window=int(window or 0),
        dropped=dropped,
    )


def _client(endpoint: Any) -> Any:
    try:
        from openai import OpenAI, Timeout
    except ImportError as exc:
        raise DependencyError(
            "endpoint models need the Python package 'openai'. Install it with: pip install openai",
            key="errors.chat.openai_missing",
        ) from exc
    base_url = endpoint.base_url or (
        HF_ROUTER if endpoint.entry.provider == "hf-inference" else None
    )
    return OpenAI(
        base_url=base_url,
        # Local servers accept any key; the client insists on one.
        api_key=endpoint.api_key or "not-needed",
        timeout=Timeout(endpoint.timeout, connect=min(CONNECT_TIMEOUT, endpoint.timeout)),
        max_retries=0,
    )


def request_kwargs(
    endpoint: Any, messages: list[dict[str, str]], settings: GenerationSettings
) -> dict:
    """The chat-completions request for these settings."""
    kwargs: dict[str, Any] = {
        "model": endpoint.api_model,
        "messages": messages,
        "stream": True,
        "max_tokens": settings.max_new_tokens,
        "temperature": settings.temperature,
    }
    if not settings.greedy:
        kwargs["top_p"] = settings.top_p
    if settings.seed is not None:
        kwargs["seed"] = settings.seed
    # vLLM, TGI, SGLang and Ollama accept these; the official OpenAI API rejects them.
    if "api.openai.com" not in (endpoint.base_url or ""):
        extra: dict[str, Any] = {}
        if settings.top_k and not settings.greedy:
            extra["top_k"] = settings.top_k
        if settings.repetition_penalty != 1.0:
            extra["repetition_penalty"] = settings.repetition_penalty
        if extra:
            kwargs["extra_body"] = extra
    return kwargs


def stream_endpoint(
    registry: Any,
    model: str,
    messages: list[dict[str, str]],
    settings: GenerationSettings,
    stop: threading.Event,
    info: Any,
) -> Iterator[str]:
    with registry.use(model) as endpoint:
        prepared = prepare_endpoint(endpoint.entry, messages, settings)
        messages = prepared.messages
        info.prompt, info.prompt_tokens = prepared.text, prepared.prompt_tokens
        info.context_window, info.dropped = prepared.context_window, prepared.dropped
        client = _client(endpoint)
        start = time.perf_counter()
        stream = _open(client, endpoint, request_kwargs(endpoint, messages, settings))
        text = ""
        try:
            for chunk in _chunks(stream, endpoint):
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                piece = getattr(choice.delta, "content", None) or ""
                if piece:
                    if info.first_token_seconds is None:
                        info.first_token_seconds = time.perf_counter() - start
                    info.new_tokens += 1  # one chunk is (about) one token on these servers
                    text += piece
                    yield text
                if choice.finish_reason:
                    info.finish_reason = "length" if choice.finish_reason == "length" else "stop"
                if stop.is_set():
                    info.finish_reason = "cancelled"
                    break
        finally:
            stream.close()
            info.seconds = time.perf_counter() - start
        info.finish_reason = info.finish_reason or "stop"


def _where(endpoint: Any) -> str:
    return endpoint.base_url or HF_ROUTER


def _open(client: Any, endpoint: Any, kwargs: dict) -> Any:
    try:
        return client.chat.completions.create(**kwargs)
    except Exception as exc:
        raise _explain(exc, endpoint) from exc


def _chunks(stream: Any, endpoint: Any) -> Iterator[Any]:
    iterator = iter(stream)
    while True:
        try:
            chunk = next(iterator)
        except StopIteration:
            return
        except Exception as exc:
            raise _explain(exc, endpoint) from exc
        yield chunk


def _explain(exc: Exception, endpoint: Any) -> Exception:
    import openai

    name, where = endpoint.name, _where(endpoint)
    if isinstance(exc, openai.APITimeoutError):
        return ModelLoadError(
            f"'{name}': the server at {where} did not answer within {endpoint.timeout:.0f} s. "
            "It may be overloaded or still loading the model; try again, or raise "
            "options.timeout in the models file.",
            key="errors.endpoint.timeout",
            name=name,
            where=where,
            timeout=float(endpoint.timeout),
        )
    if isinstance(exc, openai.APIConnectionError):
        return ModelLoadError(
            f"'{name}': cannot reach the server at {where} ({exc.__cause__ or exc}). Is it "
            "running? Start it (for example `vllm serve MODEL` or `ollama serve`) and check "
            "base_url in the models file.",
            key="errors.endpoint.unreachable",
            name=name,
            where=where,
            detail=str(exc.__cause__ or exc),
        )
    if isinstance(exc, openai.APIStatusError):
        return _explain_status(exc, endpoint)
    return ModelLoadError(
        f"'{name}': request to {where} failed: {type(exc).__name__}: {exc}",
        key="errors.endpoint.request_failed",
        name=name,
        where=where,
        kind=type(exc).__name__,
        detail=str(exc),
    )


def _explain_status(exc: Any, endpoint: Any) -> Exception:
    """An error for an HTTP error answer (``openai.APIStatusError`` and its subclasses)."""
    import openai

    name, where = endpoint.name, _where(endpoint)
    if isinstance(exc, openai.AuthenticationError):
        env = endpoint.entry.api_key_env or "api_key_env"
        return ModelLoadError(
            f"'{name}': {where} refused the API key; check {env}.",
            key="errors.endpoint.bad_api_key",
            name=name,
            where=where,
            env=env,
        )
    if isinstance(exc, openai.NotFoundError):
        return ModelLoadError(
            f"'{name}': {where} does not serve a model called '{endpoint.api_model}'. Set "
            "api_model to a name listed by the server's /v1/models.",
            key="errors.endpoint.no_such_model",
            name=name,
            where=where,
            api_model=str(endpoint.api_model),
        )
    if isinstance(exc, openai.BadRequestError):
        return InputError(
            f"'{name}': the server rejected the request: {_body(exc)}",
            key="errors.endpoint.rejected",
            name=name,
            detail=_body(exc),
        )
    return ModelLoadError(
        f"'{name}': {where} answered HTTP {exc.status_code}: {_body(exc)}",
        key="errors.endpoint.http_status",
        name=name,
        where=where,
        status=exc.status_code,
        detail=_body(exc),
    )


def _body(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        body = body.get("message") or body.get("error") or body
    return str(body or exc)[:300]
