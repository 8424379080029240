"""What the API answers, as another application sees it: the CLI's JSON shapes, streamed answers,
conversations, feedback; another user's things are not found; the board secret reaches no token
whose owner is outside the board, by any route, and stops reaching a board member the moment they leave."""

from __future__ import annotations

import json

from tests.api.conftest import ALL_READER_SCOPES, bearer
from tests.web.conftest import SECRET, sse_events

BOARD_Q = "What did the board approve about the acquisition code word?"
LEAKS = (SECRET, "Brekke", "48 million")


def test_ask_returns_the_cli_shape_with_citations_and_a_conversation(client, make_token):
    from app.shapes import AnswerShape

    h = bearer(make_token("sofie", "ask"))
    r = client.post("/api/v1/ask", json={"question": "How many vacation days do employees get?"}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == list(AnswerShape.model_fields)  # the inhouse ask --json keys, in order
    assert "25 vacation days" in body["answer"] and not body["not_found"]
    assert body["citations"] and all(f"[{c['n']}]" in body["answer"] for c in body["citations"])
    cid = body["conversation_id"]
    follow = client.post("/api/v1/ask", json={"question": "and can they be carried over?", "conversation_id": cid},
                         headers=h).json()
    assert follow["conversation_id"] == cid and follow["rewrite_method"] != "none"
    conv = client.get(f"/api/v1/conversations/{cid}", headers=h).json()
    assert [t["question"] for t in conv["turns"]] == ["How many vacation days do employees get?",
                                                       "and can they be carried over?"]
    assert cid in [c["id"] for c in client.get("/api/v1/conversations", headers=h).json()["conversations"]]
    assert client.patch(f"/api/v1/conversations/{cid}", json={"title": "Leave"}, headers=h).json()["title"] == "Leave"
    answer_id = body["answer_id"]
    rated = client.put(f"/api/v1/answers/{answer_id}/rating", json={"rating": "down", "reasons": ["outdated"]},
                       headers=h)
    assert rated.json() == {"answer_id": answer_id, "rating": "down", "reasons": ["outdated"], "comment": ""}
    assert client.get(f"/api/v1/answers/{answer_id}", headers=h).json()["rating"]["rating"] == "down"
    n = body["citations"][0]["n"]
    assert client.post(f"/api/v1/answers/{answer_id}/passages/{n}/not-relevant", headers=h).status_code == 200
    assert client.delete(f"/api/v1/conversations/{cid}", headers=h).status_code == 204
    assert client.get(f"/api/v1/conversations/{cid}", headers=h).status_code == 404
    assert client.get(f"/api/v1/answers/{answer_id}", headers=h).status_code == 404


def test_the_stream_sends_status_tokens_then_the_same_answer_shape(client, make_token):
    h = bearer(make_token("sofie", "ask"))
    with client.stream("POST", "/api/v1/ask/stream", json={"question": "Where do visitors park?"}, headers=h) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = sse_events("".join(r.iter_text()))
    names = [n for n, _ in events]
    assert names[0] == "status" and "token" in names and names[-2:] == ["answer", "done"]
    answer = json.loads(events[-2][1])
    assert "level 2" in answer["answer"] and answer["citations"][0]["source"] == "parking.pdf"
    assert json.loads(events[0][1]) == {"stage": "searching"}


def test_a_question_asked_while_every_answer_slot_is_busy_is_told_it_is_queued_then_answered(
        client, web_app, make_token):
    """On a CPU, answers are worked on one per core; the next reader waits, and is told so."""
    import threading

    slots = web_app.state.answer_slots
    held = [slots.try_take() for _ in range(slots.limit)]
    assert all(held)
    threading.Timer(1.0, lambda: [slots.give() for _ in held]).start()  # the busy answers finish
    h = bearer(make_token("sofie", "ask"))
    with client.stream("POST", "/api/v1/ask/stream", json={"question": "Where do visitors park?"}, headers=h) as r:
        events = sse_events("".join(r.iter_text()))
    assert json.loads(events[0][1]) == {"stage": "queued"}
    assert [n for n, _ in events][-2:] == ["answer", "done"]
    assert "level 2" in json.loads(events[-2][1])["answer"]
    assert all(slots.try_take() for _ in range(slots.limit))  # every slot given back
    for _ in range(slots.limit):
        slots.give()


def test_bad_requests_are_refused_with_the_reason(client, make_token):
    h = bearer(make_token("sofie", *ALL_READER_SCOPES))
    r = client.post("/api/v1/ask", json={"question": ""}, headers=h)
    assert r.status_code == 422 and "question" in r.json()["error"]["message"]
    assert client.post("/api/v1/ask", json={"question": "x", "colour": 1}, headers=h).status_code == 422
    assert client.post("/api/v1/ask", json={"question": "   "}, headers=h).status_code == 400
    assert client.post("/api/v1/search", json={"query": "x", "k": 0}, headers=h).status_code == 422


def test_search_and_documents_show_only_what_the_owner_may_read(client, web_services, make_token):
    board = web_services.doc_ids["board-minutes.md"]
    sofie = bearer(make_token("sofie", *ALL_READER_SCOPES))
    bob = bearer(make_token("bob", *ALL_READER_SCOPES))
    hits = client.post("/api/v1/search", json={"query": "vacation days", "k": 5}, headers=sofie).json()["hits"]
    assert hits and hits[0]["source"] == "handbook.md" and set(hits[0]) >= {"doc_id", "text", "score", "why"}
    listed = {d["id"] for d in client.get("/api/v1/documents", headers=sofie).json()["documents"]}
    assert board not in listed and web_services.doc_ids["handbook.md"] in listed
    assert board in {d["id"] for d in client.get("/api/v1/documents", headers=bob).json()["documents"]}
    assert client.get(f"/api/v1/documents/{board}", headers=bob).json()["source"] == "board-minutes.md"
    missing = client.get("/api/v1/documents/" + "0" * 32, headers=sofie)
    hidden = client.get(f"/api/v1/documents/{board}", headers=sofie)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["error"]["code"] == missing.json()["error"]["code"]
    assert client.get(f"/api/v1/documents/{board[:8]}", headers=bob).status_code == 404  # no prefix probing


def test_another_users_conversation_and_answer_are_not_found(client, make_token):
    bob = bearer(make_token("bob", "ask"))
    body = client.post("/api/v1/ask", json={"question": BOARD_Q}, headers=bob).json()
    assert any(s in body["answer"] for s in LEAKS), body["answer"]  # the secret is there to be leaked
    cid, aid = body["conversation_id"], body["answer_id"]
    sofie = bearer(make_token("sofie", "ask"))
    refused = [
        client.get(f"/api/v1/conversations/{cid}", headers=sofie),
        client.patch(f"/api/v1/conversations/{cid}", json={"title": "mine"}, headers=sofie),
        client.delete(f"/api/v1/conversations/{cid}", headers=sofie),
        client.get(f"/api/v1/answers/{aid}", headers=sofie),
        client.put(f"/api/v1/answers/{aid}/rating", json={"rating": "up"}, headers=sofie),
        client.post(f"/api/v1/answers/{aid}/passages/1/not-relevant", headers=sofie),
        client.post("/api/v1/ask", json={"question": "and then?", "conversation_id": cid}, headers=sofie),
    ]
    assert [r.status_code for r in refused] == [404] * len(refused)
    assert not any(s in r.text for r in refused for s in LEAKS)
    assert cid not in [c["id"] for c in client.get("/api/v1/conversations", headers=sofie).json()["conversations"]]
    assert client.get(f"/api/v1/conversations/{cid}", headers=bob).status_code == 200  # still bob's


def responses_of(client, headers) -> list[str]:
    """Everything a token can get back about the board minutes, by every read route."""
    out = [client.post("/api/v1/ask", json={"question": BOARD_Q}, headers=headers).text,
           client.post("/api/v1/ask", json={"question": "acquisition", "groups": ["board"]}, headers=headers).text,
           client.post("/api/v1/search", json={"query": f"board acquisition {SECRET}", "k": 50},
                       headers=headers).text,
           client.get("/api/v1/documents", headers=headers).text]
    with client.stream("POST", "/api/v1/ask/stream", json={"question": BOARD_Q}, headers=headers) as r:
        out.append("".join(r.iter_text()))
    chat = {"model": "inhouse", "messages": [{"role": "user", "content": BOARD_Q}]}
    out.append(client.post("/v1/chat/completions", json=chat, headers=headers).text)
    with client.stream("POST", "/v1/chat/completions", json={**chat, "stream": True,
                                                             "stream_options": {"include_usage": True}},
                       headers=headers) as r:
        out.append("".join(r.iter_text()))
    for c in client.get("/api/v1/conversations", headers=headers).json()["conversations"]:
        out.append(client.get(f"/api/v1/conversations/{c['id']}", headers=headers).text)
    return out


def test_the_board_secret_reaches_no_token_outside_the_board_by_any_route(client, make_token):
    for name in ("sofie", "mallory"):
        for text in responses_of(client, bearer(make_token(name, *ALL_READER_SCOPES))):
            assert not any(s in text for s in LEAKS), (name, text[:500])
    bob = responses_of(client, bearer(make_token("bob", *ALL_READER_SCOPES)))
    assert sum(any(s in text for s in LEAKS) for text in bob) >= 6  # the same routes do carry it to bob


def test_a_token_reads_with_its_owners_current_groups(client, web_services, make_token):
    from app.accounts.directory import add_user, grant, revoke

    with web_services.session() as s:
        add_user(s, "member", groups=["everyone", "board"])
    h = bearer(make_token("member", *ALL_READER_SCOPES))
    first = client.post("/api/v1/ask", json={"question": BOARD_Q}, headers=h).json()
    assert any(s in first["answer"] for s in LEAKS)
    with web_services.session() as s:
        revoke(s, "board", "member")
    assert not any(s in text for text in responses_of(client, h) for s in LEAKS)
    stored = client.get(f"/api/v1/answers/{first['answer_id']}", headers=h).json()
    assert stored["withheld"] and stored["answer"] == "" and stored["passages"] == []
    with web_services.session() as s:
        grant(s, "board", "member")
    assert any(s in client.post("/api/v1/ask", json={"question": BOARD_Q}, headers=h).text for s in LEAKS)
