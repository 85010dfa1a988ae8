"""Answers fit the chat model's window: a 17-page PDF and the tiny chat model (2,048 tokens)."""

from __future__ import annotations

import pytest
from rag_support import hashing_embedder, make_pdf

from playground.errors import InputError
from playground.rag import SearchSettings, answer_stream, build_messages, ingest, open_or_create
from playground.rag.answer import pack

LINE = "Section {p}.{i}: the mime database stores glob rules and magic rules for type {i}."


@pytest.fixture(scope="module")
def manual(tmp_path_factory):
    """A 17-page manual, ~1,900 characters a page: every hit is a full-size chunk."""
    folder = tmp_path_factory.mktemp("manual")
    pages = ["\n".join(LINE.format(p=p, i=i) for i in range(24)) for p in range(1, 18)]
    pdf = make_pdf(folder / "manual.pdf", pages)
    embedder = hashing_embedder()
    collection = open_or_create(folder / "col", embedder)
    ingest(collection, [pdf], embedder)
    return collection, embedder


def test_seventeen_page_pdf_answers_with_the_tiny_chat_model(manual, shared_registry):
    collection, embedder = manual
    question = "Where does the mime database store glob rules?"
    hits = collection.search(question, embedder, SearchSettings(k=5))
    assert len(hits) == 5
    from playground.chat import stream_chat

    with pytest.raises(InputError, match=r"take \d+ tokens"):  # all five: too long, as before
        list(stream_chat(shared_registry, "tiny-chat", build_messages(question, hits)))
    out = list(answer_stream(shared_registry, "tiny-chat", question, hits, threshold=0.0))
    final = out[-1]
    assert final.done and final.found
    assert 1 <= len(final.hits) < 5
    assert final.hits == hits[: len(final.hits)]  # the best hits kept, lowest-ranked dropped
    assert final.stats.startswith(f"{len(final.hits)} of 5 sources used")
    assert "2048-token context window" in final.stats


def test_pack_shortens_a_single_long_hit(manual):
    collection, embedder = manual
    hits = collection.search("glob rules", embedder, SearchSettings(k=3))
    budget = len(build_messages("glob rules?", hits[:1])[1]["content"]) - 400

    def fits(messages):
        return len(messages[1]["content"]) <= budget

    packed = pack("glob rules?", hits, fits, window=99)
    assert packed.shortened and packed.used == hits[:1]
    assert fits(packed.messages) and len(packed.messages[1]["content"]) > budget - 5
    assert "1 of 3 sources used" in packed.stats() and "shortened" in packed.stats()
    with pytest.raises(InputError, match="too long"):
        pack("glob rules?", hits, lambda m: False, window=99)


def test_prompt_names_file_and_pages(manual):
    collection, embedder = manual
    hit = collection.search("Section 4.23 magic rules", embedder, SearchSettings(k=1))[0]
    content = build_messages("q", [hit])[1]["content"]
    label = "-".join(str(p) for p in (hit.chunk.pages[0], hit.chunk.pages[-1]))
    label = label if len(hit.chunk.pages) > 1 else str(hit.chunk.pages[0])
    assert f'<source id="1" file="manual.pdf" page="{label}">' in content
