"""accounts for the admin pages: disabled users, and members who own their group

``users.disabled``: a disabled user cannot log in, their sessions and API
tokens stop working and their ACL tokens are empty, while their rows (owned
documents, answers, ratings) stay for the record. ``memberships.owner``: a
member who owns the group; a content owner acts only on documents of the
groups they own (issue 19).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN, not a batch copy: recreating ``users`` on SQLite would cascade its memberships away
    op.add_column("users", sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("memberships", sa.Column("owner", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("memberships", "owner")
    op.drop_column("users", "disabled")
