"""The embedding model behind a collection: which one, and how it is called.

An ``Embedder`` wraps a registry model (or, in tests, any object with a
sentence-transformers style ``encode``) and adds the prefixes some models
expect, read from the entry's options (``query_prefix``, ``document_prefix``;
E5 wants ``"query: "`` / ``"passage: "``). Vectors are L2-normalised float32, so
inner product is cosine similarity.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from playground.config import ModelEntry
from playground.errors import ConfigError, InputError

ENCODE_BATCH = 64


@dataclass(frozen=True)
class EmbeddingInfo:
    """What a collection records about the model that embedded it."""

    name: str
    source: str = ""
    dimension: int = 0
    query_prefix: str = ""
    document_prefix: str = ""
    # Languages the model was trained on (``languages`` in models.yaml, or the model
    # card's ``language``); empty when unknown. Search trusts dense scores only for these.
    languages: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {**asdict(self), "languages": list(self.languages)}

    @classmethod
    def from_dict(cls, data: dict) -> EmbeddingInfo:
        values = {k: data.get(k, getattr(cls, k, "")) for k in cls.__dataclass_fields__}
        values["languages"] = tuple(data.get("languages") or ())
        return cls(**values)

    def covers(self, language: str) -> bool:
        """Whether queries in ``language`` are in the model's languages (unknown: assume so)."""
        known = set(self.languages)
        return not known or "multilingual" in known or language in known

    def same_model(self, other: EmbeddingInfo) -> bool:
        """Same weights (by name, or by folder) used with the same prefixes."""
        if (self.query_prefix, self.document_prefix) != (other.query_prefix, other.document_prefix):
            return False
        if self.name == other.name:
            return True
        mine, theirs = _as_folder(self.source), _as_folder(other.source)
        return mine is not None and mine == theirs


def _as_folder(source: str) -> Path | None:
    path = Path(source).expanduser() if source else None
    return path.resolve() if path is not None and path.exists() else None


class Embedder:
    """Turns texts into normalised vectors with one embedding model."""

    def __init__(
        self,
        info: EmbeddingInfo,
        hold: Callable[[], AbstractContextManager[Any]],
    ) -> None:
        self.info = info
        self._hold = hold

    @classmethod
    def from_model(
        cls, model: Any, name: str = "custom", languages: tuple[str, ...] = (), **prefixes: str
    ) -> Embedder:
        """An embedder over an already loaded model (tests, notebooks)."""
        dim = _dimension(model)
        info = EmbeddingInfo(name=name, dimension=dim, languages=tuple(languages), **prefixes)
        return cls(info, lambda: nullcontext(model))

    @property
    def dimension(self) -> int:
        return self.info.dimension

    def embed_documents(
        self, texts: list[str], progress: Callable[[int, int], None] | None = None
    ) -> np.ndarray:
        texts = [self.info.document_prefix + t for t in texts]
        if not texts:
            return np.zeros((0, self.dimension), dtype="float32")
        # Longest first, so each batch holds texts of similar length (little padding),
        # as sentence-transformers does inside one encode() call; batches give progress.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = (
            np.zeros((len(texts), self.dimension or 0), dtype="float32") if self.dimension else None
        )
        with self._hold() as model:
            for start in range(0, len(texts), ENCODE_BATCH):
                rows = order[start : start + ENCODE_BATCH]
                vectors = _encode(model, [texts[i] for i in rows])
                if out is None:
                    out = np.zeros((len(texts), vectors.shape[1]), dtype="float32")
                out[rows] = vectors
                if progress:
                    progress(min(start + ENCODE_BATCH, len(texts)), len(texts))
        return out

    def embed_query(self, text: str) -> np.ndarray:
        with self._hold() as model:
            return _encode(model, [self.info.query_prefix + text])[0]


def _encode(model: Any, texts: list[str]) -> np.ndarray:
    vectors = model.encode(
        texts,
        batch_size=ENCODE_BATCH,
        convert_to_numpy=True,
        normalize_embeddings=True,
        show_progress_bar=False,
    )
    return np.ascontiguousarray(vectors, dtype="float32")


def _dimension(model: Any) -> int:
    for attr in ("get_embedding_dimension", "get_sentence_embedding_dimension"):
        fn = getattr(model, attr, None)
        if callable(fn) and fn():
            return int(fn())
    return int(_encode(model, ["dimension probe"]).shape[1])


# ------------------------------------------------------------ from the registry


def embedding_names(registry) -> list[str]:
    """Local embedding models, then endpoint entries that serve embeddings."""
    remote = [e.name for e in registry.entries("endpoint") if e.serves == "embedding"]
    return registry.names("embedding") + remote


def is_embedding_entry(entry: ModelEntry) -> bool:
    return entry.task == "embedding" or (entry.task == "endpoint" and entry.serves == "embedding")


def embedder_for(
    registry, name_or_path: str | None = None, *, recorded: EmbeddingInfo | None = None
) -> Embedder:
    """The embedder to use: ``name_or_path`` if given, else the collection's
    ``recorded`` model, else the first embedding model in the models file.

    A model other than the one a collection was built with is a ``ConfigError``:
    its vectors would not be comparable and search would return garbage.
    """
    if name_or_path:
        name = _resolve_name(registry, name_or_path)
    elif recorded is not None:
        name = _resolve_recorded(registry, recorded)
    else:
        names = embedding_names(registry)
        if not names:
            raise ConfigError(
                "no embedding model is configured. Add an entry with task: embedding to the "
                "models file, or pass --embedding-model PATH_TO_A_SENTENCE_TRANSFORMERS_FOLDER.",
                key="errors.rag.no_embedding_model",
            )
        name = names[0]
    entry = registry.entry(name)
    if not is_embedding_entry(entry):
        raise ConfigError(
            f"'{name}' is a {entry.task} model, not an embedding model.",
            key="errors.rag.not_an_embedding_model",
            name=name,
            task=entry.task,
        )
    embedder = _registry_embedder(registry, entry)
    if recorded is not None and recorded.name and not recorded.same_model(embedder.info):
        raise ConfigError(
            f"this collection was built with the embedding model '{recorded.name}' but "
            f"'{entry.name}' was asked for. Vectors of different models cannot be compared. "
            f"Search it with '{recorded.name}', or rebuild the collection with the new model.",
            key="errors.rag.embedding_model_changed",
            recorded=recorded.name,
            asked=entry.name,
        )
    return embedder


def _registry_embedder(registry, entry: ModelEntry) -> Embedder:
    def dimension() -> int:
        with registry.use(entry.name) as model:
            return _dimension(model)

    options = entry.options
    local = entry.local_path(registry.config.base_dir)
    info = EmbeddingInfo(
        name=entry.name,
        source=str(local.resolve()) if local is not None else (entry.source or ""),
        dimension=0,
        query_prefix=str(options.get("query_prefix", "")),
        document_prefix=str(options.get("document_prefix", "")),
        languages=tuple(entry.languages),
    )
    embedder = Embedder(info, lambda: registry.use(entry.name))
    embedder.info = EmbeddingInfo(**{**info.to_dict(), "dimension": dimension()})
    return embedder


def _resolve_name(registry, name_or_path: str) -> str:
    if name_or_path in registry.names():
        return name_or_path
    path = Path(name_or_path).expanduser()
    if not path.exists():
        names = ", ".join(registry.names("embedding"))
        known = names or "(none)"
        raise InputError(
            f"embedding model '{name_or_path}' is neither a model in the models file "
            f"(embedding models: {known}) nor a folder on disk.",
            key="errors.rag.unknown_embedding_model"
            if names
            else "errors.rag.unknown_embedding_model_none",
            name=name_or_path,
            known=known,
        )
    return _register_folder(registry, path.resolve())


def _resolve_recorded(registry, recorded: EmbeddingInfo) -> str:
    if recorded.name in embedding_names(registry):
        return recorded.name
    folder = _as_folder(recorded.source)
    if folder is not None:
        return _register_folder(registry, folder, name=recorded.name)
    source = recorded.source or "unknown source"
    raise ConfigError(
        f"this collection was built with the embedding model '{recorded.name}' "
        f"({source}), which is not in the models file. Add it "
        "to the models file, or pass --embedding-model with its folder.",
        key="errors.rag.recorded_model_missing"
        if recorded.source
        else "errors.rag.recorded_model_missing_no_source",
        name=recorded.name,
        source=source,
    )


def _register_folder(registry, folder: Path, name: str | None = None) -> str:
    """Register a sentence-transformers folder as an ad-hoc embedding entry."""
    for entry in registry.entries("embedding"):
        if _as_folder(entry.source or "") == folder:
            return entry.name
    base = name or re.sub(r"[^A-Za-z0-9._-]+", "-", folder.name).strip("-.") or "embedding"
    if base in ("model", "models") and name is None:
        base = f"{folder.parent.name}-{base}"
    candidate, n = base, 1
    while candidate in registry.names():
        n += 1
        candidate = f"{base}-{n}"
    registry.register(
        ModelEntry(
            name=candidate, task="embedding", source=str(folder), languages=card_languages(folder)
        )
    )
    return candidate


def card_languages(folder: Path) -> list[str]:
    """``language`` from the model card's front matter (README.md), as the Hub shows it."""
    card = folder / "README.md"
    text = card.read_text(encoding="utf-8", errors="replace") if card.is_file() else ""
    match = re.match(r"---\n(.*?)\n---", text, re.S)
    if not match:
        return []
    import yaml

    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError:
        return []
    value = meta.get("language") if isinstance(meta, dict) else None
    values = [value] if isinstance(value, str) else value or []
    return [str(v) for v in values if isinstance(v, str)]
