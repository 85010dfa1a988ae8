"""Subprocess bodies for tests/test_faults.py: run until killed, report state at start.

``python tests/fault_workers.py collections ROOT PROGRESS [check]``: open the
collections in ROOT (that start-up repairs any interrupted swap), print one
JSON line describing what is there, then (unless ``check``) add documents to
the collection "notes" forever, appending the committed document count to
PROGRESS after each add. The test kills it with SIGKILL at random moments or
at a named fault point (``playground.faults``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace


def describe(root: Path) -> dict:
    from playground.rag import CollectionStore

    store = CollectionStore(root)  # the start-up: recovery happens here
    state = {}
    for name in store.names():
        collection = store.open(name)
        chunks = sum(d.chunks for d in collection.documents)
        state[name] = {
            "documents": len(collection.documents),
            "consistent": chunks == len(collection.chunks) == len(collection.vectors),
        }
    leftover = sorted(p.name for p in root.iterdir() if p.name.startswith("."))
    return {"collections": state, "leftover": leftover}


def add_forever(root: Path, progress: Path) -> None:
    import numpy as np

    from playground.rag import CollectionStore
    from playground.rag.chunking import Chunk
    from playground.rag.embedder import EmbeddingInfo
    from playground.rag.index import DocumentInfo

    store = CollectionStore(root)
    embedder = SimpleNamespace(info=EmbeddingInfo(name="fake", dimension=8))
    store.open_or_create("other", embedder)
    notes = store.open_or_create("notes", embedder)
    rng = np.random.default_rng(os.getpid())
    while True:
        n = len(notes.documents)
        k = int(rng.integers(20, 60))
        doc_id = f"d{n}-{os.getpid()}"
        chunks = [
            Chunk(f"note {n} part {j} lorem ipsum", f"doc{n}.txt", doc_id, None, "", 0, 9, 5)
            for j in range(k)
        ]
        vectors = rng.standard_normal((k, 8)).astype("float32")
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        info = DocumentInfo(doc_id, f"doc{n}.txt", f"{n:064x}", "txt", 100, None, k)
        notes.add([(info, chunks, vectors)])
        with open(progress, "a") as handle:
            handle.write(f"{n + 1}\n")
            handle.flush()
            os.fsync(handle.fileno())


def main(argv: list[str]) -> None:
    kind, root, progress = argv[0], Path(argv[1]), Path(argv[2])
    assert kind == "collections", kind
    root.mkdir(parents=True, exist_ok=True)
    print(json.dumps(describe(root)), flush=True)
    if argv[3:] != ["check"]:
        add_forever(root, progress)


if __name__ == "__main__":
    main(sys.argv[1:])
