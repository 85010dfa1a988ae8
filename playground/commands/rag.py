"""``playground rag index|search|ask|docs|remove``: the Documents tab from a shell.

playground rag index  --collection DIR [--embedding-model NAME_OR_PATH] FILE...
playground rag search --collection DIR [--k K] [--json] "question"
playground rag search --collection DIR --k K --queries FILE.jsonl
playground rag ask    --collection DIR [--model NAME] "question"
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from playground.commands import DEFAULT_CONFIG, add_config_arg
from playground.errors import InputError


def register(sub) -> None:
    parser = sub.add_parser("rag", help="index documents, search them, ask questions")
    inner = parser.add_subparsers(dest="rag_command", metavar="ACTION", required=True)

    index = inner.add_parser("index", help="create or extend a collection with files")
    _common(index)
    index.add_argument(
        "files", nargs="+", metavar="FILE", help="PDF, DOCX, TXT, MD, HTML, CSV, XLSX"
    )
    index.add_argument("--chunk-size", type=int, metavar="CHARS",
                       help="chunk budget in characters, a CJK character counting 2 (default 1000)")  # fmt: skip
    index.add_argument("--overlap", type=int, metavar="CHARS", help="chunk overlap (default 150)")
    index.add_argument("--max-file-size", type=float, default=100.0, metavar="MB",
                       help="skip files larger than this (default 100)")  # fmt: skip
    index.set_defaults(handler=_index)

    search = inner.add_parser("search", help="retrieve the best chunks for a question")
    _common(search)
    _search_args(search)
    search.add_argument("question", nargs="?", help="the question (or use --queries)")
    search.add_argument("--json", action="store_true", help="print one JSON array of hits")
    search.add_argument("--queries", metavar="FILE.jsonl",
                        help='batch: lines {"id", "question"}; prints {"id", "hits"} lines')  # fmt: skip
    search.set_defaults(handler=_search)

    ask = inner.add_parser("ask", help="answer a question with citations")
    _common(ask)
    _search_args(ask)
    ask.add_argument("question")
    ask.add_argument("--model", help="chat model (default: the first chat model)")
    ask.add_argument("--min-relevance", type=float, metavar="X",
                     help="below this relevance the answer says the documents do not contain it")  # fmt: skip
    ask.add_argument("--context-only", action="store_true",
                     help="show the retrieved context only; do not call the chat model")  # fmt: skip
    ask.set_defaults(handler=_ask)

    docs = inner.add_parser("docs", help="list the documents in a collection")
    docs.add_argument("--collection", required=True, metavar="DIR")
    docs.set_defaults(handler=_docs)

    remove = inner.add_parser("remove", help="remove one document from a collection")
    remove.add_argument("--collection", required=True, metavar="DIR")
    remove.add_argument("document", help="document name (or id)")
    remove.set_defaults(handler=_remove)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--collection", required=True, metavar="DIR", help="collection folder")
    add_config_arg(parser)
    parser.add_argument("--embedding-model", metavar="NAME_OR_PATH",
                        help="model name in the models file, or a sentence-transformers folder")  # fmt: skip


def _search_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--k", type=int, default=5, help="number of chunks (default 5)")
    parser.add_argument("--mode", choices=["hybrid", "dense", "keyword"], default="hybrid")
    parser.add_argument("--reranker", metavar="NAME", help="cross-encoder reranker model")


def _registry(config_path: str):
    from playground.config import load_config, parse_config
    from playground.registry import Registry

    if config_path == DEFAULT_CONFIG and not Path(config_path).exists():
        return Registry(
            parse_config("version: 1\nmodels: []\n")
        )  # a folder model can still be used
    return Registry(load_config(config_path))


def _open(args: argparse.Namespace):
    from playground.rag import Collection, embedder_for

    collection = Collection.open(args.collection)
    registry = _registry(args.config)
    embedder = embedder_for(registry, args.embedding_model, recorded=collection.embedding)
    return registry, collection, embedder


def _settings(args: argparse.Namespace):
    from playground.rag import SearchSettings

    return SearchSettings(k=args.k, mode=args.mode, reranker=args.reranker)


# ------------------------------------------------------------------ handlers


def _index(args: argparse.Namespace) -> int:
    from playground.rag import ChunkSettings, Collection, embedder_for, ingest, open_or_create
    from playground.rag.chunking import DEFAULT_CHUNK_SIZE, DEFAULT_OVERLAP

    registry = _registry(args.config)
    recorded = (
        Collection.open(args.collection).embedding if Collection.exists(args.collection) else None
    )
    embedder = embedder_for(registry, args.embedding_model, recorded=recorded)
    chunking = None
    if args.chunk_size or args.overlap is not None:
        chunking = ChunkSettings(
            chunk_size=args.chunk_size or DEFAULT_CHUNK_SIZE,
            overlap=args.overlap if args.overlap is not None else DEFAULT_OVERLAP,
        )
    collection = open_or_create(args.collection, embedder, chunking=chunking)
    total = len(args.files)
    done: set[str] = set()

    def progress(fraction: float, message: str) -> None:
        name = message.split(":", 1)[0]
        if name not in done and message.endswith("reading"):
            done.add(name)
            print(f"[{len(done)}/{total}] {name}", file=sys.stderr, flush=True)

    report = ingest(
        collection,
        args.files,
        embedder,
        chunking=chunking,
        max_file_mb=args.max_file_size,
        progress=progress,
    )
    print(report.summary())
    for name in report.duplicates:
        print(f"already indexed: {name}")
    for name, reason in report.skipped:
        print(f"skipped {name}: {reason.removeprefix(f'{name}: ')}")
    print(
        f"collection {args.collection}: {len(collection.documents)} document(s), "
        f"{len(collection.chunks)} chunk(s), embedding model {collection.embedding.name}"
    )
    if report.added:
        return 0
    reasons = [f"{name} ({why.removeprefix(f'{name}: ')})" for name, why in report.skipped]
    reasons += [f"{name} (already in the collection)" for name in report.duplicates]
    print("nothing could be indexed: " + "; ".join(reasons), file=sys.stderr)
    return 2


def _search(args: argparse.Namespace) -> int:
    if bool(args.question) == bool(args.queries):
        raise InputError("give either a question or --queries FILE.jsonl (not both).")
    registry, collection, embedder = _open(args)
    settings = _settings(args)
    if args.queries:
        for number, item in enumerate(_read_queries(Path(args.queries)), 1):
            hits = collection.search(item["question"], embedder, settings, registry=registry)
            line = {"id": item.get("id", number), "hits": [h.to_json() for h in hits]}
            print(json.dumps(line, ensure_ascii=False), flush=True)
        return 0
    hits = collection.search(args.question, embedder, settings, registry=registry)
    if args.json:
        print(json.dumps([h.to_json() for h in hits], ensure_ascii=False))
    else:
        _print_hits(hits)
    return 0


def _read_queries(path: Path) -> list[dict]:
    if not path.exists():
        raise InputError(f"--queries {path}: file not found.")
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{n}: not valid JSON ({exc.msg}).") from None
        if not isinstance(item, dict) or not isinstance(item.get("question"), str):
            raise InputError(f'{path}:{n}: expected {{"id": ..., "question": "..."}}.')
        items.append(item)
    return items


def _print_hits(hits) -> None:
    if not hits:
        print("no results (the collection is empty)")
    for hit in hits:
        c = hit.chunk
        where = (
            c.source
            + (f", page {c.page}" if c.page else "")
            + (f", {c.heading}" if c.heading else "")
        )
        print(f"[{hit.rank}] {where}  (score {hit.score:.3f}, relevance {hit.relevance:.3f})")
        print("    " + " ".join(c.text.split())[:300])


def _ask(args: argparse.Namespace) -> int:
    from playground.rag import answer_stream, default_threshold

    registry, collection, embedder = _open(args)
    hits = collection.search(args.question, embedder, _settings(args), registry=registry)
    if args.context_only:
        _print_hits(hits)
        return 0
    threshold = args.min_relevance
    if threshold is None:
        threshold = default_threshold(registry, embedder.info.name, args.reranker)
    model = args.model or _default_chat(registry)
    shown = ""
    answer = None
    for answer in answer_stream(registry, model, args.question, hits, threshold=threshold):
        sys.stdout.write(
            answer.text[len(shown) :] if answer.text.startswith(shown) else "\n" + answer.text
        )
        sys.stdout.flush()
        shown = answer.text
    print()
    if answer is not None and answer.found:
        from playground.rag.answer import page_label

        print(f"\nSources ({answer.stats}):")
        for n, hit in enumerate(answer.hits, 1):
            c = hit.chunk
            page = f", page {page_label(c.pages)}" if c.pages else ""
            print(f"[{n}] {c.source}{page} (relevance {hit.relevance:.2f})")
    return 0


def _default_chat(registry) -> str:
    names = registry.names("chat") or registry.names("endpoint")
    if not names:
        raise InputError("no chat model is configured; add one to the models file or pass --model.")
    return names[0]


def _docs(args: argparse.Namespace) -> int:
    from playground.rag import Collection

    collection = Collection.open(args.collection)
    print(f"{collection.name}: {len(collection.chunks)} chunks, model {collection.embedding.name}")
    for doc in collection.documents:
        pages = f"{doc.pages} pages, " if doc.pages else ""
        print(f"  {doc.name}  ({doc.kind}, {pages}{doc.chunks} chunks, id {doc.id})")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from playground.rag import Collection

    collection = Collection.open(args.collection)
    doc = collection.remove_document(args.document)
    print(f"removed {doc.name}; {len(collection.documents)} document(s) left")
    return 0
