"""`serves: embedding` endpoints against a real OpenAI-compatible embeddings server.

`transformers serve` has no /v1/embeddings route, so the test runs a minimal
real server (FastAPI + uvicorn, both gradio dependencies) that serves the tiny
embedding model over the OpenAI embeddings protocol, as TEI and vLLM do.
"""

from __future__ import annotations

import base64
import threading
import time

import numpy as np
import pytest
import yaml
from pydantic import BaseModel

from playground.config import load_config
from playground.errors import ModelLoadError
from playground.registry import Registry
from tests.conftest import free_port


class EmbeddingsRequest(BaseModel):
    model: str
    input: str | list[str]
    encoding_format: str = "float"


def embeddings_app(model, model_name: str):
    from fastapi import FastAPI, HTTPException

    app = FastAPI()

    @app.post("/v1/embeddings")
    def embeddings(req: EmbeddingsRequest):
        if req.model != model_name:
            raise HTTPException(404, f"model {req.model} not found")
        texts = [req.input] if isinstance(req.input, str) else req.input
        vectors = model.encode(texts, convert_to_numpy=True).astype("float32")

        def encoded(v):
            # the openai client asks for base64 float32 by default
            if req.encoding_format == "base64":
                return base64.b64encode(v.tobytes()).decode()
            return v.tolist()

        return {
            "object": "list",
            "model": model_name,
            "data": [
                {"object": "embedding", "index": i, "embedding": encoded(v)}
                for i, v in enumerate(vectors)
            ],
            "usage": {"prompt_tokens": 0, "total_tokens": 0},
        }

    return app


@pytest.fixture(scope="module")
def server(tiny_config):
    import uvicorn
    from sentence_transformers import SentenceTransformer

    source = tiny_config.get("tiny-embedding").source
    model = SentenceTransformer(source, device="cpu")
    port = free_port()
    config = uvicorn.Config(embeddings_app(model, "tiny-e"), host="127.0.0.1", port=port,
                            log_level="warning")  # fmt: skip
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not srv.started and time.time() < deadline:
        time.sleep(0.1)
    yield {"base_url": f"http://127.0.0.1:{port}/v1", "model": model}
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def reg(server, tiny_models, tmp_path):
    data = yaml.safe_load(tiny_models.read_text())
    data["models"] += [
        {"name": "remote-embed", "task": "endpoint", "serves": "embedding",
         "base_url": server["base_url"], "api_model": "tiny-e", "options": {"timeout": 30}},
        {"name": "wrong-name", "task": "endpoint", "serves": "embedding",
         "base_url": server["base_url"], "api_model": "nope"},
        {"name": "down-embed", "task": "endpoint", "serves": "embedding",
         "base_url": f"http://127.0.0.1:{free_port()}/v1", "api_model": "x",
         "options": {"timeout": 5}},
    ]  # fmt: skip
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(data))
    return Registry(load_config(path))


def test_remote_embeddings_match_the_local_model(reg, server):
    texts = ["The red button turns it on.", "按住十秒钟可以重置。", "third"]
    with reg.use("remote-embed") as remote:
        vectors = remote.encode(texts, batch_size=2, normalize_embeddings=True)
        single = remote.encode("third", normalize_embeddings=True)
        assert remote.get_sentence_embedding_dimension() == vectors.shape[1]
    local = server["model"].encode(texts, normalize_embeddings=True)
    assert vectors.shape == local.shape and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, local, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(single, local[2], rtol=1e-4, atol=1e-5)
    status = {s.name: s for s in reg.status()}["remote-embed"]
    assert status.state == "loaded" and status.memory_bytes == 0 and status.device == "remote"


def test_unknown_model_and_server_down_are_clear(reg):
    with reg.use("wrong-name") as remote, pytest.raises(ModelLoadError, match="HTTP 404"):
        remote.encode(["x"])
    with reg.use("down-embed") as remote, pytest.raises(ModelLoadError) as err:
        remote.encode(["x"])
    assert "cannot reach" in str(err.value) and "base_url" in str(err.value)


def test_documents_index_and_search_through_an_embedding_endpoint(reg, tmp_path):
    """A collection built on a remote embedding server finds what the local model finds."""
    from playground.rag import SearchSettings, embedder_for, ingest, open_or_create
    from playground.rag.embedder import embedding_names

    assert "remote-embed" in embedding_names(reg) and "tiny-embedding" in embedding_names(reg)
    doc = tmp_path / "manual.txt"
    doc.write_text(
        "Hold the red button for ten seconds to reset the device.\n\n"
        "The battery lasts two days on a full charge.\n\n"
        "电池充满电可以使用两天。\n"
    )
    hits = {}
    for name in ("remote-embed", "tiny-embedding"):
        embedder = embedder_for(reg, name)
        collection = open_or_create(tmp_path / name, embedder, name=name)
        report = ingest(collection, [doc], embedder)
        assert report.chunks >= 1
        found = collection.search("reset the device", embedder, SearchSettings(k=3), registry=reg)
        hits[name] = [h.chunk.text for h in found]
    assert hits["remote-embed"] == hits["tiny-embedding"] and hits["remote-embed"]
