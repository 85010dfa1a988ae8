"""``playground rag index|search|ask`` in-process, on the tiny models."""

from __future__ import annotations

import json
import random

import pytest
from rag_support import make_pdf

from playground.cli import main


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rag-cli-src")
    make_pdf(
        folder / "atlas.pdf", ["Everest is the highest mountain.", "The Nile is a long river."]
    )
    (folder / "notes.md").write_text(
        "# Tea\nGreen tea is steamed.\n\n# Coffee\nBeans are roasted.\n"
    )
    (folder / "broken.docx").write_bytes(b"PK\x03\x04 nope")
    return folder


@pytest.fixture(scope="module")
def built(corpus, tiny_models, tmp_path_factory):
    col = tmp_path_factory.mktemp("rag-cli") / "col"
    files = [str(corpus / n) for n in ("atlas.pdf", "notes.md", "broken.docx")]
    code = main(["rag", "index", "--collection", str(col), "--config", str(tiny_models), *files])
    assert code == 0
    return col


def test_index_prints_summary_and_skips_bad_files(corpus, tiny_models, tmp_path, capsys):
    col = tmp_path / "c"
    files = [str(corpus / n) for n in ("atlas.pdf", "notes.md", "broken.docx")]
    assert (
        main(["rag", "index", "--collection", str(col), "--config", str(tiny_models), *files]) == 0
    )
    out = capsys.readouterr().out
    assert "indexed 2 file(s), 2 page(s)" in out and "chunk(s) in" in out
    assert "skipped broken.docx" in out
    # Again: nothing new, nothing indexed -> exit 2.
    assert (
        main(["rag", "index", "--collection", str(col), "--config", str(tiny_models), *files[:2]])
        == 2
    )
    assert "already indexed: atlas.pdf" in capsys.readouterr().out


def test_index_nothing_readable_exits_2(corpus, tiny_models, tmp_path, capsys):
    noise = tmp_path / "noise.txt"  # random bytes named .txt: not indexed as Latin-1 text
    noise.write_bytes(random.Random(1).randbytes(3000))
    code = main(
        ["rag", "index", "--collection", str(tmp_path / "c"), "--config", str(tiny_models),
         str(corpus / "broken.docx"), str(noise)]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 2 and "indexed 0 file(s)" in captured.out
    assert "skipped noise.txt: not a text file (binary?)" in captured.out
    assert "nothing could be indexed: broken.docx (could not read" in captured.err
    assert "noise.txt (not a text file (binary?)" in captured.err


def test_binary_txt_never_reaches_search_results(corpus, tiny_models, tmp_path, capsys):
    noise = tmp_path / "noise.txt"
    noise.write_bytes(random.Random(2).randbytes(3000))
    col = str(tmp_path / "c")
    argv = ["--collection", col, "--config", str(tiny_models)]
    assert main(["rag", "index", *argv, str(corpus / "notes.md"), str(noise)]) == 0
    assert "skipped noise.txt: not a text file (binary?)" in capsys.readouterr().out
    assert main(["rag", "search", *argv, "--k", "5", "--json", "tea"]) == 0
    assert {h["source"] for h in json.loads(capsys.readouterr().out)} == {"notes.md"}


def test_search_json_shape(built, tiny_models, capsys):
    argv = ["rag", "search", "--collection", str(built), "--config", str(tiny_models)]
    assert main([*argv, "--k", "3", "--json", "highest mountain Everest"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert 1 <= len(hits) <= 3
    assert all(set(h) == {"text", "source", "page", "score"} for h in hits)
    assert all(h["source"] in ("atlas.pdf", "notes.md") for h in hits)
    assert {h["page"] for h in hits if h["source"] == "atlas.pdf"} <= {1, 2}
    assert all(h["page"] is None for h in hits if h["source"] == "notes.md")
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_batch_queries(built, tiny_models, tmp_path, capsys):
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"id": "a", "question": "river"}\n\n{"id": 7, "question": "茶"}\n')
    argv = ["rag", "search", "--collection", str(built), "--config", str(tiny_models)]
    assert main([*argv, "--k", "2", "--queries", str(queries)]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["id"] for x in lines] == ["a", 7]
    assert all(len(x["hits"]) == 2 for x in lines)


def test_other_embedding_model_is_an_error(built, tiny_models, tmp_path, capsys):
    import yaml

    config = yaml.safe_load(tiny_models.read_text())
    emb = next(m for m in config["models"] if m["name"] == "tiny-embedding")
    config["models"].append(dict(emb, name="tiny-embedding-b", options={"query_prefix": "q: "}))
    other = tmp_path / "models.yaml"
    other.write_text(yaml.safe_dump(config))
    argv = ["rag", "search", "--collection", str(built), "--config", str(other)]
    assert main([*argv, "--embedding-model", "tiny-embedding-b", "tea"]) == 2
    assert "built with the embedding model 'tiny-embedding'" in capsys.readouterr().err


def test_ask_streams_an_answer_with_sources(built, tiny_models, capsys):
    argv = ["rag", "ask", "--collection", str(built), "--config", str(tiny_models)]
    assert main([*argv, "--model", "tiny-chat", "--min-relevance", "-1", "Where is Everest?"]) == 0
    out = capsys.readouterr().out
    assert "sources used):" in out and "[1] " in out
    assert main([*argv, "--min-relevance", "1.01", "Where is Everest?"]) == 0
    assert "do not contain" in capsys.readouterr().out
    assert main([*argv, "--context-only", "Where is Everest?"]) == 0
    assert "relevance" in capsys.readouterr().out


def test_missing_collection(tmp_path, capsys):
    assert main(["rag", "search", "--collection", str(tmp_path / "nope"), "x"]) == 2
    assert "is not a collection" in capsys.readouterr().err
