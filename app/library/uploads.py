"""Files uploaded in the browser become documents through the same registration as ``inhouse ingest``.

The web layer streams each file to a staging folder of its own under the data
directory (``staging_dir``), refusing one over the size limit while it streams.
Here each staged file is checked before any work (empty, a type we cannot read,
a zip bomb: ``ingest.sniff``) and the good ones are registered with the access
the uploader may grant (``app.library.scope.check_grant``); registration copies
the original into the content-addressed store and queues its ingestion job in
SQL, which the job runner (the worker) picks up. A refused file is reported with
its reason and the rest go on. Every staged copy is removed whatever happens,
so an upload leaves its bytes only where a delete will find them.

Each upload is a new document (its own staging path is its identity), so an
upload can never take over, regroup or replace someone else's document.
"""

from __future__ import annotations

import re
import shutil
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path

from app.accounts.actor import Actor
from app.library.ingestion import IngestService
from app.library.scope import acting_user, check_grant
from app.services import Services
from ingest.errors import IngestError
from ingest.sniff import sniff

UNSAFE = re.compile(r"[^\w.\- ()+,]+", re.UNICODE)


def staging_dir(data_dir: Path) -> Path:
    return data_dir / "uploads"


def safe_name(given: str) -> str:
    """A file name without folders, control characters or leading dots (the browser's name is untrusted)."""
    name = unicodedata.normalize("NFC", given or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = UNSAFE.sub("_", name).strip(" .")[:180]
    return name or "upload"


def new_staging_path(data_dir: Path, name: str) -> Path:
    """A fresh folder for one uploaded file, so two uploads of one name never meet."""
    folder = staging_dir(data_dir) / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=False)
    return folder / safe_name(name)


@dataclass
class StagedFile:
    name: str  # the file's (safe) name
    path: Path | None  # where it was streamed to; None when nothing of it was kept
    size: int
    refused: str | None = None  # why it was refused while streaming


@dataclass(frozen=True)
class UploadOutcome:
    name: str
    status: str  # queued | unchanged | refused | failed
    doc_id: str | None
    reason: str | None


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
        ingest = IngestService(services)
        for item in staged:
            outcomes.append(_one(services, ingest, item, grant.groups, grant.owner, grant.public))
            discard(item)
        return outcomes
    finally:
        for item in staged:
            discard(item)


def _one(services: Services, ingest: IngestService, item: StagedFile, groups, owner, public) -> UploadOutcome:
    if item.refused or item.path is None:
        return UploadOutcome(item.name, "refused", None, item.refused or "the file did not arrive")
    try:
        sniff(item.path, services.settings.max_unpacked_bytes, item.name)
    except IngestError as exc:
        return UploadOutcome(item.name, "refused", None, str(exc))
    except OSError as exc:
        return UploadOutcome(item.name, "refused", None, f"cannot read the file: {exc.strerror or exc}")
    reg = ingest.register(item.path, item.path.parent, groups, owner, public)
    doc = reg.document
    return UploadOutcome(item.name, reg.outcome, doc.id, doc.error if reg.outcome == "failed" else None)
