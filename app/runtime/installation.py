"""One installation id binds an index to the database whose access it carries.

The index's ``acl`` tokens mean something only next to the database that
issued them: paired with another database (a new ``database_url``, a restored
backup), the same tokens could name other people (issue 15, leak 3). So the
database holds a random ``installation_id`` (``meta`` table, made by migration
0005) and every collection records the same id in its metadata (the Edge
shard's ``inhouse-metadata.json``, a server collection's metadata). Opening a
collection that carries another id, or holds points and no id at all (built
before ids existed), is refused; nothing of it is read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from app.errors import Conflict
from app.db.base import Meta, new_uid

if TYPE_CHECKING:
    from retrieval.index import VectorIndex

KEY = "installation_id"


class IndexBindingError(Conflict):
    """The index was built by another installation (or before installations had ids)."""

    code = "index_of_another_database"


def installation_id(session: Session) -> str:
    """This database's id: made by migration 0005, or here for a database that somehow lacks it."""
    row = session.get(Meta, KEY)
    if row is None:
        row = Meta(key=KEY, value=new_uid())
        session.add(row)
        session.flush()
    return row.value


REINDEX = "`inhouse reindex`"


def check_binding(
    index: "VectorIndex", installation: str, where: str, database: str, rebuild: str = REINDEX,
) -> None:
    """Refuse an index that another database built, or that holds points and no installation id.

    An index with no points and no id is new: ``stamp`` marks it once it exists. ``rebuild`` is
    the command that rebuilds this collection from this database (an eval collection's differs).
    """
    if not index.exists():
        return
    carried = index.metadata().get(KEY)
    if carried == installation:
        return
    if carried is None:
        if index.count() == 0:
            return
        raise IndexBindingError(
            f"the index at {where} was built before indexes carried an installation id, so nothing proves "
            f"it belongs to the database at {database} (its access tokens may name other people there). "
            f"Rebuild it from this database: {rebuild}."
        )
    raise IndexBindingError(
        f"the index at {where} belongs to another database (installation {carried}); the database at "
        f"{database} is installation {installation}. Its access tokens would name other people here, so "
        "it is not opened. Point database_url (INHOUSE_DATABASE_URL) back to the database that built it, "
        f"or rebuild the index from this database: {rebuild}."
    )


def stamp(index: "VectorIndex", installation: str) -> None:
    """Record this installation's id with a collection that exists and has none yet."""
    if index.exists() and index.metadata().get(KEY) is None:
        index.set_metadata({KEY: installation})
