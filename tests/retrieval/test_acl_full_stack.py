"""The access rule end to end: real files ingested with groups and owners, real models, every mode."""

from __future__ import annotations

import json

import pytest

from app.accounts.directory import acl_tokens, add_group, add_user, get_user, revoke
from app.library.ingestion import IngestService
from retrieval.profile import MODES

FILES = {
    "hr-salary-bands.md": ("# Salary bands\n\nThe salary bands for engineers are reviewed every April. "
                           "Band four starts at 720,000 kroner a year.", {"groups": ["hr"]}),
    "eng-gripper-calibration.txt": ("Calibrating the gripper: zero the torque sensor, then run the jaw test "
                                    "three times. Salary questions go to HR.", {"groups": ["eng"]}),
    "canteen-menu.txt": ("The canteen serves soup on Mondays and a salary-day cake on the 25th.", {"public": True}),
    "alice-notes.txt": ("Alice's private notes about her salary negotiation and the gripper project.",
                        {"owner": "alice"}),
}
READERS = {  # who may read which file, by the rule (public, owner, shared group)
    "alice": {"hr-salary-bands.md", "canteen-menu.txt", "alice-notes.txt"},
    "bob": {"eng-gripper-calibration.txt", "canteen-menu.txt"},
    "carol": {"canteen-menu.txt"},  # in no group
    "dave": {"hr-salary-bands.md", "eng-gripper-calibration.txt", "canteen-menu.txt"},
}
QUERIES = ["salary bands", "gripper torque calibration", "private notes", "canteen soup", "salary"]


@pytest.fixture
def org(services, tmp_path):
    with services.session() as session:
        for g in ("hr", "eng"):
            add_group(session, g)
        add_user(session, "alice", groups=["hr"])
        add_user(session, "bob", groups=["eng"])
        add_user(session, "carol")
        add_user(session, "dave", groups=["hr", "eng"])
    ingest = IngestService(services)
    sources = {}
    for name, (text, access) in FILES.items():
        path = tmp_path / "docs" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        [result] = ingest.ingest_paths([path], access.get("groups", []), access.get("owner"), access.get("public", False))
        assert result.status == "ready" and result.chunks >= 1, result
        sources[result.id] = name
    return services, sources


def search_as(services, user: str, query: str, mode: str, k: int = 10):
    with services.session() as session:
        tokens = acl_tokens(session, get_user(session, user))
    return services.searcher.search(query, tokens, k=k, mode=mode)


def test_every_mode_shows_each_user_only_what_they_may_read(org):
    services, sources = org
    for user, allowed in READERS.items():
        seen = set()
        for query in QUERIES:
            for mode in MODES:
                for k in (1, 10):
                    found = {sources[h.doc_id] for h in search_as(services, user, query, mode, k)}
                    assert found <= allowed, (user, query, mode, found - allowed)
                    seen |= found
        assert seen == allowed, f"{user} should find every document they may read"


def test_revoking_a_membership_hides_the_groups_documents_at_once(org):
    services, sources = org
    assert "eng-gripper-calibration.txt" in {sources[h.doc_id] for h in search_as(services, "dave", "gripper", "hybrid")}
    with services.session() as session:
        revoke(session, "eng", "dave")
    for mode in MODES:
        found = {sources[h.doc_id] for h in search_as(services, "dave", "gripper torque calibration", mode)}
        assert "eng-gripper-calibration.txt" not in found


def test_the_search_command_applies_the_same_rule(org, monkeypatch):
    from typer.testing import CliRunner

    from app.cli import app

    services, sources = org
    monkeypatch.setenv("INHOUSE_DATA_DIR", str(services.settings.data_dir))
    monkeypatch.setenv("INHOUSE_MODELS_DIR", str(services.settings.models_dir))
    services.close()  # the CLI opens the embedded index itself
    result = CliRunner().invoke(app, ["search", "salary", "--as", "carol", "--json"])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)["hits"]
    assert hits and {sources[h["doc_id"]] for h in hits} == {"canteen-menu.txt"}
