"""Account use cases take the acting user and do their whole write; a membership change is read fresh."""

from __future__ import annotations

import pytest

from app.accounts.actions import create_group, create_user, grant_membership, revoke_membership
from app.accounts.actor import Actor
from app.accounts.directory import DirectoryError, acl_tokens, get_group, get_user
from retrieval.schema import group_token


def test_users_and_memberships_through_the_use_cases(services):
    operator = Actor.operator()
    assert operator.role == "admin" and operator.user_id is None
    alice = create_user(services, operator, "alice", "owner", ["hr"])
    assert alice.as_dict() == {"id": 1, "name": "alice", "role": "owner", "groups": ["hr"]}
    finance = create_group(services, operator, "finance")
    assert create_group(services, operator, "finance") == finance, "creating a group twice gives the same group"
    assert grant_membership(services, operator, "finance", "alice").members == ["alice"]
    with services.session() as session:
        user = get_user(session, "alice")
        assert group_token(get_group(session, "finance").uid) in acl_tokens(session, user)
        assert Actor.of(user) == Actor("alice", "owner", user.id)
    assert revoke_membership(services, operator, "finance", "alice").members == []
    with services.session() as session:
        assert group_token(get_group(session, "finance").uid) not in acl_tokens(session, get_user(session, "alice"))
    with pytest.raises(DirectoryError, match="already exists"):
        create_user(services, operator, "alice")
