"""Load a corpus described by a manifest: its groups, users and per-document access.

The manifest is JSON: {"groups": [...], "users": [{"name", "groups", "role"}],
"documents": [{"path", "title", "groups", "owner", "public"}]}, paths relative
to the manifest. Loading twice changes nothing (users and groups that exist
are kept; unchanged files are skipped by ingestion).
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from app.directory import add_group, add_user, grant
from app.ingestion import IngestResult, IngestService
from app.progress import Progress, no_progress
from app.services import Services
from app.tables import User


def load_manifest(services: Services, manifest_path: Path, progress: Progress = no_progress) -> list[IngestResult]:
    manifest = json.loads(manifest_path.read_text())
    root = manifest_path.parent
    with services.session() as session:
        for name in manifest.get("groups", []):
            add_group(session, name)
        for spec in manifest.get("users", []):
            if session.scalar(select(User).where(User.name == spec["name"])) is None:
                add_user(session, spec["name"], spec.get("role", "employee"))
            for group in spec.get("groups", []):
                grant(session, group, spec["name"], create_group=True)
    service = IngestService(services)
    registered = []
    for doc in manifest.get("documents", []):
        path = root / doc["path"]
        reg = service.register(
            path, root, doc.get("groups", []), doc.get("owner"), bool(doc.get("public")), doc.get("title")
        )
        registered.append((path, reg))
    return service.run_registered(registered, progress)
