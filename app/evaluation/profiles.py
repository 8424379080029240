"""A collection's search profile changed on purpose: applied from a tune run, restored, and on record.

The profile decides how every search of a collection ranks (fusion, weights,
candidates, re-ranking), so changing it is an administrative act: each change is
one ``SearchProfileChange`` row written in the same transaction as the profile
(who, when, from which run, the profile before and after), and each can be taken
back. "Restore previous profile" undoes the latest change not yet undone, like an
undo stack: two restores after two applies give back the profile before both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.actor import Actor
from app.db.evaluation import EvalRun, SearchProfileChange
from app.db.library import IndexCollection
from app.errors import Conflict, Invalid, NotFound
from app.services import Services
from retrieval.profile import SearchProfile


@dataclass(frozen=True)
class ProfileChange:
    id: int
    changed_at: datetime
    changed_by: str
    action: str
    before: str  # described, e.g. "hybrid weighted α=0.6 c=100"
    after: str
    run_id: int | None
    undone: bool


def describe(profile: dict | None) -> str:
    from eval.tune import describe as describe_profile

    return describe_profile(SearchProfile.from_dict(profile))


def _collection(session: Session, name: str) -> IndexCollection:
    row = session.get(IndexCollection, name)
    if row is None:
        raise NotFound(f"no collection {name!r}: it was dropped since the run, or never built")
    return row


def _last_apply(session: Session, collection: str) -> SearchProfileChange | None:
    """The latest applied profile not yet undone: what a restore takes back."""
    return session.scalars(
        select(SearchProfileChange)
        .where(SearchProfileChange.collection == collection, SearchProfileChange.action == "apply",
               SearchProfileChange.reverted_by.is_(None))
        .order_by(SearchProfileChange.id.desc()).limit(1)
    ).first()


def _set(session: Session, actor: Actor, row: IndexCollection, after: dict | None,
         action: str, run_id: int | None = None) -> SearchProfileChange:
    change = SearchProfileChange(changed_by=actor.name, collection=row.name, action=action,
                                 before=row.search_profile, after=after, run_id=run_id)
    row.search_profile = after
    session.add(change)
    session.flush()
    return change


def set_profile(services: Services, actor: Actor, collection: str, profile: SearchProfile,
                run_id: int | None = None) -> int:
    """Make ``profile`` the collection's search profile, on record; returns the change's id."""
    with services.session() as session:
        change = _set(session, actor, _collection(session, collection), profile.as_dict(), "apply", run_id)
        change_id = change.id
    services.refresh_search_profile(collection)
    return change_id


def run_collection(services: Services, run_id: int) -> str:
    with services.session() as session:
        run = session.get(EvalRun, run_id)
        if run is None:
            raise NotFound(f"no stored run {run_id}")
        return run.collection


def apply_tuned(services: Services, actor: Actor, run_id: int) -> dict:
    """The profile a tune run chose, set on the collection it was tuned on."""
    with services.session() as session:
        run = session.get(EvalRun, run_id)
        if run is None:
            raise NotFound(f"no stored run {run_id}")
        chosen = (run.settings or {}).get("tuned_profile")
        if run.kind != "tune" or chosen is None:
            raise Invalid(f"run {run_id} is not a tune run: only a tune run's chosen profile can be applied")
        collection = run.collection
        current = SearchProfile.from_dict(_collection(session, collection).search_profile)
        if current.as_dict() == SearchProfile.from_dict(chosen).as_dict():
            raise Conflict(f"the collection {collection} already searches with this profile")
    change = set_profile(services, actor, collection, SearchProfile.from_dict(chosen), run_id)
    return {"collection": collection, "change_id": change, "profile": describe(chosen)}


def restore_previous(services: Services, actor: Actor, collection: str) -> dict:
    """Put back the profile the latest change (not yet undone) replaced; the restore is on record too."""
    with services.session() as session:
        row = _collection(session, collection)
        last = _last_apply(session, collection)
        if last is None:
            raise Conflict(f"the collection {collection} has no applied profile left to undo")
        restore = _set(session, actor, row, last.before, "restore")
        restore.reverted, last.reverted_by = last.id, restore.id
        out = {"collection": collection, "change_id": restore.id, "profile": describe(last.before)}
    services.refresh_search_profile(collection)
    return out


def history(services: Services, collection: str, limit: int = 20) -> list[ProfileChange]:
    """The collection's profile changes, newest first."""
    with services.session() as session:
        rows = session.scalars(
            select(SearchProfileChange).where(SearchProfileChange.collection == collection)
            .order_by(SearchProfileChange.id.desc()).limit(limit)
        ).all()
        return [ProfileChange(r.id, r.changed_at, r.changed_by, r.action, describe(r.before), describe(r.after),
                              r.run_id, r.reverted_by is not None) for r in rows]


def can_restore(services: Services, collection: str) -> str | None:
    """The profile "Restore previous profile" would put back (described), or None when nothing is left to undo."""
    with services.session() as session:
        last = _last_apply(session, collection)
        return None if last is None else describe(last.before)
