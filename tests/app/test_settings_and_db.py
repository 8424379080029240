"""Settings come from env, TOML and defaults; the schema migrates on SQLite (and PostgreSQL when present)."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from app.db.engine import make_engine, migrate
from app.settings import Settings

TABLES = {"users", "groups", "memberships", "documents", "document_groups", "chunks", "ingest_jobs",
          "index_collections"}


def test_one_data_dir_holds_everything(tmp_path, monkeypatch):
    monkeypatch.setenv("INHOUSE_DATA_DIR", str(tmp_path / "d"))
    s = Settings()
    assert s.database_url == f"sqlite:///{(tmp_path / 'd' / 'inhouse.db').resolve()}"
    assert s.models_dir == tmp_path / "d" / "models"
    assert s.qdrant_dir == tmp_path / "d" / "qdrant" and s.files_dir == tmp_path / "d" / "files"


def test_env_beats_toml_beats_defaults(tmp_path, monkeypatch):
    (tmp_path / "inhouse.toml").write_text('chunk_size = 300\nchunk_overlap = 20\nbm25_language = "german"\n')
    monkeypatch.setenv("INHOUSE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INHOUSE_CHUNK_SIZE", "400")
    s = Settings()
    assert (s.chunk_size, s.chunk_overlap, s.bm25_language) == (400, 20, "german")


def test_server_forms_are_settings(monkeypatch):
    monkeypatch.setenv("INHOUSE_QDRANT_URL", "http://qdrant:6333")
    monkeypatch.setenv("INHOUSE_DATABASE_URL", "postgresql+psycopg://u:p@db/inhouse")
    monkeypatch.setenv("INHOUSE_INDEX_BACKEND", "server")
    s = Settings()
    assert (s.qdrant_url, s.database_url, s.index_backend) == (
        "http://qdrant:6333", "postgresql+psycopg://u:p@db/inhouse", "server")


def test_nonsense_settings_are_refused():
    with pytest.raises(ValueError, match="chunk_overlap"):
        Settings(chunk_size=64, chunk_overlap=64)
    with pytest.raises(ValueError):
        Settings(index_backend="elasticsearch")


def test_migrations_build_the_schema_on_sqlite_and_are_idempotent(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    migrate(engine)
    migrate(engine)
    assert TABLES <= set(inspect(engine).get_table_names())


def test_the_migration_history_has_one_head():
    from alembic.script import ScriptDirectory

    from app.db.engine import MIGRATIONS_DIR, alembic_config

    assert len(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()) == 1, MIGRATIONS_DIR


def _head() -> str:
    from alembic.script import ScriptDirectory

    from app.db.engine import alembic_config

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def test_a_database_made_with_the_two_old_heads_upgrades_and_keeps_its_rows(tmp_path):
    """What every data directory made before the history was joined holds: 0002 and 0003 applied."""
    from alembic import command
    from sqlalchemy import text

    from app.db.engine import alembic_config

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
        command.upgrade(cfg, "0003")
        conn.execute(text("INSERT INTO users (id, name, role, created_at) VALUES (1, 'alice', 'owner', '2026-12-01 00:00:00')"))
    migrate(engine)
    with engine.connect() as conn:
        assert [r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))] == [_head()]
        assert conn.execute(text("SELECT name FROM users")).scalar() == "alice"


def test_users_and_groups_made_before_stable_ids_get_one_each_and_the_database_an_installation_id(tmp_path):
    """0005: existing rows get distinct random uids (what ACL tokens name), the database one installation id."""
    from alembic import command
    from sqlalchemy import text

    from app.db.engine import alembic_config

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004")
        conn.execute(text("INSERT INTO users (id, name, role, created_at) VALUES (1, 'alice', 'owner', '2026-12-01')"))
        conn.execute(text("INSERT INTO groups (id, name, created_at) VALUES (1, 'board', '2026-12-01')"))
        conn.execute(text("INSERT INTO groups (id, name, created_at) VALUES (2, 'everyone', '2026-12-01')"))
        conn.execute(text("INSERT INTO memberships (user_id, group_id, created_at) VALUES (1, 1, '2026-12-01')"))
    migrate(engine)
    with engine.connect() as conn:
        uids = [r[0] for r in conn.execute(text("SELECT uid FROM users UNION ALL SELECT uid FROM groups"))]
        assert len(uids) == len(set(uids)) == 3 and all(len(u) == 36 for u in uids)
        assert conn.execute(text("SELECT count(*) FROM memberships")).scalar() == 1  # nothing cascaded away
        [installation] = conn.execute(text("SELECT value FROM meta WHERE key = 'installation_id'")).scalars()
    assert len(installation) == 36


def test_the_same_migrations_run_on_postgresql(postgres_url):
    engine = make_engine(postgres_url)
    migrate(engine)
    assert TABLES <= set(inspect(engine).get_table_names())
    engine.dispose()


def _migrate_when_released(url: str, start) -> str:
    start.wait()
    try:
        migrate(make_engine(url))
        return "ok"
    except Exception as exc:  # reported to the test, which shows it
        return repr(exc)


def _migrate_from_four_processes_at_once(url: str) -> list[str]:
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # a fresh interpreter each, like four commands
    with context.Manager() as manager:
        start = manager.Barrier(4)
        with context.Pool(4) as pool:
            return pool.starmap(_migrate_when_released, [(url, start)] * 4)


def test_commands_started_together_on_a_fresh_sqlite_database_all_start(tmp_path):
    """Two `inhouse ingest` started together on a new data folder: one failed with
    'table alembic_version already exists' (seen on CI)."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert _migrate_from_four_processes_at_once(url) == ["ok"] * 4
    assert TABLES <= set(inspect(make_engine(url)).get_table_names())


def test_commands_started_together_on_a_fresh_postgresql_database_all_start(postgres_url):
    assert _migrate_from_four_processes_at_once(postgres_url) == ["ok"] * 4
