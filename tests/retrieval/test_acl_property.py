"""Security property: no search ever returns a passage of a document the reader may not read.

Hypothesis generates groups, users with random memberships, documents with
random group sets, owners and public flags, and random queries; every user
searches in every mode, at random k, with random metadata filters (some of
them trying to smuggle ACL tokens in). The oracle is the rule itself, computed
from the generated world — never from the tokens under test: a document is
readable iff it is public, owned by the reader, or shares a group with them.
The same holds for a user in no group and for a user whose membership was
revoked a moment ago. Points are written straight into the index with small
pseudo-random vectors (the encoder is not what this is about); the access
data goes through the real directory and ``document_acl``.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from app.accounts.directory import acl_tokens, add_group, add_user, get_user, grant, revoke
from app.library.documents import document_acl, new_document, set_access
from retrieval.profile import MODES
from retrieval.schema import IndexFilter
from tests.retrieval.worlds import VOCAB, Doc, searcher, write_docs

WORDS = VOCAB[:12]
TYPES = ("pdf", "md", "docx")
_counter = itertools.count()

doc_spec = st.fixed_dictionaries({
    "groups": st.sets(st.integers(0, 3), max_size=3),
    "owner": st.one_of(st.none(), st.integers(0, 3)),
    "public": st.booleans(),
    "type": st.sampled_from(TYPES),
    "month": st.integers(1, 12),
    "chunks": st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=6).map(" ".join), min_size=1, max_size=3),
})
world_spec = st.fixed_dictionaries({
    "groups": st.integers(1, 4),
    "users": st.lists(st.sets(st.integers(0, 3), max_size=3), min_size=1, max_size=4),
    "docs": st.lists(doc_spec, min_size=1, max_size=8),
})
search_spec = st.fixed_dictionaries({
    "query": st.lists(st.sampled_from([*WORDS, "the", "zzz"]), min_size=1, max_size=4).map(" ".join),
    "mode": st.sampled_from(MODES),
    "k": st.integers(1, 25),
    "filter": st.sampled_from(["none", "type", "owner", "title", "dates", "smuggle"]),
    "pick": st.integers(0, 3),
})


class World:
    """The generated world written to the database and the index; knows who may read what."""

    def __init__(self, services, spec, encoder, bm25, index=None) -> None:
        n = next(_counter)
        self.services, self.spec = services, spec
        self.groups = [f"w{n}g{i}" for i in range(spec["groups"])]
        self.users = [f"w{n}u{j}" for j in range(len(spec["users"]))] + [f"w{n}nobody"]
        self.memberships = {
            u: {self.groups[g] for g in gs if g < len(self.groups)} for u, gs in zip(self.users, spec["users"])
        }
        self.memberships[self.users[-1]] = set()  # a user in no group at all
        self.doc_readers: dict[str, dict] = {}
        docs = []
        with services.session() as session:
            for g in self.groups:
                add_group(session, g)
            for u in self.users:
                add_user(session, u, groups=sorted(self.memberships[u]))
            for i, d in enumerate(spec["docs"]):
                groups = sorted({self.groups[g] for g in d["groups"] if g < len(self.groups)})
                owner = self.users[d["owner"]] if d["owner"] is not None and d["owner"] < len(self.users) else None
                row = new_document(f"/w{n}/doc{i}.{d['type']}", f"doc{i}.{d['type']}")
                session.add(row)
                set_access(session, row, groups, owner, d["public"])
                session.flush()
                self.doc_readers[row.id] = {"groups": set(groups), "owner": owner, "public": d["public"]}
                docs.append(Doc(row.id, d["chunks"], {
                    "acl": document_acl(row), "groups": groups, "owner": owner, "doc_type": d["type"],
                    "source": row.source, "title": f"{d['type']} {d['chunks'][0]}",
                    "created_at": datetime(2026, d["month"], 1, tzinfo=timezone.utc).isoformat(),
                }))
        self.owns_index = index is None
        self.index = services.open_index(f"acl{n}") if index is None else index
        write_docs(self.index, docs, encoder, bm25)
        self.searcher = searcher(self.index, encoder, bm25)

    def may_read(self, user: str, doc_id: str) -> bool:
        rule = self.doc_readers[doc_id]
        return rule["public"] or rule["owner"] == user or bool(rule["groups"] & self.memberships[user])

    def tokens(self, user: str) -> list[str]:
        with self.services.session() as session:
            return acl_tokens(session, get_user(session, user))

    def where(self, s: dict) -> IndexFilter | None:
        kind = s["filter"]
        if kind == "type":
            return IndexFilter(doc_types=[TYPES[s["pick"] % len(TYPES)]])
        if kind == "owner":
            return IndexFilter(owners=[self.users[s["pick"] % len(self.users)]])
        if kind == "title":
            return IndexFilter(title=WORDS[s["pick"]])
        if kind == "dates":
            return IndexFilter(created_from=datetime(2026, 1 + s["pick"] * 3, 1, tzinfo=timezone.utc),
                               created_to=datetime(2026, 12, 31, tzinfo=timezone.utc))
        if kind == "smuggle":  # a filter naming every token of this world must not widen access
            if not hasattr(self, "every_token"):
                self.every_token = sorted({t for u in self.users for t in self.tokens(u)})
            return IndexFilter(acl_tokens=self.every_token)
        return None

    def check(self, user: str, searches: list[dict], tokens: list[str] | None = None) -> None:
        tokens = self.tokens(user) if tokens is None else tokens
        readable = [d for d in self.doc_readers if self.may_read(user, d)]
        for s in searches:
            hits = self.searcher.search(s["query"], tokens, k=s["k"], mode=s["mode"], where=self.where(s))
            leaked = [h.doc_id for h in hits if not self.may_read(user, h.doc_id)]
            assert not leaked, f"{user} saw {leaked} ({s})"
            assert len(hits) <= s["k"]
            if s["mode"] == "dense" and s["filter"] in ("none", "smuggle") and readable:
                assert hits, "a reader with readable documents finds something (the test is not vacuous)"

    def close(self) -> None:
        if self.owns_index:
            self.index.drop()
            self.index.close()
        else:  # a shared collection: take this world's documents out again
            self.index.delete(IndexFilter(doc_ids=list(self.doc_readers)))
            assert self.index.count() == 0


def _property(services, encoder, bm25, spec, searches, revoke_pick):
    world = World(services, spec, encoder, bm25, _shared_index(services))
    try:
        for user in world.users:
            world.check(user, searches)
        members = [u for u in world.users if world.memberships[u]]
        if members:  # revoke a membership, then search again straight away
            user = members[revoke_pick % len(members)]
            group = sorted(world.memberships[user])[revoke_pick % len(world.memberships[user])]
            with services.session() as session:
                revoke(session, group, user)
            world.memberships[user].discard(group)
            world.check(user, searches)
    finally:
        world.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=world_spec, searches=st.lists(search_spec, min_size=1, max_size=4), revoke_pick=st.integers(0, 5))
def test_no_search_returns_an_unreadable_passage_edge(services, hash_encoder, shared_bm25, spec, searches, revoke_pick):
    _property(services, hash_encoder, shared_bm25, spec, searches, revoke_pick)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=world_spec, searches=st.lists(search_spec, min_size=1, max_size=3), revoke_pick=st.integers(0, 5))
def test_no_search_returns_an_unreadable_passage_server(make_services, hash_encoder, shared_bm25, spec, searches, revoke_pick):
    services = _server_services(make_services)
    _property(services, hash_encoder, shared_bm25, spec, searches, revoke_pick)


_server = {}
_indexes = {}


def _server_services(make_services):
    """One server-backed Services per test run (hypothesis calls the test body many times)."""
    key = id(make_services)
    if key not in _server:
        _server.clear()
        _server[key] = make_services(index_backend="server")
    return _server[key]


@pytest.fixture(autouse=True)
def _close_shared_indexes():
    yield
    for index in _indexes.values():
        index.close()
    _indexes.clear()
    _server.clear()


def _shared_index(services):
    """One collection per Services, emptied after each example: creating a shard costs ~0.7 s."""
    if id(services) not in _indexes:
        _indexes.clear()
        _indexes[id(services)] = services.open_index("acl-property")
    return _indexes[id(services)]


def test_the_oracle_catches_a_leak(services, hash_encoder, shared_bm25):
    """Searching with someone else's tokens must trip the check: the property can fail."""
    spec = {"groups": 1, "users": [{0}], "docs": [{"groups": {0}, "owner": None, "public": False, "type": "pdf",
                                                  "month": 1, "chunks": ["budget invoice"]}]}
    world = World(services, spec, hash_encoder, shared_bm25)
    try:
        insider, outsider = world.users[0], world.users[-1]
        search = [{"query": "budget", "mode": "hybrid", "k": 5, "filter": "none", "pick": 0}]
        world.check(insider, search)
        with pytest.raises(AssertionError, match="saw"):
            world.check(outsider, search, tokens=world.tokens(insider))
    finally:
        world.close()


def test_a_revoked_member_loses_access_on_the_next_query(services, hash_encoder, shared_bm25):
    spec = {"groups": 1, "users": [{0}], "docs": [{"groups": {0}, "owner": None, "public": False, "type": "pdf",
                                                  "month": 1, "chunks": ["budget invoice"]}]}
    world = World(services, spec, hash_encoder, shared_bm25)
    try:
        user = world.users[0]
        assert world.searcher.search("budget", world.tokens(user), mode="sparse")
        with services.session() as session:
            revoke(session, world.groups[0], user)
        assert world.searcher.search("budget", world.tokens(user), mode="sparse") == []
        with services.session() as session:
            grant(session, world.groups[0], user)
        assert world.searcher.search("budget", world.tokens(user), mode="sparse")
    finally:
        world.close()


# ---- versions that fail, and access that changes between versions (issue 15, L1) -------------------
# Each step re-ingests one document through the real registration and job runner with new access
# and a new version that is good, unchanged, empty, over the size limit or refused by the index.
# Whatever the version's fate, from that step on the document is read by exactly its newest access,
# its points are one whole version (the newest that succeeded), and it is ready iff one succeeded.

OUTCOMES = ("good", "unchanged", "empty", "too_large", "write_fails")
step_spec = st.fixed_dictionaries({
    "doc": st.integers(0, 2),
    "groups": st.sets(st.integers(0, 2), max_size=2),
    "owner": st.one_of(st.none(), st.integers(0, 2)),
    "public": st.booleans(),
    "outcome": st.sampled_from(OUTCOMES),
    "words": st.lists(st.sampled_from(WORDS), min_size=2, max_size=5).map(" ".join),
})
LIMIT = 2000  # bytes: a "too_large" version is over it, every other one far under


# No shrinking: an example ingests real files, and a shrink would take minutes; the failing steps print.
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(memberships=st.lists(st.sets(st.integers(0, 2), max_size=2), min_size=3, max_size=3),
       steps=st.lists(step_spec, min_size=1, max_size=6))
def test_access_holds_whatever_happens_to_a_new_version(make_services, hash_encoder, tmp_path_factory,
                                                        memberships, steps):
    from app.library.documents import get_document
    from app.library.ingestion import IngestService

    services = make_services(encoder=hash_encoder, max_file_bytes=LIMIT, chunk_size=64, chunk_overlap=0,
                             data_dir=tmp_path_factory.mktemp("versions") / "data")
    folder = tmp_path_factory.mktemp("files")
    groups, users = ["g0", "g1", "g2"], ["u0", "u1", "u2", "nobody"]
    members = {u: {groups[g] for g in m} for u, m in zip(users, memberships)} | {"nobody": set()}
    with services.session() as session:
        for g in groups:
            add_group(session, g)
        for u in users:
            add_user(session, u, groups=sorted(members[u]))
    access: dict[str, dict] = {}  # doc id -> its newest access, the oracle
    good_once: dict[str, bool] = {}
    ingest = IngestService(services)
    try:
        for n, step in enumerate(steps):
            path = folder / f"doc{step['doc']}.md"
            if step["outcome"] == "good" or not path.exists():
                path.write_text(f"# Doc {step['doc']}\n\n{step['words']} version{n}.\n")
            elif step["outcome"] == "empty":
                path.write_bytes(b"")
            elif step["outcome"] == "too_large":
                path.write_text("# Big\n\n" + "salary budget " * (LIMIT // 10))
            elif step["outcome"] == "write_fails":
                path.write_text(f"# Doc {step['doc']}\n\n{step['words']} version{n} unwritten.\n")
            rule = {"groups": {groups[g] for g in step["groups"]}, "public": step["public"],
                    "owner": users[step["owner"]] if step["owner"] is not None else None}
            with pytest.MonkeyPatch.context() as patch:
                if step["outcome"] == "write_fails":
                    def refuse(points):
                        raise OSError(5, "Input/output error")
                    patch.setattr(services.index, "upsert", refuse)
                [result] = ingest.ingest_paths([path], sorted(rule["groups"]), rule["owner"], rule["public"])
            access[result.id] = rule
            good_once[result.id] = good_once.get(result.id, False) or result.status in ("ready", "unchanged")

            for user in users:
                with services.session() as session:
                    tokens = acl_tokens(session, get_user(session, user))
                for mode in ("dense", "sparse", "hybrid"):
                    for hit in services.searcher.search(" ".join(WORDS[:6]) + " version", tokens, k=20, mode=mode):
                        rule_now = access[hit.doc_id]
                        may = rule_now["public"] or rule_now["owner"] == user or bool(rule_now["groups"] & members[user])
                        assert may, f"{user} read {hit.doc_id} after step {n} ({step})"
            with services.session() as session:
                for doc_id, ready in good_once.items():
                    doc = get_document(session, doc_id)
                    assert (doc.status == "ready") == ready, (doc.status, doc.error, step)
                    shas = {h.payload["doc_sha"] for h in services.index.scroll(["doc_sha"], IndexFilter(doc_ids=[doc_id]))}
                    assert len(shas) == (1 if ready else 0), "one whole version, or none"
                    if ready and document_acl(doc):  # its readers do find it (the check is not vacuous)
                        assert services.index.count(IndexFilter(doc_ids=[doc_id], acl_tokens=document_acl(doc))) \
                            == doc.chunk_count
    finally:
        services.close()
