"""one history: join the evaluation (0002) and answers (0003) branches

Both revised 0001, so the schema had two heads and ``migrate`` upgraded to
"heads". This revision changes no table; it makes the history linear again so
every later revision has exactly one parent. A database at 0002 and 0003 (made
by any earlier version) upgrades to it in place.

Revision ID: 0004
Revises: 0002, 0003
"""

revision = "0004"
down_revision = ("0002", "0003")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
