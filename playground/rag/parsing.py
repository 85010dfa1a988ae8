"""Turn a file into text sections that remember where they came from.

Each supported format is read with a proper library (pypdf, python-docx,
BeautifulSoup, openpyxl, csv). A section carries its 1-based page number (PDF)
or its heading path (Markdown, HTML, DOCX, sheet name), so that every chunk and
every citation can point back to the right place.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from playground.errors import InputError
from playground.storage import file_sha256

SECTION_SEPARATOR = "\n\n"


@dataclass
class Section:
    """A run of text with one location: a page (PDF) and/or a heading path."""

    text: str
    page: int | None = None
    heading: str = ""


@dataclass
class ParsedDocument:
    """A parsed file: its sections, and the offsets of each in ``text``."""

    name: str
    kind: str
    sha256: str
    size: int
    sections: list[Section]
    pages: int | None = None
    offsets: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sections = [s for s in self.sections if s.text.strip()]
        self.offsets = []
        pos = 0
        for section in self.sections:
            self.offsets.append(pos)
            pos += len(section.text) + len(SECTION_SEPARATOR)

    @property
    def text(self) -> str:
        """The whole document; chunk offsets index into this string."""
        return SECTION_SEPARATOR.join(s.text for s in self.sections)


Parser = Callable[[Path], tuple[list[Section], int | None]]
_PARSERS: dict[str, tuple[str, Parser]] = {}


def _parser(kind: str, *suffixes: str):
    def register(fn: Parser) -> Parser:
        for suffix in suffixes:
            _PARSERS[suffix] = (kind, fn)
        return fn

    return register


def supported_suffixes() -> list[str]:
    return sorted(_PARSERS)


def parse_file(path: str | Path, *, name: str | None = None) -> ParsedDocument:
    """Parse one file; ``InputError`` (naming the file) when it cannot be used."""
    path = Path(path)
    name = name or path.name
    suffix = Path(name).suffix.lower() or path.suffix.lower()
    if suffix not in _PARSERS and path.is_file() and _looks_like_text(path):
        suffix = ".txt"  # README, LICENSE, GPL-3 ...: plain text without a known extension
    if suffix not in _PARSERS:
        kind = f"file type '{suffix}'" if suffix else "file (no extension, and not plain text)"
        supported = ", ".join(supported_suffixes())
        raise InputError(
            f"{name}: unsupported {kind}. Supported: {supported}.",
            key="errors.rag.unsupported_type" if suffix else "errors.rag.unsupported_no_suffix",
            name=name,
            suffix=suffix,
            supported=supported,
        )
    if not path.is_file():
        raise file_not_found(name, path)
    kind, parse = _PARSERS[suffix]
    try:
        sections, pages = parse(path)
    except NotTextError as exc:
        raise InputError(f"{name}: {exc}", key="errors.rag.named_not_text", name=name) from None
    except InputError:
        raise
    except Exception as exc:  # each library raises its own errors on broken files
        raise InputError(
            f"{name}: could not read this {kind.upper()} file ({type(exc).__name__}: "
            f"{_first_line(exc)}). It may be corrupted or not really a {kind.upper()}; "
            "open and re-save it, or export it to PDF or TXT.",
            key="errors.rag.unreadable_file",
            name=name,
            kind=kind.upper(),
            error=type(exc).__name__,
            detail=_first_line(exc),
        ) from exc
    doc = ParsedDocument(
        name=name,
        kind=kind,
        sha256=file_sha256(path),
        size=path.stat().st_size,
        sections=[_clean(s) for s in sections],
        pages=pages,
    )
    if not doc.sections:
        if kind == "pdf":
            raise InputError(
                f"{name}: no text found (scanned?). The PDF has {pages} page(s) but no text "
                "layer; run OCR on it first (for example `ocrmypdf in.pdf out.pdf`).",
                key="errors.rag.scanned_pdf",
                name=name,
                pages=pages,
            )
        raise InputError(
            f"{name}: no text found; the file is empty.", key="errors.rag.empty_file", name=name
        )
    return doc


def file_not_found(name: str, path: Path) -> InputError:
    """The error for an uploaded file ``name`` that is not (or no longer) at ``path``."""
    return InputError(
        f"{name}: file not found at {path}.",
        key="errors.rag.file_not_found",
        name=name,
        path=str(path),
    )


def _looks_like_text(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(8192)
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start > len(head) - 4  # only a character cut off at the end
    return True


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else "no details"


def _clean(section: Section) -> Section:
    text = section.text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = re.sub(r"[ \t\u00a0]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return Section(text.strip(), section.page, section.heading)


# ------------------------------------------------------------------ formats


@_parser("pdf", ".pdf")
def _pdf(path: Path) -> tuple[list[Section], int | None]:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    if reader.is_encrypted and not reader.decrypt(""):
        raise InputError(
            f"{path.name}: the PDF is password-protected; remove the password first.",
            key="errors.rag.pdf_password",
            name=path.name,
        )
    sections = [
        Section(page.extract_text() or "", page=number)
        for number, page in enumerate(reader.pages, start=1)
    ]
    return sections, len(reader.pages)


class NotTextError(InputError):
    """A file named like text whose bytes are not text."""


# Above this share of control or replacement characters a decoded file is not text:
# random bytes decoded as Latin-1 give ~24% (62 of 256 byte values are controls),
# real text well under 1% (form feeds in old licence files, a stray escape).
MAX_CONTROL_SHARE = 0.05
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ufffd]")


def read_text_file(path: Path) -> str:
    """Decode a text file: UTF-8 (with or without BOM), then GB18030 for Chinese, then Latin-1.

    ``NotTextError`` when the result is mostly control or replacement characters.
    """
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        text = data.decode("latin-1")
    sample = text[:65536]
    if sample and len(_CONTROL_RE.findall(sample)) > MAX_CONTROL_SHARE * len(sample):
        raise NotTextError(
            "not a text file (binary?): most of it decodes to control characters. "
            "Upload the document itself (PDF, DOCX, TXT, MD, HTML, CSV, XLSX).",
            key="errors.rag.not_text",
        )
    return text


@_parser("txt", ".txt", ".text", ".rst", ".log")
def _txt(path: Path) -> tuple[list[Section], int | None]:
    return [Section(read_text_file(path))], None


HEADING_RE = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
FENCE_RE = re.compile(r"^\s*(```|~~~)")


@_parser("markdown", ".md", ".markdown")
def _markdown(path: Path) -> tuple[list[Section], int | None]:
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    lines: list[str] = []
    in_fence = False

    def flush() -> None:
        if lines:
            sections.append(Section("\n".join(lines), heading=" > ".join(t for _, t in stack)))
            lines.clear()

    for line in read_text_file(path).splitlines():
        if FENCE_RE.match(line):
            in_fence = not in_fence
        match = None if in_fence else HEADING_RE.match(line)
        if match:
            flush()
            level = len(match.group(1))
            stack = [(lv, t) for lv, t in stack if lv < level] + [(level, match.group(2))]
        lines.append(line)
    flush()
    return sections, None


HTML_HEADINGS = ["h1", "h2", "h3", "h4", "h5", "h6"]
HTML_BLOCKS = [
    "p", "div", "li", "ul", "ol", "pre", "blockquote", "tr", "table", "section",
    "article", "br", "dt", "dd", "figcaption", "header", "footer", "main",
]  # fmt: skip
_MARK = "\x01"


@_parser("html", ".html", ".htm", ".xhtml")
def _html(path: Path) -> tuple[list[Section], int | None]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(read_text_file(path), "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "svg", "head"]):
        tag.decompose()
    for tag in soup.find_all(HTML_BLOCKS):
        tag.insert_after("\n\n" if tag.name != "br" else "\n")
    for tag in soup.find_all(["td", "th"]):
        tag.insert_after(" | ")
    for tag in soup.find_all(HTML_HEADINGS):
        title = " ".join(tag.get_text(" ").split())
        tag.replace_with(f"\n\n{_MARK}{tag.name[1]}{_MARK}{title}\n\n")
    text = soup.get_text()
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    for part in re.split(rf"(?={_MARK}\d{_MARK})", text):
        match = re.match(rf"{_MARK}(\d){_MARK}(.*)", part)
        if match:
            level, title = int(match.group(1)), match.group(2).strip()
            stack = [(lv, t) for lv, t in stack if lv < level] + [(level, title)]
            part = title + part[match.end() :]
        part = re.sub(r"[ \t]+", " ", part)
        part = re.sub(r"\n\s*\n\s*", "\n\n", part)
        sections.append(Section(part, heading=" > ".join(t for _, t in stack)))
    return sections, None


@_parser("docx", ".docx")
def _docx(path: Path) -> tuple[list[Section], int | None]:
    import docx
    from docx.table import Table

    document = docx.Document(str(path))
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    lines: list[str] = []

    def flush() -> None:
        if lines:
            sections.append(Section("\n\n".join(lines), heading=" > ".join(t for _, t in stack)))
            lines.clear()

    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                cells = [c.text.strip() for c in row.cells]
                if any(cells):
                    lines.append(" | ".join(cells))
            continue
        text = block.text.strip()
        if not text:
            continue
        level = _docx_heading_level(block.style.name if block.style is not None else "")
        if level:
            flush()
            stack = [(lv, t) for lv, t in stack if lv < level] + [(level, text)]
        lines.append(text)
    flush()
    return sections, None


def _docx_heading_level(style: str) -> int:
    if style == "Title":
        return 1
    match = re.match(r"Heading (\d)", style)
    return int(match.group(1)) if match else 0


@_parser("csv", ".csv", ".tsv")
def _csv(path: Path) -> tuple[list[Section], int | None]:
    text = read_text_file(path)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else _sniff(text)
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    return [Section(_rows_as_text(rows), heading=path.name)], None


def _sniff(text: str) -> str:
    try:
        return csv.Sniffer().sniff(text[:4096], delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


@_parser("xlsx", ".xlsx", ".xlsm")
def _xlsx(path: Path) -> tuple[list[Section], int | None]:
    import openpyxl

    book = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
    try:
        sections = []
        for sheet in book.worksheets:
            rows = [
                ["" if v is None else str(v) for v in row]
                for row in sheet.iter_rows(values_only=True)
            ]
            sections.append(Section(_rows_as_text(rows), heading=sheet.title))
        return sections, None
    finally:
        book.close()


def _rows_as_text(rows: list[list[str]]) -> str:
    """One line per row, ``header: value`` pairs, so each row reads on its own."""
    rows = [[c.strip() for c in row] for row in rows if any(c.strip() for c in row)]
    if not rows:
        return ""
    header, body = rows[0], rows[1:]
    if not body:
        return " | ".join(header)
    lines = []
    for row in body:
        pairs = [
            f"{header[i] if i < len(header) and header[i] else f'column {i + 1}'}: {value}"
            for i, value in enumerate(row)
            if value
        ]
        lines.append("; ".join(pairs))
    return "\n".join(lines)
