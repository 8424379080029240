"""An index is only ever read with the database that built it (issue 15, leak 3).

The red team's reproduction: the index stays, the database is new (another
``database_url``, an older backup) and its groups were created in another
order, so that a row id that meant ``board`` now means ``everyone``. A member
of ``everyone`` read the board minutes while ``docs list`` showed nothing.
Now such a pairing is refused with what to do, and ACL tokens name random,
never re-issued uids, so even an index read around the refusal matches nobody.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.accounts.actor import Actor
from app.accounts.directory import acl_tokens, add_group, add_user, get_group, get_user
from app.runtime.installation import KEY, IndexBindingError
from app.library.actions import reindex
from app.library.ingestion import IngestService
from retrieval.edge_index import METADATA_FILE
from retrieval.schema import IndexFilter, group_token

REPO = Path(__file__).resolve().parents[2]
MINUTES = "Board minutes: Project Quokka. The board approved the zorblats acquisition. Code BOARDSECRET9042."
QUERY = "zorblats acquisition quokka"


def build_original(make_services, tmp_path: Path, backend: str):
    """The first installation: groups hr, eng, board (board is the third), minutes for the board only."""
    services = make_services(index_backend=backend)
    with services.session() as session:
        for name in ("hr", "eng", "board"):
            add_group(session, name)
        add_user(session, "bob", groups=["board"])
    minutes = tmp_path / "minutes.txt"
    minutes.write_text(MINUTES)
    [result] = IngestService(services).ingest_paths([minutes], ["board"])
    assert result.status == "ready"
    assert search_as(services, "bob"), "the board reads its minutes"
    return services


def search_as(services, user: str) -> list:
    with services.session() as session:
        tokens = acl_tokens(session, get_user(session, user))
    return services.searcher.search(QUERY, tokens, k=10)


def new_database(make_services, tmp_path: Path, backend: str):
    """Same data directory and index, another database whose third group is `everyone`."""
    services = make_services(index_backend=backend, database_url=f"sqlite:///{tmp_path / 'other.db'}")
    with services.session() as session:
        for name in ("contractors", "interns", "everyone"):
            add_group(session, name)
        add_user(session, "sam", groups=["everyone"])
    return services


@pytest.mark.parametrize("backend", ["edge", "server"])
def test_another_database_against_the_same_index_is_refused_and_reads_nothing(make_services, tmp_path, backend):
    build_original(make_services, tmp_path, backend).close()
    other = new_database(make_services, tmp_path, backend)

    with pytest.raises(IndexBindingError) as refused:
        search_as(other, "sam")
    message = str(refused.value)
    assert "belongs to another database" in message
    assert "`inhouse reindex`" in message and "INHOUSE_DATABASE_URL" in message

    # Read around the refusal, sam's tokens still match nothing: they name uids, not row ids.
    raw = other.open_index(bound=False)
    try:
        with other.session() as session:
            sam = acl_tokens(session, get_user(session, "sam"))
        assert raw.count(IndexFilter()) > 0 and raw.count(IndexFilter(acl_tokens=sam)) == 0
    finally:
        raw.close()

    # The fix the message names: rebuild the index from this database (it has no documents).
    assert reindex(other, Actor.operator()) == []
    assert search_as(other, "sam") == []
    assert other.index.count() == 0


def test_an_index_from_before_installation_ids_is_refused_until_reindexed(make_services, tmp_path):
    """Upgrading: points carrying old integer tokens and no installation id are never read as they are."""
    services = build_original(make_services, tmp_path, "edge")
    doc_id = search_as(services, "bob")[0].doc_id
    services.index.set_payload(IndexFilter(doc_ids=[doc_id]), {"acl": ["group:3"]})  # old code's token for board
    marker = services.settings.qdrant_dir / services.settings.collection / METADATA_FILE
    meta = json.loads(marker.read_text())
    del meta[KEY]
    marker.write_text(json.dumps(meta))
    services.close_index()

    with pytest.raises(IndexBindingError, match="built before indexes carried an installation id") as refused:
        search_as(services, "bob")
    assert "`inhouse reindex`" in str(refused.value)

    [result] = reindex(services, Actor.operator())
    assert result.status == "ready"
    hits = search_as(services, "bob")
    assert hits and "BOARDSECRET9042" in hits[0].text
    with services.session() as session:
        board = get_group(session, "board").uid
    assert [h.payload["acl"] for h in services.index.get([hits[0].chunk_id])] == [[group_token(board)]]


def inhouse(env: dict, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *args], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def test_the_cli_and_serve_refuse_another_databases_index(make_services, tmp_path, models_dir):
    services = build_original(make_services, tmp_path, "edge")
    data_dir = services.settings.data_dir
    services.close()
    env = {**os.environ, "INHOUSE_DATA_DIR": str(data_dir), "INHOUSE_MODELS_DIR": str(models_dir), "COLUMNS": "1000",
           "INHOUSE_DATABASE_URL": f"sqlite:///{tmp_path / 'restored.db'}"}
    for group in ("contractors", "interns", "everyone"):
        assert inhouse(env, "groups", "add", group).returncode == 0
    assert inhouse(env, "users", "add", "sam", "--groups", "everyone").returncode == 0

    searched = inhouse(env, "search", QUERY, "--as", "sam", "--json")
    assert searched.returncode == 1 and "BOARDSECRET" not in searched.stdout + searched.stderr
    assert "belongs to another database" in searched.stderr and "inhouse reindex" in searched.stderr

    served = inhouse(env, "serve", "--port", "8791", timeout=120)
    assert served.returncode == 1
    assert "cannot start" in served.stderr and "belongs to another database" in served.stderr
