"""The ask experience through the real app (in-process HTTP): every page and fragment, and
every way a user might reach what they may not: no session, wrong CSRF, another user's
conversation or answer, a document outside their groups, a membership revoked a moment ago."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path


from tests.web.conftest import PASSWORD, SECRET, csrf_of, login, sse_events

HX = {"HX-Request": "true"}


def signed_in(client, name: str) -> str:
    r = login(client, name)
    assert r.status_code == 303, r.text
    return csrf_of(client.get("/").text)


def ask_streamed(client, csrf: str, question: str, conversation_id: str = "", **scope) -> tuple[list, str]:
    r = client.post("/ask", data={"csrf": csrf, "question": question, "conversation_id": conversation_id, **scope},
                    headers=HX)
    assert r.status_code == 200, r.text
    stream_url = re.search(r'sse-connect="([^"]+)"', r.text).group(1)
    with client.stream("GET", stream_url) as s:
        body = "".join(s.iter_text())
    cid = re.search(r'id="conversation-id" name="conversation_id" value="(\d+)"', r.text)
    return sse_events(body), (cid.group(1) if cid else conversation_id), stream_url


def marked_passage(html: str) -> str:
    """The text inside the source view's highlighted passage (its own <mark>s for query words included)."""
    from html.parser import HTMLParser

    class Finder(HTMLParser):
        depth, text = 0, []

        def handle_starttag(self, tag, attrs):
            if self.depth or (tag == "mark" and ("class", "passage-mark") in attrs):
                self.depth += tag == "mark"

        def handle_endtag(self, tag):
            if self.depth and tag == "mark":
                self.depth -= 1

        def handle_data(self, data):
            if self.depth:
                self.text.append(data)

    finder = Finder()
    finder.feed(html)
    return "".join(finder.text)


def final_answer(events) -> str:
    answers = [data for name, data in events if name == "answer"]
    assert len(answers) == 1 and events[-1][0] == "done", [n for n, _ in events]
    return answers[0]


# ---- signing in -------------------------------------------------------------------------

def test_every_page_and_fragment_needs_a_session(client):
    assert client.get("/").status_code == 303 and client.get("/").headers["location"].startswith("/login")
    assert client.get("/c/1").headers["location"] == "/login?next=/c/1"
    assert client.get("/sources/1/1").status_code == 303
    assert client.get("/documents/x/file").status_code == 303
    assert client.get("/ask/stream/abc", headers=HX).status_code == 401
    assert client.post("/ask", data={"question": "hi"}).status_code == 303
    assert client.post("/answers/1/rating", data={"rating": "up"}, headers=HX).headers["HX-Redirect"].startswith("/login")
    assert client.get("/c/1", headers={"accept": "application/json"}).json()["error"]["code"] == "login_required"


def test_logging_in_sets_a_safe_cookie_and_logging_out_ends_the_session(client):
    assert client.get("/login").status_code == 200
    r = login(client, "sofie")
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie  # plain http here
    home = client.get("/")
    assert home.status_code == 200 and 'data-user="sofie"' in home.text
    stolen = dict(client.cookies)
    assert client.post("/logout", data={"csrf": csrf_of(home.text)}).status_code == 303
    client.cookies.update(stolen)  # the old cookie is dead on the server, not only in this browser
    assert client.get("/").status_code == 303


def test_behind_tls_the_session_cookie_is_secure_and_host_only(client):
    r = client.post("/login", data={"name": "sofie", "password": PASSWORD, "next": "/"},
                    headers={"X-Forwarded-Proto": "https"})
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("__Host-inhouse_session=") and "Secure" in cookie and "Path=/" in cookie
    assert "domain" not in cookie.lower()


def test_a_wrong_password_is_refused_and_guessing_is_throttled(client):
    r = login(client, "mallory", "wrong")
    assert r.status_code == 401 and "do not match" in r.text
    assert login(client, "nobody-at-all", "x").status_code == 401  # unknown names read the same
    login(client, "mallory", "wrong")
    login(client, "mallory", "wrong")
    blocked = login(client, "mallory", PASSWORD)  # even the right password waits now
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0


def test_login_never_redirects_to_another_site(client):
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        r = client.post("/login", data={"name": "sofie", "password": PASSWORD, "next": target})
        assert r.headers["location"] == "/", target


def test_unsafe_requests_need_the_sessions_csrf_token(client):
    csrf = signed_in(client, "sofie")
    assert client.post("/ask", data={"question": "vacation days?"}).status_code == 403
    assert client.post("/ask", data={"question": "vacation days?", "csrf": "forged"}).status_code == 403
    assert client.post("/ask", data={"question": "x"}, headers={**HX, "X-CSRF-Token": "forged"}).status_code == 403
    ok = client.post("/ask", data={"question": "How many vacation days do employees get?", "csrf": csrf}, headers=HX)
    assert ok.status_code == 200


# ---- asking ---------------------------------------------------------------------------------

def test_an_answer_streams_its_stages_then_a_cited_checked_answer_once(client):
    csrf = signed_in(client, "sofie")
    events, cid, url = ask_streamed(client, csrf, "How many vacation days do employees get per year?")
    names = [n for n, _ in events]
    assert names[0] == "status" and names[-2:] == ["answer", "done"]
    stages = " ".join(d for n, d in events if n == "status")
    assert "Searching" in stages and "passage" in stages and "Checking" in stages
    html = final_answer(events)
    assert 'data-state="done"' in html and "25 vacation days" in html
    assert re.search(r'<a class="cite[^"]*" href="/sources/\d+/\d+"', html)
    assert "Employee handbook" in html and "How this answer was made" in html
    assert client.get(url).status_code == 204  # a reconnect gets nothing: no replay, no second answer
    page = client.get(f"/c/{cid}")
    assert page.status_code == 200 and "25 vacation days" in page.text


def test_the_answer_is_under_way_before_the_browser_opens_its_stream(client):
    """The POST starts the answer, so the round trip to open the stream overlaps the search;
    whatever was done meanwhile is sent, in order, once the stream opens."""
    import time

    csrf = signed_in(client, "sofie")
    r = client.post("/ask", data={"csrf": csrf, "question": "Where do visitors park?", "conversation_id": ""},
                    headers=HX)
    cid = re.search(r'id="conversation-id" name="conversation_id" value="(\d+)"', r.text).group(1)
    deadline = time.monotonic() + 120
    while 'id="answer-' not in (page := client.get(f"/c/{cid}").text) and time.monotonic() < deadline:
        time.sleep(0.2)  # nobody has opened the stream: the answer is written and stored anyway
    assert "level 2" in page
    with client.stream("GET", re.search(r'sse-connect="([^"]+)"', r.text).group(1)) as s:
        events = sse_events("".join(s.iter_text()))
    names = [n for n, _ in events]
    assert names[0] == "status" and names[-2:] == ["answer", "done"] and names.count("answer") == 1
    assert 'data-state="done"' in final_answer(events)


def test_a_user_cannot_pile_up_answers_nobody_reads(client):
    """While every answer slot is busy, a user's unread answers wait; past the limit a question
    is refused with the reason, another user is not held up, and reading them frees the places."""
    csrf = signed_in(client, "sofie")
    slots = client.app.state.answer_slots
    held = [slots.try_take() for _ in range(slots.limit)]
    assert all(held)  # nothing can finish: every posted answer stays under way
    tickets = []
    try:
        for _ in range(client.app.state.pending.per_user):
            r = client.post("/ask", data={"csrf": csrf, "question": "Where do visitors park?"}, headers=HX)
            assert r.status_code == 200
            tickets.append(re.search(r'sse-connect="([^"]+)"', r.text).group(1))
        refused = client.post("/ask", data={"csrf": csrf, "question": "Where do visitors park?"}, headers=HX)
        assert refused.status_code == 429 and "still waiting to be read" in refused.text
        signed_in(client, "bob")  # another user is not held up by sofie's
        other = client.post("/ask", data={"csrf": csrf_of(client.get("/").text), "question": "Who owns the car park?"},
                            headers=HX)
        assert other.status_code == 200
    finally:
        for _ in held:
            slots.give()
    with client.stream("GET", re.search(r'sse-connect="([^"]+)"', other.text).group(1)) as s:
        "".join(s.iter_text())
    signed_in(client, "sofie")
    for url in tickets:  # reading them frees the places
        with client.stream("GET", url) as s:
            assert "event: done" in "".join(s.iter_text())
    again = client.post("/ask", data={"csrf": csrf_of(client.get("/").text), "question": "Where do visitors park?"},
                        headers=HX)
    assert again.status_code == 200
    with client.stream("GET", re.search(r'sse-connect="([^"]+)"', again.text).group(1)) as s:
        "".join(s.iter_text())


def test_an_answer_that_finished_unread_does_not_count_against_its_user(client, web_services):
    """A closed tab leaves a finished answer behind; it must not lock its user out for minutes."""
    import time

    from app.accounts.directory import get_user

    csrf = signed_in(client, "sofie")
    with web_services.session() as session:
        sofie = get_user(session, "sofie").id
    pending = client.app.state.pending
    for _ in range(pending.per_user + 2):
        r = client.post("/ask", data={"csrf": csrf, "question": "Where do visitors park?"}, headers=HX)
        assert r.status_code == 200, r.text  # the unread ones before it have finished: they do not count
        deadline = time.monotonic() + 120
        while pending.under_way(sofie) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pending.under_way(sofie) == 0


def test_without_javascript_the_form_answers_and_shows_the_conversation(client):
    csrf = signed_in(client, "sofie")
    r = client.post("/ask", data={"csrf": csrf, "question": "Where do visitors park?"})
    assert r.status_code == 303 and r.headers["location"].startswith("/c/")
    page = client.get(r.headers["location"])
    assert "level 2" in page.text and 'data-state="done"' in page.text


def test_a_follow_up_continues_the_users_own_conversation(client):
    csrf = signed_in(client, "sofie")
    _, cid, _ = ask_streamed(client, csrf, "How many vacation days do employees get per year?")
    events, same, _ = ask_streamed(client, csrf, "Can unused ones be carried over?", conversation_id=cid)
    html = final_answer(events)
    assert same == cid and "March" in html
    page = client.get(f"/c/{cid}").text
    assert page.count('class="turn"') == 2


def test_nothing_readable_says_so_and_shows_no_sources(client):
    csrf = signed_in(client, "mallory")  # in no group: nothing to read
    html = final_answer(ask_streamed(client, csrf, "What did the board approve?")[0])
    assert "could not find this in the documents you can access" in html
    assert "Sources" not in html and SECRET not in html


def test_the_board_secret_reaches_no_one_outside_the_board_by_any_page(client, web_services):
    csrf = signed_in(client, "sofie")
    events, cid, _ = ask_streamed(client, csrf, "What did the board approve about the acquisition code word?")
    html = final_answer(events)
    assert SECRET not in html and "48 million" not in html
    assert SECRET not in client.get(f"/c/{cid}").text
    board_doc = web_services.doc_ids["board-minutes.md"]
    assert client.get(f"/documents/{board_doc}/file").status_code == 404
    scoped = ask_streamed(client, csrf, "acquisition", groups=["board"])[0]  # naming a group one is not in
    assert "could not find" in final_answer(scoped)


def test_the_scope_picker_lists_only_documents_the_user_can_ask_about(client, web_services):
    signed_in(client, "sofie")
    picker = client.get("/").text.split('id="doc_ids"')[1].split("</select>")[0]
    assert "Employee handbook" in picker and "Board minutes" not in picker
    client.cookies.clear()
    signed_in(client, "ivar")  # an administrator asks with their own groups too
    assert "Board minutes" not in client.get("/").text.split('id="doc_ids"')[1].split("</select>")[0]
    client.cookies.clear()
    signed_in(client, "bob")
    assert "Board minutes" in client.get("/").text.split('id="doc_ids"')[1].split("</select>")[0]


def test_a_scope_narrows_the_search_to_chosen_documents(client, web_services):
    csrf = signed_in(client, "sofie")
    badges = web_services.doc_ids["badges.md"]
    html = final_answer(ask_streamed(client, csrf, "How many vacation days do employees get?", doc_ids=badges)[0])
    assert "25 vacation days" not in html


# ---- other users' things are not found ------------------------------------------------------

def test_another_users_conversation_answer_and_sources_are_not_found(client):
    csrf = signed_in(client, "bob")
    events, cid, _ = ask_streamed(client, csrf, "What did the board approve?")
    html = final_answer(events)
    assert SECRET in html or "Brekke" in html
    answer_id = re.search(r'data-answer-id="(\d+)"', html).group(1)
    client.cookies.clear()
    csrf = signed_in(client, "sofie")
    assert client.get(f"/c/{cid}").status_code == 404
    assert client.get(f"/sources/{answer_id}/1").status_code == 404
    assert client.post(f"/answers/{answer_id}/rating", data={"csrf": csrf, "rating": "down"}).status_code == 404
    assert client.post(f"/c/{cid}/delete", data={"csrf": csrf}).status_code == 404
    assert client.post("/ask", data={"csrf": csrf, "question": "and then?", "conversation_id": cid}).status_code == 404
    for body in (client.get(f"/c/{cid}").text, client.get(f"/sources/{answer_id}/1").text):
        assert SECRET not in body and "Brekke" not in body


def test_a_revoked_membership_hides_the_answer_and_its_source_at_the_next_request(client, web_services):
    from app.accounts.directory import add_user, grant, revoke

    with web_services.session() as s:
        add_user(s, "temp", groups=["everyone"], password=PASSWORD)
        grant(s, "board", "temp")
    csrf = signed_in(client, "temp")
    events, cid, _ = ask_streamed(client, csrf, "What did the board approve?")
    html = final_answer(events)
    assert "48 million" in html
    answer_id = re.search(r'data-answer-id="(\d+)"', html).group(1)
    n = re.search(r'href="/sources/\d+/(\d+)"', html).group(1)
    assert client.get(f"/sources/{answer_id}/{n}").status_code == 200
    with web_services.session() as s:
        revoke(s, "board", "temp")
    page = client.get(f"/c/{cid}").text
    assert "no longer read" in page and SECRET not in page and "48 million" not in page
    assert client.get(f"/sources/{answer_id}/{n}").status_code == 404
    # nor does the withheld answer reach the rewrite of a follow-up (whose query the user is shown)
    from app.answering.views import readable_history
    from app.accounts.directory import acl_tokens, get_user

    with web_services.session() as s:
        temp = get_user(s, "temp")
        history = readable_history(s, web_services.index, temp.id, acl_tokens(s, temp), int(cid))
    assert [m["role"] for m in history] == ["user"] and "48 million" not in str(history)


# ---- source view and the original --------------------------------------------------------------

def test_a_citation_opens_its_passage_highlighted_in_the_document(client):
    csrf = signed_in(client, "sofie")
    html = final_answer(ask_streamed(client, csrf, "Where do visitors park?")[0])
    assert re.search(r'<a class="cite[^"]*" href="/sources/\d+/\d+"', html)
    garage = next(item for item in html.split('<li class="source')[1:] if "level 2" in item)
    page = client.get(re.search(r'href="(/sources/\d+/\d+)"', garage).group(1))
    assert page.status_code == 200
    assert "level 2" in marked_passage(page.text)
    assert "Parking policy" in page.text or "bicycles" in page.text  # the surrounding text is there too
    file_link = re.search(r'href="(/documents/[^"]+/file#page=(\d+))"', page.text)
    assert file_link and file_link.group(2) == "2"
    original = client.get(file_link.group(1).split("#")[0])
    assert original.status_code == 200 and original.content.startswith(b"%PDF")
    assert "sandbox" in original.headers["content-security-policy"]


# ---- a hostile document renders inert ------------------------------------------------------------

def test_a_hostile_document_renders_inert_in_answer_sources_and_source_view(client):
    csrf = signed_in(client, "sofie")
    html = final_answer(ask_streamed(client, csrf, "What if I lose my visitor badge?")[0])
    link = re.search(r'href="(/sources/\d+/\d+)"', html).group(1)
    for body in (html, client.get(link).text):
        assert "<script>alert" not in body and "<img src=x" not in body
        assert not re.search(r"<[^>]+\sonerror=", body)
        assert 'href="javascript:' not in body
        assert "&lt;script&gt;" in body or "&lt;img" in body or "onerror" not in body
    page = client.get("/")
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert "script-src 'self'" in page.headers["content-security-policy"]


# ---- feedback ------------------------------------------------------------------------------------

def test_feedback_is_stored_with_the_answer_and_the_user(client, web_services):
    from app.answering.feedback import FeedbackJudgment
    from app.answering.ratings import AnswerRating

    csrf = signed_in(client, "sofie")
    html = final_answer(ask_streamed(client, csrf, "Is remote work allowed?")[0])
    answer_id = int(re.search(r'data-answer-id="(\d+)"', html).group(1))
    r = client.post(f"/answers/{answer_id}/rating", headers=HX,
                    data={"csrf": csrf, "rating": "down", "reasons": ["incomplete", "outdated"], "comment": "old"})
    assert r.status_code == 200 and 'data-state="down"' in r.text
    assert client.post(f"/answers/{answer_id}/rating", data={"csrf": csrf, "rating": "meh"}).status_code == 400
    n = re.search(r'/answers/\d+/passages/(\d+)/not-relevant', html).group(1)
    r = client.post(f"/answers/{answer_id}/passages/{n}/not-relevant", data={"csrf": csrf}, headers=HX)
    assert r.status_code == 200 and 'data-state="judged"' in r.text
    with web_services.session() as s:
        rating = s.get(AnswerRating, (answer_id, s.scalar(_user_id("sofie"))))
        assert rating.rating == "down" and rating.reasons == ["incomplete", "outdated"] and rating.comment == "old"
        judged = s.query(FeedbackJudgment).filter_by(answer_id=str(answer_id)).all()
        assert len(judged) == 1 and judged[0].verdict == "wrong_sources"


def _user_id(name: str):
    from sqlalchemy import select

    from app.db.accounts import User

    return select(User.id).where(User.name == name)


# ---- conversations -------------------------------------------------------------------------------

def test_conversations_are_listed_renamed_and_deleted_with_their_answers(client, web_services):
    from app.db.answers import AnswerRecord

    csrf = signed_in(client, "ivar")
    _, cid, _ = ask_streamed(client, csrf, "Where do visitors park?")
    assert f'href="/c/{cid}"' in client.get("/").text
    assert client.post(f"/c/{cid}/rename", data={"csrf": csrf, "title": "Parking <b>rules</b>"}).status_code == 303
    page = client.get(f"/c/{cid}").text
    assert "Parking &lt;b&gt;rules&lt;/b&gt;" in page
    with web_services.session() as s:
        assert s.query(AnswerRecord).filter_by(conversation_id=int(cid)).count() == 1
    assert client.post(f"/c/{cid}/delete", data={"csrf": csrf}).status_code == 303
    assert client.get(f"/c/{cid}").status_code == 404
    with web_services.session() as s:
        assert s.query(AnswerRecord).filter_by(conversation_id=int(cid)).count() == 0


# ---- what the browser loads ------------------------------------------------------------------------

STATIC = Path(__file__).resolve().parents[2] / "web" / "static"


def test_vendored_scripts_match_their_pinned_checksums_and_stay_small():
    sums = dict(reversed(line.split()) for line in (STATIC / "vendor" / "SHA256SUMS").read_text().splitlines())
    assert set(sums) == {"htmx-2.0.11.min.js", "htmx-ext-sse-2.2.4.min.js"}
    for name, digest in sums.items():
        assert hashlib.sha256((STATIC / "vendor" / name).read_bytes()).hexdigest() == digest, name
    shipped = sum(p.stat().st_size for p in STATIC.rglob("*.js"))
    assert shipped <= 80 * 1024, f"{shipped} bytes of JavaScript"


def test_pages_load_nothing_from_outside(client):
    signed_in(client, "sofie")
    for path in ("/", "/login"):
        html = client.get(path).text
        assert not re.search(r'(src|href)="(https?:)?//', html), path
