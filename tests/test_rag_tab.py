"""The Documents tab through a real client, and its small HTML helpers."""

from __future__ import annotations

import pytest
from rag_support import make_pdf

from playground.rag import Hit
from playground.rag.chunking import Chunk
from tabs.rag import highlight, link_citations, sources_html


@pytest.fixture(scope="module")
def client(launched_app):
    from gradio_client import Client

    return Client(launched_app.url, verbose=False)


def _dropdown_choices(update) -> list[str]:
    return [c[0] if isinstance(c, (list, tuple)) else c for c in update["choices"]]


def test_index_search_ask_through_the_api(client, tmp_path):
    from gradio_client import handle_file

    pages = [  # ~90 characters a page: with 100-character chunks, one chunk per page
        "Power: press the red button to switch the unit on. The lamp turns green after a second.",
        "Reset: hold the red button for ten seconds. The lamp blinks twice when it is done now.",
    ]
    pdf = make_pdf(tmp_path / "manual.pdf", pages)
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"garbage")
    status, collections, docs, _picker, _files = client.predict(
        [handle_file(str(pdf)), handle_file(str(bad))],
        "Manuals",
        "tiny-embedding",
        100,
        0,
        "browser-one",
        api_name="/rag_index",
    )
    assert "indexed 1 file(s), 2 page(s)" in status and "skipped **broken.pdf**" in status
    assert "Manuals" in _dropdown_choices(collections)
    assert docs["data"][0][:3] == ["manual.pdf", "pdf", 2]

    html, hits = client.predict(
        "reset button", "Manuals", 2, "hybrid", "", "browser-one", api_name="/rag_search"
    )
    assert len(hits) == 2 and {h["page"] for h in hits} == {1, 2}
    assert set(hits[0]) == {"text", "source", "page", "score"}
    assert 'id="rag-src-1"' in html and "<mark>" in html

    history, sources, raw, question, _status = client.predict(
        "How do I reset?", [], "Manuals", "tiny-chat", 2, "hybrid", "", -1.0, True, "browser-one",
        api_name="/rag_ask",
    )  # fmt: skip
    assert history[-1]["role"] == "assistant" and "manual.pdf, page" in str(history[-1]["content"])
    assert len(raw) == 2 and question == ""

    history, sources, raw, _, _ = client.predict(
        "How do I reset?", [], "Manuals", "tiny-chat", 2, "hybrid", "", -1.0, False, "browser-one",
        api_name="/rag_ask",
    )  # fmt: skip
    assert history[-1]["role"] == "assistant" and history[-1]["content"]
    assert 'id="rag-src-1"' in sources  # sources given to the model are numbered

    history, _, _, _, _ = client.predict(
        "How do I reset?", [], "Manuals", "tiny-chat", 2, "hybrid", "", 2.0, False, "browser-one",
        api_name="/rag_ask",
    )  # fmt: skip
    assert "do not contain" in str(history[-1]["content"])


def test_another_browser_cannot_see_the_collection(client, launched_app, tmp_path):
    from gradio_client import Client, handle_file

    note = tmp_path / "secret.txt"
    note.write_text("The vault code is 4711.", encoding="utf-8")
    client.predict([handle_file(str(note))], "Private", "tiny-embedding", 200, 40,
                   api_name="/rag_index")  # fmt: skip
    other = Client(launched_app.url, verbose=False)  # its own signed cookie: someone else
    mine = client.predict("Private", api_name="/rag_collections")
    theirs = other.predict("", api_name="/rag_collections")
    assert "Private" in _dropdown_choices(mine[0])
    assert "Private" not in _dropdown_choices(theirs[0])
    with pytest.raises(Exception, match="no collection named 'Private'"):
        other.predict("vault code", "Private", 3, "hybrid", "", api_name="/rag_search")


def test_rename_remove_delete(launched_app, tmp_path):
    from gradio_client import Client, handle_file

    client = Client(launched_app.url, verbose=False)  # a fresh visitor: no collections yet

    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("Alpha document.", encoding="utf-8")
    b.write_text("Beta document.", encoding="utf-8")
    client.predict([handle_file(str(a)), handle_file(str(b))], "Temp", "tiny-embedding", 200, 40,
                   api_name="/rag_index")  # fmt: skip
    status, *_ = client.predict("Temp", "a.txt", api_name="/rag_remove_document")
    assert "Removed" in status
    status, collections, docs, _, _ = client.predict("Temp", "Kept", api_name="/rag_rename")
    assert _dropdown_choices(collections) == ["Kept"] and [r[0] for r in docs["data"]] == ["b.txt"]
    status, collections, _, _ = client.predict("Kept", api_name="/rag_delete")
    assert "Deleted" in status and _dropdown_choices(collections) == []


def _hit(n: int, text: str, page: int | None = None) -> Hit:
    return Hit(
        rank=n,
        chunk=Chunk(text, f"f{n}.pdf", "d", page, "", 0, len(text), 3),
        score=0.5,
        relevance=0.4,
    )


def test_citations_become_links_and_unknown_numbers_are_flagged():
    hits = [_hit(1, "a", page=3), _hit(2, "b")]
    out = link_citations("Yes [1], also [2] but not [5].", hits)
    assert '[[1]](#rag-src-1 "f1.pdf, page 3")' in out and "(#rag-src-2" in out
    assert "[5?]" in out


def test_highlight_escapes_and_marks_english_and_chinese():
    assert highlight("<b>Tea</b> is hot", "tea") == "&lt;b&gt;<mark>Tea</mark>&lt;/b&gt; is hot"
    assert highlight("steamed tea", "tea") == "steamed <mark>tea</mark>"
    assert "<mark>数据库</mark>" in highlight("分布式数据库很快", "数据库在哪")
    html = sources_html("q", [_hit(1, "x")], [_hit(2, "y")])
    assert 'id="rag-src-1"' in html and "below the relevance threshold" in html
