"""A BEIR data set uploaded from the browser as a zip: unpacked safely, validated, then offered.

The zip is checked for bombs with the library's archive checks (``app.library.archives``:
member count, total size, inflation ratio, overlapping entries, from the central directory
and again while unpacking). Only the set's files are unpacked (``corpus.jsonl``,
``queries.jsonl``, ``qrels/test.tsv``, optional ``answers.jsonl``, at the top or under
one folder); any member with an absolute path or ``..`` refuses the whole upload (a data
set is one thing: nothing of a doubtful archive is kept). The unpacked folder is then
validated (``eval.beir.validate_beir``: ids unique, judgments pointing at queries and
documents that exist, size limits), refused if its corpus holds this installation's own
documents (``org_data.refuse_organisation_corpus``: they would become a public eval
collection), and only then renamed into ``<data_dir>/datasets/<name>``.
"""

from __future__ import annotations

import re
import shutil
import uuid
import zipfile
from pathlib import Path

from app.accounts.actor import Actor
from app.errors import Conflict, Invalid
from app.evaluation.background import DATASETS_DIR
from app.library.archives import ArchiveRefused, check_directory
from app.library.staging import PathRefused, clean_relative
from app.services import Services
from eval.beir import FILES, DatasetError, Limits, load_beir, validate_beir

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
WORK_DIR = "eval-uploads"
READ = 1024 * 1024


class DatasetRefused(Invalid):
    code = "dataset_refused"


def _refuse(text: str) -> DatasetRefused:
    return DatasetRefused(f"The data set was refused: {text}")


def _wanted(names: list[str]) -> dict[str, str]:
    """Set file (``qrels/test.tsv``, …) -> member name, at the top or under one common folder."""
    for prefix in ("", *sorted({n.split("/", 1)[0] + "/" for n in names if "/" in n})):
        found = {f: prefix + f for f in FILES if prefix + f in names}
        if all(f in found for f in FILES[:3]):
            return found
    present = {n.rsplit("/", 1)[-1] for n in names}
    missing = [f for f in FILES[:3] if f.rsplit("/", 1)[-1] not in present]
    raise _refuse(f"missing {', '.join(missing) or 'corpus.jsonl, queries.jsonl and qrels/test.tsv side by side'} "
                  "(a BEIR zip holds corpus.jsonl, queries.jsonl and qrels/test.tsv, at the top or in one folder)")


def _unpack(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], wanted: dict[str, str], into: Path,
            max_total: int, max_member: int) -> None:
    by_name = {i.filename.replace("\\", "/"): i for i in infos}
    total = 0
    for target, member in wanted.items():
        info = by_name[member]
        if info.flag_bits & 0x1:
            raise _refuse(f"{member!r} is encrypted")
        if info.file_size > max_member:
            raise _refuse(f"{member!r} is larger than the limit of {max_member:,} bytes (INHOUSE_MAX_FILE_BYTES)")
        path = into / target
        path.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        try:
            with zf.open(info) as src, path.open("wb") as out:
                while block := src.read(READ):
                    written += len(block)
                    total += len(block)
                    if written > info.file_size:
                        raise _refuse(f"zip bomb: {member!r} inflates past what the archive's directory says")
                    if total > max_total:
                        raise _refuse(f"zip bomb: it unpacks past {max_total:,} bytes (INHOUSE_MAX_UNPACKED_BYTES)")
                    out.write(block)
        except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
            if isinstance(exc, DatasetRefused):
                raise
            raise _refuse(f"cannot unpack {member!r}: {exc}") from None


def import_zip(services: Services, actor: Actor, archive: Path, name: str, limits: Limits = Limits()) -> dict:
    """Unpack, validate and offer ``archive`` as data set ``name``; its counts. Nothing is kept when refused."""
    name = (name or "").strip().lower()
    if not NAME.match(name):
        raise _refuse("the name is 1 to 64 lower-case letters, digits, '.', '_' or '-', starting with a letter "
                      "or digit")
    settings = services.settings
    root = settings.data_dir / DATASETS_DIR
    if (root / name).exists():
        raise Conflict(f"a data set named {name!r} already exists; choose another name")
    work = settings.data_dir / WORK_DIR / uuid.uuid4().hex
    work.mkdir(parents=True, mode=0o700)
    try:
        try:
            with zipfile.ZipFile(archive) as zf:
                infos = check_directory(zf, settings.max_unpacked_bytes)
                names = []
                for info in infos:
                    try:
                        clean_relative(info.filename)
                    except PathRefused as exc:
                        raise _refuse(f"a member's path is not allowed: {exc}") from None
                    names.append(info.filename.replace("\\", "/"))
                _unpack(zf, infos, _wanted(names), work, settings.max_unpacked_bytes, settings.max_file_bytes)
        except ArchiveRefused as exc:
            raise _refuse(str(exc)) from None
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
            raise _refuse(f"not a readable zip ({exc.__class__.__name__})") from None
        try:
            counts = validate_beir(work, limits)
            dataset = load_beir(work)
        except DatasetError as exc:
            raise _refuse(str(exc)) from None
        from app.evaluation.org_data import OrganisationDataError, refuse_organisation_corpus

        try:
            refuse_organisation_corpus(services, dataset)
        except OrganisationDataError:
            raise _refuse("its corpus holds documents of this installation, which an eval collection would make "
                          "readable by everyone; evaluate the organisation's documents with its own set") from None
        root.mkdir(parents=True, exist_ok=True)
        try:
            work.rename(root / name)
        except OSError:
            raise Conflict(f"a data set named {name!r} already exists; choose another name") from None
        return {"name": name, **counts, "uploaded_by": actor.name}
    finally:
        shutil.rmtree(work, ignore_errors=True)
