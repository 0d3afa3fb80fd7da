"""Step 1 of the bundled-pair recipe: acquire, clean and split the training corpus.

Source: Jane Austen's six completed novels (public domain) as shipped in Debian's
``r-cran-janeaustenr`` package (the R package itself is MIT). The package stores them in R's
lazy-load database format (``data/Rdata.rdx`` = gzip'd RDS index, ``data/Rdata.rdb`` = a
concatenation of 4-byte-length-prefixed zlib'd serialized R objects), which is read here
without R through PyPI's ``rdata`` package (pure Python R-unserializer).

Cleaning: Project-Gutenberg line wrapping is undone (lines are joined into paragraphs, one
paragraph per line), ``_italic_`` underscores are dropped, whitespace is collapsed, and the
books are cut into chapters at their chapter headings (``CHAPTER I``, ``Chapter 1``, ...);
volume/chapter headings and each book's title page are dropped. Each chapter is one document.

Split: a seeded random 5% of the chapters (at least one per book) is held out for evaluation
(``heldout.jsonl``); the rest is ``train.jsonl``. Each line: {"book", "chapter", "text"}.

Usage (after ``apt-get update`` once)::

    python scripts/bundled_pair/prepare_corpus.py --out .build/bundled/corpus
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path

DEB_NAME = "r-cran-janeaustenr"
RDATA_SUBDIR = "usr/lib/R/site-library/janeaustenr/data/Rdata"
BOOK_TITLES = {
    "sensesensibility": "Sense and Sensibility",
    "prideprejudice": "Pride and Prejudice",
    "mansfieldpark": "Mansfield Park",
    "emma": "Emma",
    "northangerabbey": "Northanger Abbey",
    "persuasion": "Persuasion",
}
CHAPTER_RE = re.compile(r"^\s*(CHAPTER|Chapter)\s+([IVXLC]+|\d+)\.?\s*$")
VOLUME_RE = re.compile(r"^\s*(VOLUME|Volume)\s+([IVXLC]+|\d+)\.?\s*$")
HELDOUT_FRACTION = 0.05


def fetch_deb(work: Path) -> Path:
    """Download (``apt-get download``) and unpack the Debian package; return the unpack root."""
    work.mkdir(parents=True, exist_ok=True)
    debs = sorted(work.glob(f"{DEB_NAME}_*.deb"))
    if not debs:
        subprocess.run(["apt-get", "download", DEB_NAME], cwd=work, check=True)
        debs = sorted(work.glob(f"{DEB_NAME}_*.deb"))
    root = work / "janeaustenr"
    subprocess.run(["dpkg", "-x", str(debs[-1]), str(root)], check=True)
    print(f"source package: {debs[-1].name}")
    return root


def read_lazyload_db(base: Path) -> dict[str, list[str]]:
    """Read every character vector from an R lazy-load DB (``base.rdx`` + ``base.rdb``)."""
    import rdata  # PyPI: rdata

    def unz(blob: bytes) -> bytes:
        n = struct.unpack(">I", blob[:4])[0]
        out = zlib.decompress(blob[4:])
        assert len(out) == n, "corrupt lazy-load entry"
        return out

    index = rdata.conversion.convert(
        rdata.parser.parse_data(gzip.decompress(base.with_suffix(".rdx").read_bytes()))
    )
    rdb = base.with_suffix(".rdb").read_bytes()
    books: dict[str, list[str]] = {}
    for name, (offset, length) in index["variables"].items():
        obj = rdata.conversion.convert(
            rdata.parser.parse_data(unz(rdb[int(offset) : int(offset) + int(length)]))
        )
        books[str(name)] = [str(line) for line in obj]
    return books


def clean_paragraph(lines: list[str]) -> str:
    text = " ".join(line.strip() for line in lines)
    text = text.replace("_", "")
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = text.replace("\u201c", '"').replace("\u201d", '"')
    text = re.sub(r"\s+", " ", text).strip()
    return text


def split_chapters(lines: list[str]) -> list[str]:
    """Cut one book's lines into cleaned chapter texts (paragraphs joined by newlines)."""
    chapters: list[list[str]] = []
    current: list[str] | None = None  # None until the first chapter heading (title page)
    para: list[str] = []

    def flush_para() -> None:
        if para and current is not None:
            text = clean_paragraph(para)
            if text and not VOLUME_RE.match(text) and not re.fullmatch(r"THE END\.?", text):
                current.append(text)
        para.clear()

    for line in lines:
        if CHAPTER_RE.match(line):
            flush_para()
            current = []
            chapters.append(current)
            continue
        if VOLUME_RE.match(line):
            flush_para()
            continue
        if line.strip():
            para.append(line)
        else:
            flush_para()
    flush_para()
    return ["\n".join(ch) for ch in chapters if ch]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(".build/bundled/corpus"))
    ap.add_argument("--work", type=Path, default=Path(".build/bundled/src"))
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()

    root = fetch_deb(args.work)
    books = read_lazyload_db(root / RDATA_SUBDIR)
    rng = random.Random(args.seed)
    train, heldout = [], []
    for book in sorted(books):
        chapters = split_chapters(books[book])
        n_held = max(1, round(HELDOUT_FRACTION * len(chapters)))
        held_idx = set(rng.sample(range(len(chapters)), n_held))
        for i, text in enumerate(chapters):
            rec = {"book": BOOK_TITLES.get(book, book), "chapter": i + 1, "text": text}
            (heldout if i in held_idx else train).append(rec)
        words = sum(len(c.split()) for c in chapters)
        print(
            f"{book:18s} chapters={len(chapters):3d} held-out={sorted(j + 1 for j in held_idx)}"
            f" words={words}"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    for name, recs in (("train", train), ("heldout", heldout)):
        with open(args.out / f"{name}.jsonl", "w", encoding="utf-8") as f:
            for rec in recs:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        n_words = sum(len(r["text"].split()) for r in recs)
        n_chars = sum(len(r["text"]) for r in recs)
        print(f"{name}: {len(recs)} chapters, {n_words} words, {n_chars} chars")
    return 0


if __name__ == "__main__":
    sys.exit(main())
