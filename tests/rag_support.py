"""Helpers for the Documents (RAG) tests: a controllable embedder and file makers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from playground.rag import Embedder
from playground.rag.text import keyword_tokens


class HashingModel:
    """A bag-of-words "embedding model": texts sharing words get similar vectors.

    Deterministic and instant, so retrieval logic can be tested on controlled
    similarities. ``calls`` records every text it was asked to encode.
    """

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.calls: list[str] = []

    def get_embedding_dimension(self) -> int:
        return self.dim

    def encode(self, texts, normalize_embeddings=True, **_):
        self.calls.extend(texts)
        out = np.zeros((len(texts), self.dim), dtype="float32")
        for row, text in enumerate(texts):
            for token in keyword_tokens(text):
                h = int(hashlib.md5(token.encode()).hexdigest()[:8], 16)
                out[row, h % self.dim] += 1.0
            if not out[row].any():
                out[row, 0] = 1.0
        if normalize_embeddings:
            out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out


def hashing_embedder(name: str = "hashing", **prefixes) -> Embedder:
    return Embedder.from_model(HashingModel(), name=name, **prefixes)


def make_pdf(path: Path, pages: list[str]) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    for text in pages:
        y = 800
        for line in text.split("\n"):
            c.drawString(60, y, line)
            y -= 16
        c.showPage()
    c.save()
    return path


def make_scanned_pdf(path: Path, pages: int = 2) -> Path:
    """A PDF whose pages hold only drawings: no text layer, like a scan."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    for n in range(pages):
        c.rect(50 + n * 10, 50, 300, 400, fill=1)
        c.showPage()
    c.save()
    return path


def make_docx(path: Path) -> Path:
    import docx

    d = docx.Document()
    d.add_heading("Installation Guide", level=1)
    d.add_paragraph("This guide explains how to install the widget on a workstation.")
    d.add_heading("Requirements", level=2)
    d.add_paragraph("The widget needs Python 3.10 and four gigabytes of memory.")
    table = d.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Part"
    table.cell(0, 1).text = "Count"
    table.cell(1, 0).text = "sprocket"
    table.cell(1, 1).text = "12"
    d.add_heading("Troubleshooting", level=1)
    d.add_paragraph("If the widget does not start, delete the cache folder and retry.")
    d.save(str(path))
    return path
