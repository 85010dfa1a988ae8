"""Parsers and the chunker, on real files generated here."""

from __future__ import annotations

import random
import re

import pytest
from rag_support import make_docx, make_pdf, make_scanned_pdf

from playground.errors import InputError
from playground.rag import ChunkSettings, chunk_document, parse_file, split_spans
from playground.rag.chunking import size_of
from playground.rag.text import keyword_tokens

PAGES = [
    "Apples grow in orchards.\nThey are harvested in autumn.",
    "Bananas grow in tropical plantations.\nThey are picked green.",
    "Cherries bloom in spring.\nJapan celebrates the blossoms.",
]


def test_pdf_pages_are_numbered_from_one(tmp_path):
    doc = parse_file(make_pdf(tmp_path / "fruit.pdf", PAGES))
    assert doc.kind == "pdf" and doc.pages == 3
    assert [s.page for s in doc.sections] == [1, 2, 3]
    assert "Bananas" in doc.sections[1].text and "Bananas" not in doc.sections[0].text
    (chunk,) = chunk_document(doc, "d1")  # three short pages: one chunk, not three fragments
    assert chunk.pages == [1, 2, 3]
    for word, page in [("Apples", 1), ("Bananas", 2), ("Cherries", 3), ("blossoms", 3)]:
        assert chunk.page_at(chunk.text.index(word)) == page, word


def test_chunk_spanning_pages_cites_each_part(tmp_path):
    pages = [" ".join(f"Page {p} line {i} says something." for i in range(8)) for p in (1, 2, 3)]
    doc = parse_file(make_pdf(tmp_path / "long.pdf", [t[:90] + "\n" + t[90:] for t in pages]))
    chunks = chunk_document(doc, "d", ChunkSettings(chunk_size=300, overlap=50))
    spanning = [c for c in chunks if len(c.pages) > 1]
    assert spanning, [c.pages for c in chunks]
    for chunk in chunks:
        for match in re.finditer(r"Page (\d) line", chunk.text):
            assert chunk.page_at(match.start()) == int(match.group(1)), chunk.text


def test_heading_only_sections_merge_into_neighbours(tmp_path):
    path = tmp_path / "guide.md"
    body = " ".join(f"Step {i} of the setup is described here in full." for i in range(12))
    path.write_text(f"# Guide\n\n## Setup\n\n### Before you start\n\n{body}\n\n## End\n")
    chunks = chunk_document(parse_file(path), "g")
    assert len(chunks) == 1 and chunks[0].text.startswith("# Guide")
    assert chunks[0].text.endswith("## End")


def test_scanned_pdf_says_no_text_found(tmp_path):
    with pytest.raises(InputError, match=r"scan\.pdf: no text found \(scanned\?\)"):
        parse_file(make_scanned_pdf(tmp_path / "scan.pdf"))


def test_docx_keeps_heading_paths_and_tables(tmp_path):
    doc = parse_file(make_docx(tmp_path / "guide.docx"))
    headings = [s.heading for s in doc.sections]
    assert headings == [
        "Installation Guide",
        "Installation Guide > Requirements",
        "Troubleshooting",
    ]
    assert "sprocket | 12" in doc.sections[1].text
    assert doc.sections[2].text.endswith("delete the cache folder and retry.")


def test_html_headings_and_no_script(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>T</title><style>p{color:red}</style></head><body>"
        "<h1>Solar System</h1><p>The Sun is a <b>star</b>.</p>"
        "<script>var secret = 'hidden';</script>"
        "<h2>Planets</h2><ul><li>Mercury is closest.</li><li>Neptune is farthest.</li></ul>"
        "<h1>Galaxies</h1><p>The Milky Way is a spiral.</p></body></html>",
        encoding="utf-8",
    )
    doc = parse_file(path)
    by_heading = {s.heading: s.text for s in doc.sections}
    assert set(by_heading) == {"Solar System", "Solar System > Planets", "Galaxies"}
    assert "The Sun is a star." in by_heading["Solar System"]
    assert "Mercury is closest." in by_heading["Solar System > Planets"]
    assert "secret" not in doc.text and "color" not in doc.text


def test_markdown_headings_ignore_code_fences(tmp_path):
    path = tmp_path / "notes.md"
    path.write_text(
        "Intro line.\n\n# Setup\nInstall it.\n\n```bash\n# not a heading\npip install x\n```\n\n"
        "## Linux\nUse apt.\n\n# Usage\nRun it.\n",
        encoding="utf-8",
    )
    doc = parse_file(path)
    assert [s.heading for s in doc.sections] == ["", "Setup", "Setup > Linux", "Usage"]
    assert "# not a heading" in doc.sections[1].text


def test_chinese_text_in_gb18030_and_sentence_cuts(tmp_path):
    sentences = [f"第{i}条规定：用户必须在三十天内提交申请。" for i in range(1, 40)]
    path = tmp_path / "规定.txt"
    path.write_bytes("".join(sentences).encode("gb18030"))
    doc = parse_file(path)
    assert doc.text.startswith("第1条规定")
    chunks = chunk_document(doc, "zh", ChunkSettings(chunk_size=200, overlap=30))
    assert len(chunks) > 3
    for chunk in chunks[:-1]:
        assert chunk.text.endswith("。"), chunk.text  # cut at Chinese sentence ends
    assert all(size_of(c.text) <= 200 for c in chunks)  # a CJK character counts 2
    assert max(len(c.text) for c in chunks) <= 100


def test_default_chunk_sizes_per_language():
    english = " ".join(f"Sentence {i} explains one more detail of the licence." for i in range(400))
    chinese = "".join(f"第{i}条规定用户必须在三十天内提交书面申请并附上证明。" for i in range(400))
    for text, low, high in [(english, 850, 1000), (chinese, 400, 600)]:
        spans = split_spans(text, 1000, 150)
        lengths = [e - s for s, e, _ in spans[:-1]]
        assert low <= min(lengths) and max(lengths) <= high, (min(lengths), max(lengths))
        shared = [a[1] - b[0] for a, b in zip(spans, spans[1:], strict=False)]
        assert all(0 < n <= 0.2 * high for n in shared), shared  # 15-20% overlap


def test_csv_and_xlsx_rows_read_as_text(tmp_path):
    import openpyxl

    csv_path = tmp_path / "people.csv"
    csv_path.write_text("name,city\nAda,London\nLin,上海\n", encoding="utf-8")
    assert parse_file(csv_path).text == "name: Ada; city: London\nname: Lin; city: 上海"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Stock"
    sheet.append(["item", "qty"])
    sheet.append(["bolts", 40])
    book.save(tmp_path / "stock.xlsx")
    doc = parse_file(tmp_path / "stock.xlsx")
    assert doc.sections[0].heading == "Stock" and "item: bolts; qty: 40" in doc.text


def test_bad_files_are_named(tmp_path):
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 this is not really a pdf \x00\x01\x02")
    with pytest.raises(InputError, match="broken.pdf"):
        parse_file(broken)
    binary = tmp_path / "tool.exe"
    binary.write_bytes(b"MZ\x00\x00\x90\x00" * 50)
    with pytest.raises(InputError, match=r"tool\.exe: unsupported file type '\.exe'"):
        parse_file(binary)
    random_txt = tmp_path / "notes.txt"
    random_txt.write_bytes(random.Random(0).randbytes(4000))
    with pytest.raises(InputError, match=r"notes\.txt: not a text file \(binary\?\)"):
        parse_file(random_txt)
    bad_docx = tmp_path / "report.docx"
    bad_docx.write_bytes(b"PK\x03\x04 truncated zip")
    with pytest.raises(InputError, match="report.docx: could not read"):
        parse_file(bad_docx)


def test_text_without_extension_is_read(tmp_path):
    path = tmp_path / "LICENSE"
    path.write_text("Permission is hereby granted.", encoding="utf-8")
    assert parse_file(path).kind == "txt"


# ------------------------------------------------------------------ chunker invariants

LONG = (
    "# Title\n\n"
    + " ".join(f"Sentence number {i} talks about topic {i % 7} in some detail." for i in range(120))
    + "\n\n"
    + "".join(f"这是第{i}句话，它讨论了主题{i % 5}。" for i in range(80))
    + "\n\n"
    + "averyveryverylongwordwithoutanybreaks " * 90
)


@pytest.mark.parametrize(("size", "overlap"), [(100, 0), (160, 30), (400, 60), (1000, 150)])
def test_chunks_fit_budget_overlap_and_map_back(tmp_path, size, overlap):
    path = tmp_path / "long.md"
    path.write_text(LONG, encoding="utf-8")
    doc = parse_file(path)
    chunks = chunk_document(doc, "x", ChunkSettings(chunk_size=size, overlap=overlap))
    text = doc.text
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text  # offsets map back
        assert chunk.size == size_of(chunk.text) <= size  # never over budget
        assert chunk.text == chunk.text.strip()
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert b.start > a.start  # always moves forward
        if overlap:
            assert b.start < a.end  # consecutive chunks share text
            assert size_of(text[b.start : a.end]) <= overlap + 1
        else:
            assert b.start >= a.end
    # Every word of the document is in some chunk.
    covered = [False] * len(text)
    for chunk in chunks:
        covered[chunk.start : chunk.end] = [True] * (chunk.end - chunk.start)
    assert all(covered[m.start()] for m in re.finditer(r"\S", text))


def test_chunker_prefers_sentence_ends():
    text = " ".join(f"Short sentence {i} ends here." for i in range(100))
    spans = split_spans(text, 200, 40)
    assert all(text[s:e].endswith(".") for s, e, _ in spans)
    assert all(text[s:e].startswith("Short") for s, e, _ in spans)


def test_bad_chunk_settings():
    with pytest.raises(InputError, match="overlap"):
        ChunkSettings(chunk_size=200, overlap=120)
    with pytest.raises(InputError, match="too small"):
        ChunkSettings(chunk_size=40, overlap=0)


def test_keyword_tokens_segment_chinese():
    tokens = keyword_tokens("我们使用分布式数据库存储用户的订单。The Quick fox!")
    assert "数据库" in tokens and "分布式" in tokens
    assert "的" not in tokens and "the" not in tokens
    assert "quick" in tokens and "fox" in tokens
