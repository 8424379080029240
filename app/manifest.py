"""Load a corpus described by a manifest: its groups, users and per-document access.

The manifest is JSON: {"groups": [...], "users": [{"name", "groups", "role"}],
"documents": [{"path", "title", "groups", "owner", "public"}]}, paths relative
to the manifest. Loading twice changes nothing (users and groups that exist
are kept; unchanged files are skipped by ingestion).
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from sqlalchemy import select

from app.directory import add_group, add_user, grant, hash_password
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


def demo_logins(services: Services, manifest_path: Path) -> tuple[list[str], str]:
    """Give the manifest's users who have no password one shared, random demo password.

    For trying the sample corpus in the browser after ``make run``: the password is
    made here, once, and kept in ``<data_dir>/demo-password.txt`` (readable by this
    account only), never shipped in the repository. Users who already have a
    password keep it. Returns the users and the password.
    """
    manifest = json.loads(manifest_path.read_text())
    keep = services.settings.data_dir / "demo-password.txt"
    password = keep.read_text().strip() if keep.exists() else secrets.token_urlsafe(9)
    names = [spec["name"] for spec in manifest.get("users", [])]
    with services.session() as session:
        for user in session.scalars(select(User).where(User.name.in_(names))):
            if not user.password_hash:
                user.password_hash = hash_password(password)
    if not keep.exists():
        keep.write_text(password + "\n")
        keep.chmod(0o600)
    return names, password
