"""Decide what a file is from its bytes, not its name.

libmagic names the family (PDF, OOXML, HTML, e-mail, text); among plain-text
files, where bytes alone cannot tell Markdown from text or CSV, the content is
checked first and the extension only breaks a tie.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import magic

from ingest.errors import EmptyFileError, SuspiciousArchiveError, UnsupportedTypeError

MIME_BY_KIND = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "html": "text/html",
    "eml": "message/rfc822",
    "csv": "text/csv",
    "md": "text/markdown",
    "txt": "text/plain",
}
KIND_BY_MIME = {v: k for k, v in MIME_BY_KIND.items()}

_MD_LINE = re.compile(r"^(#{1,6}\s+\S|[-*+]\s+\S|\d+\.\s+\S|```|>\s)", re.M)
_MD_INLINE = re.compile(r"\[[^\]]+\]\([^)]+\)|\*\*[^*]+\*\*|`[^`]+`")
_EMAIL_HEADER = re.compile(r"^(From|To|Subject|Date|Message-ID|MIME-Version|Received|Return-Path):", re.M | re.I)


@dataclass(frozen=True)
class FileKind:
    kind: str
    mime: str


def sniff(path: Path, max_unpacked_bytes: int = 1 << 30, name: str | None = None) -> FileKind:
    """``name`` is the original file name, when ``path`` is a stored copy without one."""
    size = path.stat().st_size
    if size == 0:
        raise EmptyFileError("the file is empty")
    with path.open("rb") as fh:
        head = fh.read(65536)
    if not head.strip():
        raise EmptyFileError("the file holds only whitespace")
    mime = magic.from_buffer(head[:8192], mime=True)
    if mime == "application/pdf" or head.startswith(b"%PDF-"):
        return FileKind("pdf", MIME_BY_KIND["pdf"])
    if head.startswith(b"PK\x03\x04") or mime in ("application/zip",) or "openxmlformats" in mime:
        return _sniff_ooxml(path, max_unpacked_bytes)
    if mime == "message/rfc822" or (_is_text(head) and len(_EMAIL_HEADER.findall(_decode(head)[:4000])) >= 3):
        return FileKind("eml", MIME_BY_KIND["eml"])
    if mime in ("text/html", "application/xhtml+xml") or re.search(rb"<(html|body|!doctype html)", head[:2048], re.I):
        return FileKind("html", MIME_BY_KIND["html"])
    if mime.startswith("text/") or mime in ("application/csv", "application/json") or _is_text(head):
        kind = _sniff_text(_decode(head), Path(name or path.name).suffix.lower())
        return FileKind(kind, MIME_BY_KIND[kind])
    raise UnsupportedTypeError(f"unsupported file type {mime}")


def _sniff_ooxml(path: Path, max_unpacked_bytes: int) -> FileKind:
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            unpacked = sum(info.file_size for info in zf.infolist())
            packed = sum(info.compress_size for info in zf.infolist()) or 1
    except zipfile.BadZipFile as exc:
        from ingest.errors import CorruptDocumentError

        raise CorruptDocumentError(f"damaged Office/zip file: {exc}") from exc
    if unpacked > max_unpacked_bytes or (unpacked > 50 * 1024 * 1024 and unpacked / packed > 100):
        raise SuspiciousArchiveError(
            f"the archive would unpack to {unpacked:,} bytes from {packed:,} (a zip bomb?); refused"
        )
    if "word/document.xml" in names:
        return FileKind("docx", MIME_BY_KIND["docx"])
    if "ppt/presentation.xml" in names:
        return FileKind("pptx", MIME_BY_KIND["pptx"])
    raise UnsupportedTypeError("a zip archive that is not a Word or PowerPoint document")


def _is_text(head: bytes) -> bool:
    if b"\x00" in head[:8192]:
        return False
    try:
        head[:8192].decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        if exc.start > 8192 - 4:  # cut mid-character at the buffer end
            return True
    from charset_normalizer import from_bytes

    best = from_bytes(head[:8192]).best()
    return best is not None and best.chaos < 0.3


def _decode(head: bytes) -> str:
    try:
        return head.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        return head.decode("latin-1")


def _sniff_text(text: str, suffix: str) -> str:
    sample = text[:20000]
    lines = [ln for ln in sample.splitlines() if ln.strip()]
    md_score = len(_MD_LINE.findall(sample)) + len(_MD_INLINE.findall(sample))
    starts_with_heading = bool(lines) and re.match(r"^#{1,6}\s+\S", lines[0]) is not None
    if suffix in (".md", ".markdown") or starts_with_heading or md_score >= max(2, len(lines) // 10):
        return "md"
    if _looks_like_csv(sample, lines) or (suffix in (".csv", ".tsv") and len(lines) > 1):
        return "csv"
    return "txt"


def _looks_like_csv(sample: str, lines: list[str]) -> bool:
    if len(lines) < 2:
        return False
    try:
        dialect = csv.Sniffer().sniff(sample[:5000], delimiters=",;\t|")
    except csv.Error:
        return False
    rows = list(csv.reader(io.StringIO("\n".join(lines[:50])), dialect))
    widths = {len(r) for r in rows}
    return len(widths) == 1 and next(iter(widths)) >= 2
