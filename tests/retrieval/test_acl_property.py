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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.directory import acl_tokens, add_group, add_user, get_user, grant, revoke
from app.documents import document_acl, new_document, set_access
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
