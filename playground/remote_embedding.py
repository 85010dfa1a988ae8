"""Embeddings from an OpenAI-compatible server (`serves: embedding` endpoint entries).

vLLM (`--task embed`), Text Embeddings Inference, SGLang, Ollama and the
Hugging Face router all answer ``POST {base_url}/embeddings``.
``RemoteEmbeddingModel`` offers the part of the sentence-transformers API the
document search uses (``encode`` and ``get_sentence_embedding_dimension``), so
an endpoint can stand in for a local embedding model.
"""

from __future__ import annotations

from typing import Any

from playground.errors import ModelLoadError

HF_ROUTER = "https://router.huggingface.co/v1"
CONNECT_TIMEOUT = 10.0


class RemoteEmbeddingModel:
    """A sentence-transformers look-alike that calls ``/embeddings`` on a server."""

    def __init__(self, endpoint: Any, client: Any = None) -> None:
        self.endpoint = endpoint
        self.device = "remote"
        self.memory_bytes = 0
        self._client = client
        self._dimension: int | None = None

    @property
    def where(self) -> str:
        return self.endpoint.base_url or HF_ROUTER

    def client(self) -> Any:
        if self._client is None:
            from openai import OpenAI, Timeout

            self._client = OpenAI(
                base_url=self.where,
                api_key=self.endpoint.api_key or "not-needed",
                timeout=Timeout(self.endpoint.timeout, connect=CONNECT_TIMEOUT),
                max_retries=1,
            )
        return self._client

    def encode(
        self,
        sentences: str | list[str],
        batch_size: int = 32,
        convert_to_numpy: bool = True,
        normalize_embeddings: bool = False,
        show_progress_bar: bool = False,
        **_: Any,
    ) -> Any:
        """Vectors for ``sentences`` (a 2-D float32 array; 1-D for a single string)."""
        import numpy as np

        single = isinstance(sentences, str)
        texts = [sentences] if single else list(sentences)
        rows: list[list[float]] = []
        for start in range(0, len(texts), max(1, batch_size)):
            rows.extend(self._request(texts[start : start + batch_size]))
        vectors = np.asarray(rows, dtype="float32").reshape(len(texts), -1)
        if normalize_embeddings and len(vectors):
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.maximum(norms, 1e-12)
        if vectors.shape[0]:
            self._dimension = int(vectors.shape[1])
        return vectors[0] if single else vectors

    def get_sentence_embedding_dimension(self) -> int:
        if self._dimension is None:
            self.encode(["dimension probe"])
        return int(self._dimension or 0)

    get_embedding_dimension = get_sentence_embedding_dimension

    def _request(self, texts: list[str]) -> list[list[float]]:
        name = self.endpoint.name
        try:
            response = self.client().embeddings.create(model=self.endpoint.api_model, input=texts)
        except Exception as exc:
            raise self._error(exc) from exc
        data = sorted(response.data, key=lambda d: d.index)
        if len(data) != len(texts):
            raise ModelLoadError(
                f"'{name}': {self.where} returned {len(data)} embeddings for {len(texts)} texts.",
                key="errors.embedding.count_mismatch",
                name=name,
                where=self.where,
                got=len(data),
                texts=len(texts),
            )
        return [list(d.embedding) for d in data]

    def _error(self, exc: Exception) -> ModelLoadError:
        """The ``ModelLoadError`` for a failed embedding request."""
        import openai

        name, where = self.endpoint.name, self.where
        if isinstance(exc, openai.APITimeoutError):
            return ModelLoadError(
                f"'{name}': the embedding server at {where} did not answer within "
                f"{self.endpoint.timeout:.0f} s; try again or raise options.timeout.",
                key="errors.embedding.timeout",
                name=name,
                where=where,
                timeout=float(self.endpoint.timeout),
            )
        if isinstance(exc, openai.APIConnectionError):
            return ModelLoadError(
                f"'{name}': cannot reach the embedding server at {where}. Is it running? Start "
                "it (for example `vllm serve MODEL --task embed` or text-embeddings-inference) "
                "and check base_url in the models file.",
                key="errors.embedding.unreachable",
                name=name,
                where=where,
            )
        if isinstance(exc, openai.APIStatusError):
            return ModelLoadError(
                f"'{name}': {where} answered HTTP {exc.status_code}: {str(exc)[:300]}",
                key="errors.endpoint.http_status",
                name=name,
                where=where,
                status=exc.status_code,
                detail=str(exc)[:300],
            )
        return ModelLoadError(
            f"'{name}': embedding request to {where} failed: {type(exc).__name__}: {exc}",
            key="errors.embedding.request_failed",
            name=name,
            where=where,
            kind=type(exc).__name__,
            detail=str(exc),
        )
