"""single sign-on: external identities, where a membership came from, what made a session

``external_identities`` keys a user by (issuer, subject) as the identity
provider or gateway names them, never by e-mail or display name.
``memberships.source``: "local" (granted here) or "sso" (synced from the
gateway's groups on each request; only these are ever removed by the sync).
``web_sessions.origin``: "local" (password login) or "header" (made for a
gateway identity and valid only while that identity is asserted).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "external_identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("issuer", "subject", name="uq_external_identities_issuer_subject"),
    )
    op.create_index("ix_external_identities_user_id", "external_identities", ["user_id"])
    # plain ADD COLUMN, not a batch copy: recreating a table on SQLite would cascade rows away
    op.add_column("memberships", sa.Column("source", sa.String(length=16), nullable=False, server_default="local"))
    op.add_column("web_sessions", sa.Column("origin", sa.String(length=16), nullable=False, server_default="local"))


def downgrade() -> None:
    op.drop_column("web_sessions", "origin")
    op.drop_column("memberships", "source")
    op.drop_index("ix_external_identities_user_id", table_name="external_identities")
    op.drop_table("external_identities")
