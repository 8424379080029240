"""Files uploaded in the browser become documents through the same registration as ``inhouse ingest``.

The web layer streams each file to a staging folder of its own under the data
directory (``app.library.staging``), refusing one over the size limit while it
streams. Here a zip that is not an Office file is unpacked into staged files of
its own, one per member, with its path in the archive as the document's source
(``app.library.archives``: a zip bomb refuses the archive, a bad member is refused
alone). A folder chosen in the browser arrives as files whose names carry their
relative paths, kept as the source the same way. Each staged file is checked
before any work (empty, a type we cannot read: ``ingest.sniff``) and the good
ones are registered with the access the uploader may grant
(``app.library.scope.check_grant``); registration copies the original into the
content-addressed store and queues its ingestion job in SQL, which the job
runner (the worker) picks up. A refused file is reported with its reason and the
rest go on. Every staged copy is removed whatever happens, so an upload leaves
its bytes only where a delete will find them.

Each upload is a new document (its own staging path is its identity), so an
upload can never take over, regroup or replace someone else's document.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from app.accounts.actor import Actor
from app.library.archives import ArchiveRefused, is_archive, unpack
from app.library.ingestion import IngestService
from app.library.scope import acting_user, check_grant
from app.services import Services
from ingest.errors import IngestError
from ingest.sniff import sniff
from app.library.staging import PathRefused, clean_relative, new_staging_path, safe_name, staging_dir

__all__ = ["PathRefused", "StagedFile", "UploadOutcome", "clean_relative", "discard", "new_staging_path",
           "safe_name", "staging_dir", "upload_documents"]


@dataclass
class StagedFile:
    name: str  # the file's (safe) name
    path: Path | None  # where it was streamed to; None when nothing of it was kept
    size: int
    refused: str | None = None  # why it was refused while streaming
    source: str | None = None  # its path in the folder or archive it came from (``clean_relative``)


@dataclass(frozen=True)
class UploadOutcome:
    name: str
    status: str  # queued | unchanged | refused | failed | unpacked (an archive: its members follow)
    doc_id: str | None
    reason: str | None
    archive: str | None = None  # the archive a member came from


def discard(staged: StagedFile) -> None:
    if staged.path is not None:
        shutil.rmtree(staged.path.parent, ignore_errors=True)


def upload_documents(
    services: Services, actor: Actor, staged: list[StagedFile], groups: list[str], owner: str | None,
    public: bool,
) -> list[UploadOutcome]:
    """Register the good files with this access (checked first: a grant the actor may not give refuses
    the whole upload) and queue their jobs; each bad file is refused with its reason."""
    try:
        with services.session() as session:
            grant = check_grant(session, acting_user(session, actor), groups, owner, public)
        outcomes = []
        ingest = IngestService(services, requested_by=actor.name)
        for item in staged:
            if not item.refused and item.path is not None and is_archive(item.path):
                outcomes.extend(_archive(services, ingest, item, grant))
            else:
                outcomes.append(_one(services, ingest, item, grant.groups, grant.owner, grant.public))
            discard(item)
        return outcomes
    finally:
        for item in staged:
            discard(item)


def _archive(services: Services, ingest: IngestService, item: StagedFile, grant) -> list[UploadOutcome]:
    """An uploaded zip: one outcome for the archive (unpacked, or refused as a whole), then one per member."""
    settings = services.settings
    try:
        members = unpack(item.path, settings.data_dir, settings.max_unpacked_bytes, settings.max_file_bytes)
    except ArchiveRefused as exc:
        return [UploadOutcome(item.name, "refused", None, str(exc))]
    outcomes = [UploadOutcome(item.name, "unpacked", None, f"{len(members)} file(s)")]
    try:
        for m in members:
            staged = StagedFile(m.source.rsplit("/", 1)[-1], m.path, m.size, m.refused, m.source)
            outcome = _one(services, ingest, staged, grant.groups, grant.owner, grant.public)
            outcomes.append(UploadOutcome(m.source, outcome.status, outcome.doc_id, outcome.reason,
                                          item.name))
            discard(staged)
    finally:
        for m in members:
            if m.path is not None:
                shutil.rmtree(m.path.parent, ignore_errors=True)
    return outcomes


def _one(services: Services, ingest: IngestService, item: StagedFile, groups, owner, public) -> UploadOutcome:
    shown = item.source or item.name
    if item.refused or item.path is None:
        return UploadOutcome(shown, "refused", None, item.refused or "the file did not arrive")
    try:
        sniff(item.path, services.settings.max_unpacked_bytes, item.name)
    except IngestError as exc:
        return UploadOutcome(shown, "refused", None, str(exc))
    except OSError as exc:
        return UploadOutcome(shown, "refused", None, f"cannot read the file: {exc.strerror or exc}")
    reg = ingest.register(item.path, item.path.parent, groups, owner, public, source=item.source)
    doc = reg.document
    return UploadOutcome(shown, reg.outcome, doc.id, doc.error if reg.outcome == "failed" else None)
