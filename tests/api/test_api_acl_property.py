"""Security property over HTTP: no API response ever carries a passage of a document its caller may not read.

Like the search property (tests/retrieval/test_acl_property.py), but through the
whole app with bearer tokens: Hypothesis generates groups, users with random
memberships (plus one in no group) and an access rule for each of a pool of
small documents (random groups, owner, public flag), regranted through the real
registration before each example. Each document is "project <name>" and holds a
marker word of its own, in its text, its title and its file name; questions name
projects, readable or not. For every (user, question) the user's own token calls
``/api/v1/search``, ``/api/v1/ask``, ``/api/v1/ask/stream``, and
``/v1/chat/completions`` plain and streamed. The oracle is the rule itself, from
the generated world: a document is readable iff it is public, owned by the user
or shares a group with them. No byte of any response (answer text, citations,
sources, usage, ids, streamed chunks joined up) may hold the marker or the id of
a document the user may not read. After the checks one membership is revoked and
that user asks again at once: the token acts with the owner's groups *now*.
Not vacuous: a readable project named in a sparse search is always found, and
over the run answers do quote readable markers.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.api.conftest import bearer

NAMES = ("alderic", "brumolt", "cavendrix", "dorvanel", "elmquist", "fenwarth")
MARKERS = ("kelvatrox", "mirqualin", "zopheritz", "quantelyx", "brixomund", "vuldreska")
_world = itertools.count()

doc_rule = st.fixed_dictionaries({
    "groups": st.sets(st.integers(0, 2), max_size=2),
    "owner": st.one_of(st.none(), st.integers(0, 2)),
    "public": st.booleans(),
})
world_spec = st.fixed_dictionaries({
    "users": st.lists(st.sets(st.integers(0, 2), max_size=2), min_size=1, max_size=3),
    "docs": st.lists(doc_rule, min_size=len(NAMES), max_size=len(NAMES)),
})
question_spec = st.fixed_dictionaries({
    "names": st.lists(st.integers(0, len(NAMES) - 1), min_size=1, max_size=2, unique=True),
    "mode": st.sampled_from(["dense", "sparse", "hybrid", "hybrid+rerank"]),
    "k": st.integers(1, 10),
})


def question_text(q: dict) -> str:
    projects = " and ".join(f"project {NAMES[i]}" for i in q["names"])
    return f"What is the archive code word of {projects}?"


@pytest.fixture(scope="module")
def pool(tmp_path_factory, models_dir, shared_encoder, shared_bm25):
    """Services whose only documents are the pool, and the app over them (extractive answers)."""
    from app.library.ingestion import IngestService
    from app.services import build_services
    from app.settings import Settings

    root = tmp_path_factory.mktemp("api-acl")
    services = build_services(Settings(data_dir=root / "data", models_dir=models_dir, answer_mode="extractive"),
                              encoder=shared_encoder, bm25=shared_bm25)
    folder = root / "docs"
    folder.mkdir()
    paths = [folder / f"{marker}.md" for marker in MARKERS]
    for path, name, marker in zip(paths, NAMES, MARKERS):
        path.write_text(f"# Archive {marker}\n\nProject {name} keeps its archive under the code word {marker}.\n")
    results = IngestService(services).ingest_paths(paths, [], None, True)
    assert [r.status for r in results] == ["ready"] * len(paths), results
    services.pool = (paths, [r.id for r in results])
    yield services
    services.close()


@pytest.fixture(scope="module")
def pool_client(pool):
    from starlette.testclient import TestClient

    from web.app import create_app

    with TestClient(create_app(services=pool), base_url="http://testserver") as c:
        yield c


class World:
    """This example's groups, users and tokens, and the pool's documents regranted to them."""

    def __init__(self, services, spec) -> None:
        from app.accounts import tokens
        from app.accounts.directory import add_group, add_user, get_user
        from app.library.ingestion import IngestService

        n = next(_world)
        groups = [f"a{n}g{i}" for i in range(3)]
        self.users = [f"a{n}u{j}" for j in range(len(spec["users"]))] + [f"a{n}nobody"]
        self.members = {u: {groups[g] for g in gs} for u, gs in zip(self.users, spec["users"])}
        self.members[self.users[-1]] = set()
        self.token = {}
        with services.session() as session:
            for g in groups:
                add_group(session, g)
            for u in self.users:
                add_user(session, u, groups=sorted(self.members[u]))
                self.token[u] = tokens.create(session, get_user(session, u), "acl", ["ask", "search"]).token
        paths, self.ids = services.pool
        self.rules = []
        ingest = IngestService(services)
        for path, rule in zip(paths, spec["docs"]):
            access = {"groups": {groups[g] for g in rule["groups"]}, "public": rule["public"],
                      "owner": self.users[rule["owner"]] if rule["owner"] is not None
                      and rule["owner"] < len(self.users) else None}
            [r] = ingest.ingest_paths([path], sorted(access["groups"]), access["owner"], access["public"])
            assert r.status in ("ready", "unchanged"), r
            self.rules.append(access)

    def may_read(self, user: str, i: int) -> bool:
        rule = self.rules[i]
        return rule["public"] or rule["owner"] == user or bool(rule["groups"] & self.members[user])

    def forbidden(self, user: str) -> list[str]:
        """What no response to ``user`` may contain: each unreadable document's marker and id."""
        return [s for i in range(len(NAMES)) if not self.may_read(user, i) for s in (MARKERS[i], self.ids[i])]


def sse_data(body: str) -> list[str]:
    return [line[len("data:"):].strip() for line in body.splitlines() if line.startswith("data:")]


def responses(client, token: str, q: dict) -> dict[str, str]:
    """Every API way to ask ``q``, as the text each response carried (streams: raw and joined up)."""
    question, auth = question_text(q), bearer(token)
    out = {}
    r = client.post("/api/v1/search", json={"query": question, "k": q["k"], "mode": q["mode"]}, headers=auth)
    assert r.status_code == 200, r.text
    out["search"] = r.text
    r = client.post("/api/v1/ask", json={"question": question}, headers=auth)
    assert r.status_code == 200, r.text
    out["ask"] = r.text
    r = client.post("/api/v1/ask/stream", json={"question": question}, headers=auth)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream"), r.text
    events = r.text.split("\n\n")
    tokens = [json.loads(d).get("text", "") for e in events if e.startswith("event: token")
              for d in sse_data(e)]
    out["ask/stream"] = r.text + "\n" + "".join(tokens)
    chat = {"model": "inhouse", "messages": [{"role": "user", "content": question}]}
    r = client.post("/v1/chat/completions", json=chat, headers=auth)
    assert r.status_code == 200, r.text
    out["chat"] = r.text
    r = client.post("/v1/chat/completions", json={**chat, "stream": True, "stream_options": {"include_usage": True}},
                    headers=auth)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream"), r.text
    chunks = [json.loads(d) for d in sse_data(r.text) if d != "[DONE]"]
    joined = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))
    out["chat/stream"] = r.text + "\n" + joined
    return out


def check(world: World, client, user: str, q: dict, seen: Counter) -> None:
    got = responses(client, world.token[user], q)
    for route, text in got.items():
        leaked = [s for s in world.forbidden(user) if s.lower() in text.lower()]
        assert not leaked, f"{route} showed {user} {leaked} ({q}, {world.rules})"
    readable = [i for i in q["names"] if world.may_read(user, i)]
    found = [i for i in readable if MARKERS[i] in got["search"]]
    if q["mode"] == "sparse" and q["k"] >= len(q["names"]):
        assert found == readable, "a readable project named in a keyword search is found"
    seen["search found a readable marker"] += bool(found)
    seen["an answer quoted a readable marker"] += any(MARKERS[i] in got["ask"] for i in readable)


# No shrinking: an example regrants real documents and answers over HTTP; a failure prints its world.
def test_no_api_response_carries_a_document_its_caller_may_not_read(pool, pool_client):
    from app.accounts.directory import revoke

    seen: Counter = Counter()

    @settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck),
              phases=(Phase.explicit, Phase.reuse, Phase.generate))
    @given(spec=world_spec, questions=st.lists(question_spec, min_size=1, max_size=2), pick=st.integers(0, 5))
    def property_(spec, questions, pick):
        world = World(pool, spec)
        for user in world.users:
            for q in questions:
                check(world, pool_client, user, q, seen)
        members = [u for u in world.users if world.members[u]]
        if members:  # revoke one membership; the very next request acts without it
            user = members[pick % len(members)]
            group = sorted(world.members[user])[pick % len(world.members[user])]
            with pool.session() as session:
                revoke(session, group, user)
            world.members[user].discard(group)
            check(world, pool_client, user, questions[0], seen)

    property_()
    assert seen["search found a readable marker"] and seen["an answer quoted a readable marker"], seen


def test_the_oracle_catches_a_leak(pool, pool_client):
    """Asking with a reader's token while checking an outsider's rule must trip the check: the property can fail."""
    spec = {"users": [{0}], "docs": [{"groups": {0}, "owner": None, "public": False}] * len(NAMES)}
    world = World(pool, spec)
    insider, outsider = world.users[0], world.users[-1]
    q = {"names": [0], "mode": "sparse", "k": 5}
    check(world, pool_client, insider, q, Counter())
    world.token[outsider] = world.token[insider]
    with pytest.raises(AssertionError, match="showed"):
        check(world, pool_client, outsider, q, Counter())
