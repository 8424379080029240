"""OCR throughput on the scanned sample PDFs (image-only pages read by tesseract).

    .venv/bin/python bench/ocr.py [--repeat 2]

Runs the real parser (``ingest.parse.parse``: the fast text-layer pass finds no
text, then unstructured's ``ocr_only`` strategy through Debian's tesseract) on
each scanned sample and prints pages/s, with the characters recovered so a
regression to "0 elements, no error" cannot pass as fast.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DO_NOT_TRACK", "1")

SCANNED = ["samples/it/visitor-badge-procedure.pdf", "samples/finance/travel-policy-addendum-2025.pdf"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--models", type=Path, default=REPO / "data" / "models")
    args = parser.parse_args()

    from ingest.offline import use_local_spacy
    from ingest.parse import parse
    from ingest.sniff import sniff

    use_local_spacy(args.models)
    rows = []
    for rel in SCANNED:
        path = REPO / rel
        parse(path, sniff(path))  # warm-up: imports, tesseract's language data into the page cache
        started = time.perf_counter()
        for _ in range(args.repeat):
            doc = parse(path, sniff(path))
        seconds = (time.perf_counter() - started) / args.repeat
        chars = sum(len(b.text) for b in doc.blocks)
        rows.append({"file": rel, "pages": doc.page_count, "ocr_pages": doc.ocr_pages, "seconds": seconds,
                     "pages_per_s": doc.page_count / seconds, "characters": chars})
        print(f"{rel:52} {doc.page_count} pages, OCR on {len(doc.ocr_pages)}, {seconds:5.1f} s, "
              f"{doc.page_count / seconds:.2f} pages/s, {chars:,} characters")
    pages = sum(r["pages"] for r in rows)
    seconds = sum(r["seconds"] for r in rows)
    print(f"all scanned samples: {pages / seconds:.2f} pages/s ({os.cpu_count()} cores)")
    out = REPO / "bench" / "results" / "ocr.json"
    out.write_text(json.dumps({"machine": f"{platform.machine()}, {os.cpu_count()} cores", "files": rows,
                               "pages_per_s": pages / seconds}, indent=2))


if __name__ == "__main__":
    main()
