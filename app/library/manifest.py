"""Load a corpus described by a manifest: its groups, users and per-document access.

The manifest is JSON: {"groups": [...], "users": [{"name", "groups", "role"}],
"documents": [{"path", "title", "groups", "owner", "public"}]}, paths relative
to the manifest. Loading twice changes nothing (users and groups that exist
are kept; unchanged files are skipped by ingestion). Every account write goes
through the account use cases, as the acting `Actor`, like the admin pages.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from sqlalchemy import select

from app.accounts.actions import create_group, create_user, grant_membership, reset_password
from app.accounts.actor import Actor
from app.db.accounts import User
from app.library.ingestion import IngestResult, IngestService
from app.progress import Progress, no_progress
from app.services import Services


def load_manifest(
    services: Services, actor: Actor, manifest_path: Path, progress: Progress = no_progress
) -> list[IngestResult]:
    manifest = json.loads(manifest_path.read_text())
    root = manifest_path.parent
    for name in manifest.get("groups", []):
        create_group(services, actor, name)
    with services.session() as session:
        existing = set(session.scalars(select(User.name)))
    for spec in manifest.get("users", []):
        if spec["name"] not in existing:
            create_user(services, actor, spec["name"], spec.get("role", "employee"))
        for group in spec.get("groups", []):
            create_group(services, actor, group)
            grant_membership(services, actor, group, spec["name"])
    service = IngestService(services)
    registered = []
    for doc in manifest.get("documents", []):
        path = root / doc["path"]
        reg = service.register(
            path, root, doc.get("groups", []), doc.get("owner"), bool(doc.get("public")), doc.get("title")
        )
        registered.append((path, reg))
    return service.run_registered(registered, progress)


def demo_logins(services: Services, actor: Actor, manifest_path: Path) -> tuple[list[str], str]:
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
        without = list(session.scalars(select(User.name).where(User.name.in_(names), User.password_hash.is_(None))))
    for name in without:
        reset_password(services, actor, name, password)
    if not keep.exists():
        keep.write_text(password + "\n")
        keep.chmod(0o600)
    return names, password
