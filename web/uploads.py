"""Receive a multipart upload as it streams: each file goes straight to its own staging file on
disk, and one that passes the size limit stops being written at that byte.

Starlette's form parser reads the whole body before a route runs (spooling
files to temporary files without a size limit), so the upload route reads the
request stream itself with python-multipart's push parser. Nothing of a file is
held in memory beyond the parser's current chunk; a file over the limit is
dropped from disk at once and the rest of the request is read and thrown away,
so the other files of the batch go on. The CSRF token is checked *before* the
first file byte is written: from the ``X-CSRF-Token`` header (htmx), or from the
form's ``csrf`` field, which the upload form places before its file input.

Writes happen in the parser callbacks, on the event loop: each is one chunk of
the request (tens of KB), so the loop is never held for long.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from app.accounts.sessions import SessionUser, csrf_matches
from app.errors import Invalid
from app.library.uploads import PathRefused, StagedFile, clean_relative, discard, new_staging_path, safe_name
from web.deps import CsrfFailed

MAX_FIELD_BYTES = 64 * 1024  # all the form's text fields together
MAX_FILES = 1000


@dataclass
class UploadForm:
    fields: dict[str, list[str]]
    files: list[StagedFile] = field(default_factory=list)

    def one(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[0] if values else default


def too_large(limit: int) -> str:
    return f"the file is larger than the limit of {limit:,} bytes (INHOUSE_MAX_FILE_BYTES); nothing of it was kept"


class _Receiver:
    def __init__(self, user: SessionUser, header_csrf: str | None, data_dir: Path, limit: int) -> None:
        self.user, self.data_dir, self.limit = user, data_dir, limit
        self.csrf_ok = csrf_matches(user.csrf, header_csrf)
        self.form = UploadForm(defaultdict(list))
        self.field_bytes = 0
        self._reset()

    def _reset(self) -> None:
        self.header_name, self.header_value, self.disposition = b"", b"", b""
        self.name: str | None = None
        self.filename: str | None = None
        self.value = bytearray()
        self.file: StagedFile | None = None
        self.handle = None

    # python-multipart callbacks
    def on_part_begin(self) -> None:
        self._reset()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        if self.header_name.lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_name, self.header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        self.name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" not in options:
            return
        self.filename = options[b"filename"].decode("utf-8", "replace")
        if not self.csrf_ok:  # before any byte of any file touches the disk
            self.csrf_ok = csrf_matches(self.user.csrf, self.form.one("csrf") or None)
            if not self.csrf_ok:
                raise CsrfFailed("the form expired or came from another site; reload the page and try again")
        if not self.filename:  # a file input left empty sends a nameless, empty part
            return
        if len(self.form.files) >= MAX_FILES:
            raise Invalid(f"at most {MAX_FILES} files in one upload")
        try:  # a file from a chosen folder is named by its path in it (folder/sub/file.md)
            source = clean_relative(self.filename)
        except PathRefused as exc:  # never written: read and thrown away
            self.file = StagedFile(self.filename[:300], None, 0, refused=str(exc))
            self.form.files.append(self.file)
            return
        path = new_staging_path(self.data_dir, self.filename)
        self.file = StagedFile(safe_name(self.filename), path, 0, source=source if "/" in source else None)
        self.form.files.append(self.file)
        self.handle = path.open("wb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        n = end - start
        if self.filename is None:
            self.field_bytes += n
            if self.field_bytes > MAX_FIELD_BYTES:
                raise Invalid("the form's fields are too long")
            self.value += data[start:end]
            return
        item = self.file
        if item is None or item.refused:
            return  # read and thrown away
        item.size += n
        if item.size > self.limit:
            self.handle.close()
            self.handle = None
            discard(item)
            item.path, item.refused = None, too_large(self.limit)
            return
        self.handle.write(data[start:end])

    def on_part_end(self) -> None:
        if self.filename is None and self.name is not None:
            self.form.fields[self.name].append(self.value.decode("utf-8", "replace"))
        if self.handle is not None:
            self.handle.close()
            self.handle = None

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


async def receive_upload(request: Request, user: SessionUser, data_dir: Path, limit: int) -> UploadForm:
    """The form's fields and its files staged on disk (or refused), CSRF checked before the first file."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in params:
        raise Invalid("send the files as multipart/form-data")
    receiver = _Receiver(user, request.headers.get("X-CSRF-Token"), data_dir, limit)
    callbacks = {name: getattr(receiver, name) for name in (
        "on_part_begin", "on_part_data", "on_part_end", "on_header_field", "on_header_value", "on_header_end",
        "on_headers_finished")}
    parser = MultipartParser(params[b"boundary"], callbacks)
    try:
        try:
            async for chunk in request.stream():
                parser.write(chunk)
            parser.finalize()
        except FormParserError as exc:
            raise Invalid("the upload was not valid multipart data") from exc
        if not receiver.csrf_ok and not csrf_matches(user.csrf, receiver.form.one("csrf") or None):
            raise CsrfFailed("the form expired or came from another site; reload the page and try again")
    except BaseException:
        receiver.close()
        for item in receiver.form.files:
            discard(item)
        raise
    finally:
        receiver.close()
    return receiver.form
