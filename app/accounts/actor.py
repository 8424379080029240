"""Who is acting: the one value every write use case receives.

A write that knows who made it is a write that can be audited, refused by
role, or counted against a budget. The CLI acts as the operator at the shell
(an administrator with no account row); the web layer will act as the signed-in
user. Read paths take ACL tokens, not an actor: what a user may *read* is
decided inside the index (see DESIGN.md, "Access control, one rule everywhere").
"""

from __future__ import annotations

from dataclasses import dataclass

from app.db.accounts import User

OPERATOR_NAME = "operator"


@dataclass(frozen=True)
class Actor:
    name: str
    role: str
    user_id: int | None = None  # None: not a directory user (the operator at the shell)

    @classmethod
    def operator(cls) -> "Actor":
        """The person running `inhouse …` on the server: they already hold the data directory."""
        return cls(name=OPERATOR_NAME, role="admin")

    @classmethod
    def of(cls, user: User) -> "Actor":
        return cls(name=user.name, role=user.role, user_id=user.id)
