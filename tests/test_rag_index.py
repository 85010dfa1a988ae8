"""Retrieval, fusion, threshold, persistence, atomic writes, deletion and isolation."""

from __future__ import annotations

import os
import sys
import types

import numpy as np
import pytest
from rag_support import HashingModel, hashing_embedder, make_pdf

from playground.errors import ConfigError, InputError
from playground.rag import (
    Collection,
    CollectionStore,
    Embedder,
    SearchSettings,
    answer_stream,
    build_messages,
    citations,
    embedder_for,
    ingest,
    open_or_create,
    rrf,
    weighted_fusion,
)
from playground.rag import answer as answer_module
from playground.rag import index as index_module
from playground.rag import indexes as indexes_module
from playground.rag.answer import pack
from playground.rag.chunking import Chunk
from playground.rag.index import Hit

FACTS = {
    "solar.txt": "The Sun is a star at the centre of the solar system. Jupiter is the largest planet.",
    "cooking.txt": "Risotto needs arborio rice. Stir the broth in slowly for twenty minutes.",
    "zh.txt": "分布式数据库把数据分散存储在多台服务器上。熊猫主要吃竹子。",
    "law.txt": "Section 7 of the licence forbids sublicensing without written consent.",
}


@pytest.fixture
def files(tmp_path):
    paths = []
    for name, text in FACTS.items():
        path = tmp_path / "src" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


@pytest.fixture
def embedder():
    return hashing_embedder()


@pytest.fixture
def collection(tmp_path, files, embedder):
    c = open_or_create(tmp_path / "col", embedder)
    report = ingest(c, files, embedder)
    assert len(report.added) == 4 and not report.skipped
    return c


# ------------------------------------------------------------------ fusion and search


def test_rrf_order_on_controlled_rankings():
    fused = rrf([["a", "b", "c"], ["c", "a", "d"]])
    assert [item for item, _ in fused] == ["a", "c", "b", "d"]
    scores = dict(fused)
    assert scores["a"] == pytest.approx((1 / 61 + 1 / 62) / (2 / 61))
    assert rrf([["x"], ["x"]])[0] == ("x", pytest.approx(1.0))
    # A tie is broken by the best single rank: b (1st in list 2) beats a (2nd in list 1).
    assert [i for i, _ in rrf([["z", "a"], ["b"]])][:2] == ["z", "b"]


def test_weighted_fusion_keeps_score_gaps():
    # Dense scaled from its worst: a 1.0, c 0.5, b 0.0. BM25 from 0: b 1.0, a 0.75.
    dense = (["a", "c", "b"], [0.9, 0.7, 0.5], 0.5, None)
    keyword = (["b", "a"], [8.0, 6.0], 0.5, 0.0)
    fused = weighted_fusion([dense, keyword])
    assert [item for item, _ in fused] == ["a", "b", "c"]
    assert dict(fused)["a"] == pytest.approx(0.875) and dict(fused)["c"] == pytest.approx(0.25)
    # A list with no weight does not count at all: the result is the other list's order.
    ignored = (["x", "y"], [1.0, 0.0], 0.0, None)
    assert [i for i, _ in weighted_fusion([ignored, (["y", "x"], [2, 1], 1.0, 0.0)])] == ["y", "x"]
    assert weighted_fusion([(["p", "q"], [0.3, 0.3], 1.0, None)])[0] == ("p", pytest.approx(1.0))


def _controlled(monkeypatch, dense, keyword):
    """Fix what each retriever returns (chunk ids: 0 solar, 1 cooking, 2 zh, 3 law)."""
    dense_scores = [0.9, 0.85, 0.5, 0.1]
    keyword_scores = [3.0, 2.9, 0.1]
    monkeypatch.setattr(Collection, "dense_ranking", lambda self, q, pool: (dense, dense_scores))
    monkeypatch.setattr(
        Collection, "keyword_ranking", lambda self, q, pool: (keyword, keyword_scores)
    )


def test_hybrid_fuses_dense_and_keyword(collection, embedder, monkeypatch):
    _controlled(monkeypatch, [0, 1, 2, 3], [2, 1, 3])
    hits = collection.search("anything", embedder, SearchSettings(k=4))
    # cooking is near the top of both lists, so it wins over each list's first place.
    assert hits[0].chunk.source == "cooking.txt"
    assert {h.chunk.source for h in hits} == set(FACTS)
    assert (hits[0].dense_rank, hits[0].keyword_rank) == (2, 2)
    assert [h.rank for h in hits] == [1, 2, 3, 4]
    assert hits[0].score >= hits[1].score >= hits[2].score >= hits[3].score


def test_english_only_embedder_cannot_drag_chinese_search(collection, monkeypatch):
    english_only = Embedder.from_model(HashingModel(), name="hashing", languages=("en",))
    _controlled(monkeypatch, [0, 3, 1, 2], [2, 1, 3])
    hybrid = collection.search("数据库", english_only, SearchSettings(k=3))
    keyword = collection.search("数据库", english_only, SearchSettings(k=3, mode="keyword"))
    assert [h.chunk.source for h in hybrid] == [h.chunk.source for h in keyword]
    assert hybrid[0].relevance == pytest.approx(1.0)  # keyword score, not a foreign cosine
    # The same lists for an English question: the dense list counts again.
    english = collection.search("database", english_only, SearchSettings(k=3))
    assert [h.chunk.source for h in english] != [h.chunk.source for h in keyword]


def test_search_modes_find_the_right_document(collection, embedder):
    for mode in ("hybrid", "dense", "keyword"):
        hits = collection.search("largest planet Jupiter", embedder, SearchSettings(k=2, mode=mode))
        assert hits[0].chunk.source == "solar.txt", mode
    hits = collection.search("sublicensing consent", embedder, SearchSettings(k=1))
    assert hits[0].chunk.source == "law.txt"
    assert hits[0].to_json().keys() == {"text", "source", "page", "score"}


def test_bm25_understands_chinese(collection):
    # Keyword ranking alone: "数据库" only exists inside the unsegmented phrase "分布式数据库".
    ranking, scores = collection.keyword_ranking("数据库在哪里", 5)
    assert collection.chunks[ranking[0]].source == "zh.txt" and scores[0] > 0
    assert collection.keyword_ranking("竹子", 5)[0]
    assert collection.keyword_ranking("unicorns", 5) == ([], [])


def test_pdf_hits_carry_page_numbers(tmp_path, embedder):
    pdf = make_pdf(
        tmp_path / "atlas.pdf",
        [
            "Mountains: Everest is the highest.",
            "Rivers: the Nile is long.",
            "Deserts: the Sahara is hot.",
        ],
    )
    c = open_or_create(tmp_path / "pdfcol", embedder)
    report = ingest(c, [pdf], embedder)
    assert report.pages == 3
    hit = c.search("Sahara desert", embedder, SearchSettings(k=1))[0]
    assert hit.chunk.source == "atlas.pdf"
    assert hit.chunk.page_at(hit.chunk.text.index("Sahara")) == 3


def test_hnsw_above_threshold(monkeypatch):
    monkeypatch.setattr(indexes_module, "HNSW_THRESHOLD", 100)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(300, 16)).astype("float32")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = indexes_module.build_dense_index(vectors)
    assert type(index).__name__ == "IndexHNSWFlat"
    _, ids = index.search(vectors[42:43], 1)
    assert ids[0][0] == 42
    assert type(indexes_module.build_dense_index(vectors[:50])).__name__ == "IndexFlatIP"


# ------------------------------------------------------------------ answers and threshold


def _hit(n: int, relevance: float) -> Hit:
    chunk = Chunk(f"text {n}", f"f{n}.txt", f"d{n}", n, "", 0, 6, 2)
    return Hit(rank=n, chunk=chunk, score=1.0, relevance=relevance)


def test_below_threshold_says_not_found_without_the_model(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("the chat model must not be asked")

    monkeypatch.setitem(sys.modules, "playground.chat", types.SimpleNamespace(stream_chat=boom))
    out = list(answer_stream(None, "m", "What is X?", [_hit(1, 0.1), _hit(2, 0.2)], threshold=0.5))
    assert len(out) == 1 and not out[0].found and "do not contain" in out[0].text
    zh = list(answer_stream(None, "m", "这是什么？", [_hit(1, 0.1)], threshold=0.5))
    assert "文档中没有" in zh[0].text


def test_above_threshold_streams_with_only_relevant_sources(monkeypatch):
    seen = {}

    def fake_stream(registry, model, messages, settings=None, *, stop=None):
        seen["messages"] = messages
        yield "Paris [1]"
        yield "Paris [1] is the capital [2]."

    import playground.chat

    monkeypatch.setattr(playground.chat, "stream_chat", fake_stream)
    monkeypatch.setattr(
        answer_module, "fit_to_model", lambda r, m, q, hits, s=None: pack(q, hits, lambda _: True)
    )
    hits = [_hit(1, 0.9), _hit(2, 0.1), _hit(3, 0.7)]
    out = list(answer_stream(None, "m", "Capital?", hits, threshold=0.5))
    assert out[-1].done and out[-1].found and out[-1].text == "Paris [1] is the capital [2]."
    assert [h.chunk.source for h in out[-1].hits] == ["f1.txt", "f3.txt"]
    user = seen["messages"][1]["content"]
    assert '<source id="1" file="f1.txt" page="1">' in user and "f2.txt" not in user
    assert "[1]" in seen["messages"][0]["content"]


def test_prompt_and_citation_check():
    messages = build_messages("问题是什么？", [_hit(1, 1.0)])
    assert "资料" in messages[1]["content"] and "</source>" in messages[1]["content"]
    assert citations("A [1], B [3][1], C [9].", 3) == ([1, 3], [9])


# ------------------------------------------------------------------ persistence


def test_round_trip_after_restart(collection, embedder):
    before = [h.chunk for h in collection.search("risotto rice", embedder)]
    reopened = Collection.open(collection.path)
    assert [d.name for d in reopened.documents] == sorted(FACTS, key=list(FACTS).index)
    assert reopened.embedding.name == "hashing" and reopened.embedding.dimension == 256
    after = [h.chunk for h in reopened.search("risotto rice", embedder)]
    assert after == before
    assert np.array_equal(reopened.vectors, collection.vectors)


def test_duplicates_and_bad_files_are_reported(collection, files, embedder, tmp_path):
    copy = tmp_path / "solar-copy.txt"
    copy.write_bytes(files[0].read_bytes())
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"not a pdf")
    good = tmp_path / "new.md"
    good.write_text("# Birds\nPenguins cannot fly.", encoding="utf-8")
    big = tmp_path / "big.txt"
    big.write_text("x " * 600_000)
    report = ingest(collection, [copy, bad, good, big], embedder, max_file_mb=1)
    assert report.duplicates == ["solar-copy.txt"]
    assert [d.name for d in report.added] == ["new.md"]
    skipped = dict(report.skipped)
    assert "broken.pdf" in skipped["broken.pdf"] and "over the 1 MB limit" in skipped["big.txt"]
    assert len(Collection.open(collection.path).documents) == 5


def test_crash_mid_ingest_keeps_previous_collection(collection, embedder, tmp_path, monkeypatch):
    extra = tmp_path / "extra.txt"
    extra.write_text("Volcanoes erupt lava.", encoding="utf-8")

    def crash(*a, **k):
        raise OSError("disk died mid-write")

    monkeypatch.setattr(index_module, "_write_faiss", crash)
    with pytest.raises(OSError, match="disk died"):
        ingest(collection, [extra], embedder)
    monkeypatch.undo()
    reopened = Collection.open(collection.path)
    assert len(reopened.documents) == 4 and "extra.txt" not in [d.name for d in reopened.documents]
    assert reopened.search("Jupiter planet", embedder)[0].chunk.source == "solar.txt"
    assert not [p for p in collection.path.parent.iterdir() if "staging" in p.name]
    # The in-memory collection did not change either.
    assert len(collection.documents) == 4


def test_crash_during_swap_is_recovered(collection, embedder, tmp_path, monkeypatch):
    extra = tmp_path / "extra.txt"
    extra.write_text("Glaciers move slowly.", encoding="utf-8")
    real_replace = os.replace

    def swap_in_fails(src, dst):
        if str(dst) == str(collection.path):  # old folder moved aside, new one not yet in place
            raise KeyboardInterrupt("power cut")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", swap_in_fails)
    with pytest.raises(KeyboardInterrupt):
        ingest(collection, [extra], embedder)
    monkeypatch.undo()
    assert not collection.path.exists()
    reopened = Collection.open(collection.path)  # restores the previous version
    assert len(reopened.documents) == 4


def test_remove_document_updates_indexes(collection, embedder):
    removed = collection.remove_document("cooking.txt")
    assert removed.name == "cooking.txt"
    for c in (collection, Collection.open(collection.path)):
        assert "cooking.txt" not in [d.name for d in c.documents]
        assert all(
            h.chunk.source != "cooking.txt" for h in c.search("risotto rice broth", embedder)
        )
        assert c.keyword_ranking("risotto", 5) == ([], [])
        assert len(c.vectors) == len(c.chunks)
    with pytest.raises(InputError, match="no document"):
        collection.remove_document("cooking.txt")


def test_empty_question_and_empty_collection(tmp_path, embedder):
    c = open_or_create(tmp_path / "empty", embedder)
    assert c.search("anything", embedder) == []
    with pytest.raises(InputError, match="empty"):
        c.search("   ", embedder)


# ------------------------------------------------------------------ owners and models


def test_two_owners_never_see_each_other(tmp_path, files, embedder):
    alice = CollectionStore.for_owner(tmp_path, "anon-alice")
    bob = CollectionStore.for_owner(tmp_path, "anon-bob")
    ingest(alice.open_or_create("notes", embedder), files[:1], embedder)
    assert alice.names() == ["notes"] and bob.names() == []
    with pytest.raises(InputError, match="no collection named 'notes'"):
        bob.open("notes")
    ingest(bob.open_or_create("notes", embedder), files[1:2], embedder)
    assert [d.name for d in alice.open("notes").documents] == ["solar.txt"]
    assert [d.name for d in bob.open("notes").documents] == ["cooking.txt"]
    assert alice.root != bob.root and not str(bob.root).startswith(str(alice.root))


def test_store_rename_and_delete(tmp_path, files, embedder):
    store = CollectionStore.for_owner(tmp_path, "user-x")
    ingest(store.open_or_create("Work 工作", embedder), files[:2], embedder)
    store.open_or_create("Other", embedder)
    with pytest.raises(InputError, match="already exists"):
        store.rename("Work 工作", "Other")
    store.rename("Work 工作", "Projects")
    assert store.names() == ["Other", "Projects"]
    assert len(store.open("Projects").documents) == 2
    store.delete("Other")
    assert store.names() == ["Projects"]
    assert not [p for p in store.root.iterdir() if p.name.startswith(".trash")]


def test_other_embedding_model_is_refused(collection, tmp_path):
    other = Embedder.from_model(HashingModel(dim=256), name="another-model")
    with pytest.raises(InputError, match="built with the embedding model 'hashing'"):
        ingest(collection, [tmp_path / "src" / "law.txt"], other)


def test_registry_embedder_uses_prefixes_and_records_model(registry, tmp_path):
    from playground.config import ModelEntry

    tiny = registry.entry("tiny-embedding")
    registry.register(
        ModelEntry(
            name="tiny-e5",
            task="embedding",
            source=tiny.source,
            options={"query_prefix": "query: ", "document_prefix": "passage: "},
        )
    )
    emb = embedder_for(registry, "tiny-e5")
    assert emb.info.query_prefix == "query: " and emb.dimension == 32
    model = registry.get("tiny-e5")
    calls = []
    real = model.encode
    model.encode = lambda texts, **kw: calls.extend(texts) or real(texts, **kw)
    doc = tmp_path / "a.txt"
    doc.write_text("hello world", encoding="utf-8")
    c = open_or_create(tmp_path / "c", emb)
    ingest(c, [doc], emb)
    c.search("greeting", emb)
    assert calls == ["passage: hello world", "query: greeting"]
    # Reopening picks the recorded model; asking for another one is an error.
    assert embedder_for(registry, recorded=c.embedding).info.name == "tiny-e5"
    with pytest.raises(ConfigError, match="built with the embedding model 'tiny-e5'"):
        embedder_for(registry, "tiny-embedding", recorded=c.embedding)


def test_reranker_reorders_with_probabilities(registry, collection, embedder):
    hits = collection.search(
        "Jupiter planet", embedder, SearchSettings(k=3, reranker="tiny-reranker"), registry=registry
    )
    assert len(hits) == 3 and [h.rank for h in hits] == [1, 2, 3]
    assert all(0.0 <= h.score <= 1.0 and h.score == h.relevance for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
