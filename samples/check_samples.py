#!/usr/bin/env python3
"""Consistency checker for the Halvorsen Robotics sample corpus.

Checks:
  * manifest.json is well formed; every document path exists; groups/owners are known
  * every question's doc is in the manifest, its groups/public flags match the manifest
  * answer is a substring of passage (case-insensitive, whitespace-normalised)
  * passage is a substring of the document's extractable text (whitespace-normalised)
      - text PDFs: pypdf;  docx: python-docx;  pptx: python-pptx;  eml: email module;
        html: html.parser;  csv/md/txt: plain read
      - scanned PDFs: the source text that build_samples.py rendered into the images,
        and pypdf must find NO extractable text in them
  * coverage: question counts per type, restricted / scanned / table questions
Optional:
  --ocr   OCR the scanned PDFs (pdftoppm -r 200 + tesseract) and check that the
          answers of the scanned-PDF questions appear in the OCR output.

Usage: python samples/check_samples.py [--ocr]
Exit status 0 when everything passes.
"""
from __future__ import annotations

import argparse
import collections
import email
import email.policy
import json
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

HERE = Path(__file__).resolve().parent
TYPES = ["pdf", "scanned-pdf", "docx", "pptx", "html", "md", "eml", "csv", "txt"]
RESTRICTED_ONLY = {"board", "hr", "engineering", "finance", "it"}


def norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


# --------------------------------------------------------------------------- extractors
def text_pdf(path: Path) -> str:
    from pypdf import PdfReader

    return "\n".join(p.extract_text() or "" for p in PdfReader(str(path)).pages)


def text_docx(path: Path) -> str:
    import docx

    d = docx.Document(str(path))
    parts = [p.text for p in d.paragraphs]
    for t in d.tables:
        for row in t.rows:
            parts.append(" ".join(c.text for c in row.cells))
    for s in d.sections:
        parts += [p.text for p in s.header.paragraphs] + [p.text for p in s.footer.paragraphs]
    return "\n".join(parts)


def text_pptx(path: Path) -> str:
    from pptx import Presentation

    parts = []
    for slide in Presentation(str(path)).slides:
        for shape in slide.shapes:
            if shape.has_text_frame:
                parts.extend(p.text for p in shape.text_frame.paragraphs)
        if slide.has_notes_slide:
            parts.append(slide.notes_slide.notes_text_frame.text)
    return "\n".join(parts)


class _HTMLText(HTMLParser):
    BLOCK = {"p", "li", "td", "th", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "br", "div",
             "table", "ul", "ol", "header", "footer", "nav", "article", "main", "title", "hr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script"):
            self._skip += 1
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self._skip -= 1
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    p = _HTMLText()
    p.feed(markup)
    return "".join(p.parts)


def text_html(path: Path) -> str:
    return html_to_text(path.read_text(encoding="utf-8"))


def text_eml(path: Path) -> list[str]:
    """Return [headers+text/plain, text/html-as-text] variants."""
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    headers = "\n".join(f"{k}: {v}" for k, v in msg.items())
    plain_parts, html_parts = [], []
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "text/plain":
            plain_parts.append(part.get_content())
        elif ctype == "text/html":
            html_parts.append(html_to_text(part.get_content()))
    return [headers + "\n" + "\n".join(plain_parts), "\n".join(html_parts)]


def scanned_source_text(doc: dict) -> str:
    sys.dont_write_bytecode = True
    sys.path.insert(0, str(HERE))
    from build_samples import scanned_plain_text  # same function the renderer uses

    return scanned_plain_text((HERE / doc["source"]).read_text(encoding="utf-8"))


def doc_texts(doc: dict) -> list[str]:
    path = HERE / doc["path"]
    t = doc["type"]
    if t == "pdf":
        return [text_pdf(path)]
    if t == "scanned-pdf":
        return [scanned_source_text(doc)]
    if t == "docx":
        return [text_docx(path)]
    if t == "pptx":
        return [text_pptx(path)]
    if t == "html":
        return [text_html(path)]
    if t == "eml":
        return text_eml(path)
    if t in ("csv", "md", "txt"):
        return [path.read_text(encoding="utf-8")]
    raise ValueError(t)


# --------------------------------------------------------------------------- checks
def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ocr", action="store_true", help="also OCR the scanned PDFs with tesseract")
    args = ap.parse_args()

    errors: list[str] = []
    manifest = json.loads((HERE / "manifest.json").read_text(encoding="utf-8"))
    groups = set(manifest["groups"])
    users = {u["name"]: u for u in manifest["users"]}
    docs = {d["path"]: d for d in manifest["documents"]}

    for u in manifest["users"]:
        for g in u["groups"]:
            if g not in groups:
                errors.append(f"user {u['name']}: unknown group {g}")
    type_counts = collections.Counter()
    for d in manifest["documents"]:
        p = HERE / d["path"]
        if not p.is_file():
            errors.append(f"missing file: {d['path']}")
            continue
        if d["type"] not in TYPES:
            errors.append(f"{d['path']}: unknown type {d['type']}")
        if d["owner"] not in users:
            errors.append(f"{d['path']}: unknown owner {d['owner']}")
        for g in d["groups"]:
            if g not in groups:
                errors.append(f"{d['path']}: unknown group {g}")
        type_counts[d["type"]] += 1
    for t in TYPES:
        need = 2
        if type_counts[t] < need:
            errors.append(f"only {type_counts[t]} documents of type {t}")

    # scanned PDFs must have no text layer
    from pypdf import PdfReader

    for d in manifest["documents"]:
        if d["type"] == "scanned-pdf":
            r = PdfReader(str(HERE / d["path"]))
            txt = "".join(pg.extract_text() or "" for pg in r.pages)
            if txt.strip():
                errors.append(f"{d['path']}: scanned PDF has extractable text ({len(txt)} chars)")
            fonts = any("/Font" in (pg.get("/Resources") or {}) for pg in r.pages)
            if fonts:
                errors.append(f"{d['path']}: scanned PDF has font resources")

    # header/footer requirement: at least one PDF with "Page N of M" on every page
    running_ok = False
    for d in manifest["documents"]:
        if d["type"] == "pdf":
            pages = PdfReader(str(HERE / d["path"])).pages
            if len(pages) > 1 and all(
                f"Halvorsen Robotics \u2014 Internal \u2014 Page {i} of {len(pages)}" in (pg.extract_text() or "")
                for i, pg in enumerate(pages, 1)
            ):
                running_ok = True
    if not running_ok:
        errors.append("no multi-page PDF with a running 'Page N of M' footer on every page")

    # questions
    text_cache: dict[str, list[str]] = {}
    questions = [json.loads(line) for line in (HERE / "questions.jsonl").read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    ids = set()
    q_types = collections.Counter()
    restricted = scanned = tables = 0
    for q in questions:
        qid = q.get("id", "?")
        for k in ("id", "question", "answer", "doc", "passage", "groups_allowed", "public"):
            if k not in q:
                errors.append(f"{qid}: missing field {k}")
        if qid in ids:
            errors.append(f"{qid}: duplicate id")
        ids.add(qid)
        d = docs.get(q["doc"])
        if d is None:
            errors.append(f"{qid}: doc {q['doc']} not in manifest")
            continue
        if sorted(q["groups_allowed"]) != sorted(d["groups"]) or q["public"] != d["public"]:
            errors.append(f"{qid}: groups_allowed/public do not match manifest for {q['doc']}")
        ans, passage = norm(q["answer"]), norm(q["passage"])
        if ans.lower() not in passage.lower():
            errors.append(f"{qid}: answer {ans!r} not in passage")
        if q["doc"] not in text_cache:
            text_cache[q["doc"]] = [norm(t) for t in doc_texts(d)]
        if not any(passage in t for t in text_cache[q["doc"]]):
            errors.append(f"{qid}: passage not found verbatim in {q['doc']}: {passage[:90]!r}")
        q_types[d["type"]] += 1
        if not d["public"] and "everyone" not in d["groups"]:
            restricted += 1
        if d["type"] == "scanned-pdf":
            scanned += 1
        if d["type"] == "csv" or q.get("table"):
            tables += 1

    if not 30 <= len(questions) <= 40:
        errors.append(f"{len(questions)} questions (expected 30-40)")
    for t in TYPES:
        if q_types[t] < 2:
            errors.append(f"only {q_types[t]} questions for type {t}")
    if restricted < 6:
        errors.append(f"only {restricted} restricted-only questions")
    if scanned < 3:
        errors.append(f"only {scanned} scanned-PDF questions")

    # optional OCR
    ocr_report = "skipped (pass --ocr)"
    if args.ocr:
        if not (shutil.which("tesseract") and shutil.which("pdftoppm")):
            ocr_report = "skipped (tesseract/pdftoppm not installed)"
        else:
            ocr_text = {}
            with tempfile.TemporaryDirectory() as tmp:
                for d in manifest["documents"]:
                    if d["type"] != "scanned-pdf":
                        continue
                    stem = Path(tmp) / Path(d["path"]).stem
                    subprocess.run(["pdftoppm", "-r", "200", "-png", str(HERE / d["path"]), str(stem)], check=True)
                    out = []
                    for png in sorted(Path(tmp).glob(stem.name + "*.png")):
                        out.append(subprocess.run(["tesseract", str(png), "-"], capture_output=True,
                                                  text=True, check=True).stdout)
                    ocr_text[d["path"]] = norm("\n".join(out)).lower()
            n_ok = n = 0
            for q in questions:
                if q["doc"] in ocr_text:
                    n += 1
                    if norm(q["answer"]).lower() in ocr_text[q["doc"]]:
                        n_ok += 1
                    else:
                        errors.append(f"{q['id']}: OCR output lacks answer {q['answer']!r}")
            ocr_report = f"{n_ok}/{n} scanned-PDF answers found in tesseract output"

    print(f"documents: {len(docs)}  by type: {dict(sorted(type_counts.items()))}")
    print(f"questions: {len(questions)}  by type: {dict(sorted(q_types.items()))}")
    print(f"restricted-only questions: {restricted}  scanned-PDF questions: {scanned}  table/CSV questions: {tables}")
    print(f"OCR: {ocr_report}")
    if errors:
        print(f"\nFAILED with {len(errors)} error(s):")
        for e in errors:
            print("  - " + e)
        return 1
    print("\nALL CHECKS PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
