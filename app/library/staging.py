"""Where uploaded bytes wait before registration, and the names they are kept under.

Every uploaded file (and every member unpacked from an uploaded zip) is written
to a fresh folder of its own under ``<data_dir>/uploads`` by a cleaned file name,
so two uploads of one name never meet and no name the browser or an archive
gives can point anywhere else. The path a file had in its folder or archive is
kept only as text (the document's source), after ``clean_relative`` refused an
absolute path or one that climbs with ``..``.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from pathlib import Path

UNSAFE = re.compile(r"[^\w.\- ()+,]+", re.UNICODE)
MAX_SOURCE = 480  # the documents.source column holds 500


class PathRefused(ValueError):
    """A relative path we will not take; the message is for the user."""


def staging_dir(data_dir: Path) -> Path:
    return data_dir / "uploads"


def safe_name(given: str) -> str:
    """A file name without folders, control characters or leading dots (the browser's name is untrusted)."""
    name = unicodedata.normalize("NFC", given or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = UNSAFE.sub("_", name).strip(" .")[:180]
    return name or "upload"


def clean_relative(given: str) -> str:
    """A relative path (``folder/sub/file.md``) as a document's source: each part cleaned like a file
    name; an absolute path (``/x``, ``C:\\x``, ``\\\\host\\x``) or a ``..`` part is refused."""
    text = unicodedata.normalize("NFC", given or "")
    if "\x00" in text:
        raise PathRefused("the path holds a NUL byte")
    text = text.replace("\\", "/")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        raise PathRefused(f"{given[:200]!r} is an absolute path")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if any(p.strip() == ".." for p in parts):
        raise PathRefused(f"{given[:200]!r} climbs out of its folder (..)")
    cleaned = "/".join(safe_name(p) for p in parts) or "upload"
    return cleaned[-MAX_SOURCE:]


def new_staging_path(data_dir: Path, name: str) -> Path:
    """A fresh folder for one uploaded file, so two uploads of one name never meet."""
    folder = staging_dir(data_dir) / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=False)
    return folder / safe_name(name)
