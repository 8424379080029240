"""The answer path checks access again after the search: a search that leaks never reaches the model.

The search already filters by the user's ACL inside the index query, so a test
that only asks as a user without access is caught there first. Here the
searcher is the real one with a stand-in for a filter bug: it searches with
another user's tokens. Whatever comes back must still be dropped before the
prompt is built (each hit's own ``acl`` in the index, then the database).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.answering.service import AnswerService

SALARIES = "# Salary bands\n\nThe salary band for a Senior Engineer is 820,000 to 910,000 NOK a year.\n"
CANTEEN = "# Canteen\n\nThe canteen serves lunch from 11:00 to 13:30 on weekdays.\n"


class LeakySearcher:
    """The real searcher, searching with someone else's tokens: what a bug in the ACL filter would do."""

    def __init__(self, real, tokens: list[str]) -> None:
        self.real, self.tokens, self.index = real, tokens, real.index
        self.returned: list = []

    def search(self, query, acl_tokens, **kwargs):
        self.returned = self.real.search(query, self.tokens, **kwargs)
        return self.returned


@pytest.fixture
def hr_world(make_services, tmp_path, counting_generator):
    from app.accounts.actor import Actor
    from app.accounts.directory import add_group, add_user
    from app.library.actions import ingest_paths

    services = make_services(answer_mode="generative", answer_passages=3, generator=counting_generator)
    with services.session() as s:
        add_group(s, "hr")
        add_user(s, "alice", groups=["hr"])
        add_user(s, "sofie")
    for name, text, groups in (("salaries.md", SALARIES, ["hr"]), ("canteen.md", CANTEEN, [])):
        (tmp_path / name).write_text(text)
        [r] = ingest_paths(services, Actor.operator(), [tmp_path / name], groups, public=not groups)
        assert r.status == "ready"
    return services


def tokens_of(services, name: str) -> list[str]:
    from app.accounts.directory import acl_tokens, get_user

    with services.session() as s:
        return acl_tokens(s, get_user(s, name))


def test_passages_a_leaky_search_returns_never_reach_the_model_or_the_answer(hr_world, counting_generator):
    services = hr_world
    only_hr = sorted(set(tokens_of(services, "alice")) - set(tokens_of(services, "sofie")))
    leaky = LeakySearcher(services.searcher, only_hr)  # finds only what sofie may not read
    result = AnswerService(services, searcher=leaky, generator=counting_generator).ask(
        "What is the salary band for a Senior Engineer?", "sofie")

    assert leaky.returned and all("820,000" in h.text for h in leaky.returned), "the stand-in bug really leaked"
    assert result.not_found and result.passages == [] and result.citations == []
    assert "820,000" not in result.answer
    assert counting_generator.calls == 0


def test_of_what_a_leaky_search_returns_only_what_the_user_may_read_is_shown(hr_world, counting_generator):
    services = hr_world
    leaky = LeakySearcher(services.searcher, tokens_of(services, "alice"))
    result = AnswerService(services, searcher=leaky, generator=counting_generator).ask(
        "When does the canteen serve lunch, and what is the salary band for a Senior Engineer?", "sofie")
    assert {Path(h.source).name for h in leaky.returned} == {"canteen.md", "salaries.md"}
    assert not result.not_found and counting_generator.calls == 1
    assert {Path(p.source).name for p in result.passages} == {"canteen.md"}
    assert "820,000" not in result.answer
