"""OpenAI-compatible inference servers (vLLM, TGI, SGLang, `transformers serve`, Ollama).

Loading an endpoint makes no request; the chat engine streams from it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from playground.config import ModelEntry
from playground.errors import ModelLoadError
from playground.loaders import loader


@dataclass
class Endpoint:
    """Connection details of a remote model; it holds no local memory."""

    name: str
    entry: ModelEntry
    base_url: str | None
    api_model: str
    api_key: str | None
    timeout: float = 120.0
    device: str = "remote"
    memory_bytes: int = 0


@loader("endpoint")
def load(entry: ModelEntry, ctx) -> Endpoint:
    api_key = None
    if entry.api_key_env:
        api_key = os.environ.get(entry.api_key_env)
        if not api_key:
            raise ModelLoadError(
                f"'{entry.name}': environment variable {entry.api_key_env} (the API key for "
                f"{entry.base_url or entry.provider}) is not set. Export it and restart.",
                key="errors.loader.api_key_unset",
                name=entry.name,
                env=entry.api_key_env,
                where=str(entry.base_url or entry.provider),
            )
    endpoint = Endpoint(
        name=entry.name,
        entry=entry,
        base_url=entry.base_url,
        api_model=entry.api_model or entry.source or entry.name,
        api_key=api_key,
        timeout=float(entry.options.get("timeout", 120)),
    )
    if entry.serves == "embedding":
        # Stands in for a sentence-transformers model in document search.
        from playground.remote_embedding import RemoteEmbeddingModel

        return RemoteEmbeddingModel(endpoint)
    return endpoint
