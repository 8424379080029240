"""A zip of documents uploaded at once: each member becomes a staged file of its own, with its
path inside the archive as its source, and a zip bomb is refused before and while it unpacks.

An archive is any zip that is not an Office file (those carry ``[Content_Types].xml``
and are documents themselves). It is checked twice:

* **from the central directory**, before a byte is unpacked: at most ``MAX_MEMBERS``
  files, at most ``max_unpacked_bytes`` (``INHOUSE_MAX_UNPACKED_BYTES``) in all, no
  member (and not the whole) that inflates more than ``MAX_RATIO`` times once it is
  over ``RATIO_FLOOR`` bytes, and no two members sharing bytes (the overlapping-entry
  bomb, where many directory entries point into one compressed stream);
* **while unpacking**, by counting the bytes really written, since the directory can
  lie: a member that inflates past what the directory says, past the ratio, or the
  whole past the total, stops the unpacking and refuses the archive.

Any of these refuses the whole archive (nothing of it is kept). A member that is only
bad on its own is refused with its reason and the others go on: an absolute path or
one with ``..`` (never written anywhere: each member is staged under a fresh folder
by its cleaned name, whatever its path says), a symbolic link, an encrypted member,
one over the per-file limit (``INHOUSE_MAX_FILE_BYTES``), a damaged one (bad CRC),
an unsupported compression method. Folders, hidden files and macOS resource forks
(``__MACOSX/``) are skipped, as ``inhouse ingest`` skips hidden files in a folder.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

from app.library.staging import PathRefused, clean_relative, new_staging_path

MAX_MEMBERS = 1000  # files in one archive
MAX_RATIO = 100  # uncompressed / compressed bytes, for a member or the whole
RATIO_FLOOR = 1024 * 1024  # below this a member may compress as well as it likes (a page of spaces)
READ = 1024 * 1024


class ArchiveRefused(Exception):
    """The whole archive is refused (a zip bomb, or not readable as a zip); the reason is for the user."""


@dataclass
class Member:
    source: str  # the cleaned path inside the archive (the document's source)
    path: Path | None  # where it was unpacked; None when refused
    size: int
    refused: str | None = None


def is_archive(path: Path) -> bool:
    """A zip that is not an Office document (a DOCX or PPTX is a zip holding ``[Content_Types].xml``)."""
    try:
        if not zipfile.is_zipfile(path):
            return False
        with zipfile.ZipFile(path) as zf:
            return "[Content_Types].xml" not in zf.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def _bomb(text: str) -> ArchiveRefused:
    return ArchiveRefused(f"zip bomb refused: {text}; nothing of the archive was kept")


def _too_inflated(unpacked: int, packed: int) -> bool:
    return unpacked > RATIO_FLOOR and unpacked > MAX_RATIO * max(packed, 1)


def _skipped(name: str) -> bool:
    parts = [p for p in name.replace("\\", "/").split("/") if p]
    return not parts or parts[0] == "__MACOSX" or parts[-1].startswith(".")


def check_directory(zf: zipfile.ZipFile, max_total: int) -> list[zipfile.ZipInfo]:
    """The file members, after the whole-archive checks the central directory allows."""
    infos = [i for i in zf.infolist() if not i.is_dir()]
    if len(infos) > MAX_MEMBERS:
        raise _bomb(f"the archive holds {len(infos):,} files; at most {MAX_MEMBERS:,} are unpacked")
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    if total > max_total:
        raise _bomb(f"it would unpack to {total:,} bytes; the limit is {max_total:,} (INHOUSE_MAX_UNPACKED_BYTES)")
    if _too_inflated(total, packed):
        raise _bomb(f"it would unpack {total:,} bytes from {packed:,}, more than {MAX_RATIO} times")
    for info in infos:
        if _too_inflated(info.file_size, info.compress_size):
            raise _bomb(f"{info.filename[:200]!r} would unpack {info.file_size:,} bytes from "
                        f"{info.compress_size:,}, more than {MAX_RATIO} times")
    ends = sorted((i.header_offset, i.header_offset + i.compress_size) for i in infos)
    for (start_a, end_a), (start_b, _) in zip(ends, ends[1:]):
        if start_b < end_a or start_b == start_a:
            raise _bomb("two members share the same compressed bytes (overlapping entries)")
    return infos


def _member_problem(info: zipfile.ZipInfo, max_member: int) -> str | None:
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "a symbolic link is not unpacked"
    if info.flag_bits & 0x1:
        return "the member is encrypted"
    if info.file_size > max_member:
        return f"the file is larger than the limit of {max_member:,} bytes (INHOUSE_MAX_FILE_BYTES)"
    return None


def unpack(archive: Path, data_dir: Path, max_total: int, max_member: int) -> list[Member]:
    """Every file member staged under a fresh folder of its own, or refused with its reason.

    Raises ``ArchiveRefused`` for a zip bomb or an unreadable archive, after removing
    whatever it had unpacked.
    """
    members: list[Member] = []
    try:
        with zipfile.ZipFile(archive) as zf:
            written_total = 0
            for info in check_directory(zf, max_total):
                if _skipped(info.filename):
                    continue
                try:
                    source = clean_relative(info.filename)
                except PathRefused as exc:
                    members.append(Member(info.filename[:300], None, info.file_size, str(exc)))
                    continue
                problem = _member_problem(info, max_member)
                if problem:
                    members.append(Member(source, None, info.file_size, problem))
                    continue
                member = Member(source, new_staging_path(data_dir, source.rsplit("/", 1)[-1]), 0)
                members.append(member)
                try:
                    with zf.open(info) as src, member.path.open("wb") as out:
                        while block := src.read(READ):
                            member.size += len(block)
                            written_total += len(block)
                            if member.size > info.file_size or _too_inflated(member.size, info.compress_size):
                                raise _bomb(f"{source!r} inflates past what the archive's directory says")
                            if written_total > max_total:
                                raise _bomb(f"it unpacks past {max_total:,} bytes (INHOUSE_MAX_UNPACKED_BYTES)")
                            out.write(block)
                except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError,
                        RuntimeError, ValueError) as exc:
                    _drop(member)
                    member.refused = f"cannot unpack this member: {exc}"
    except ArchiveRefused:
        for member in members:
            _drop(member)
        raise
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        for member in members:
            _drop(member)
        raise ArchiveRefused(f"cannot read the archive: {exc}") from exc
    return members


def _drop(member: Member) -> None:
    if member.path is not None:
        shutil.rmtree(member.path.parent, ignore_errors=True)
        member.path = None
