"""search profile changes: who set a collection's search profile, from which tune run, and what it was before

``search_profile_changes`` is the audit record of applying a tuned profile (the
evaluation pages, `inhouse eval tune --save`) and what makes it reversible:
"Restore previous profile" puts back ``before`` of the latest change not yet
reverted, recorded as a change of its own. A deleted run leaves its changes
(``run_id`` set to NULL).

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_profile_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(length=200), nullable=False),
        sa.Column("collection", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("reverted", sa.Integer(), nullable=True),
        sa.Column("reverted_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["eval_runs.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_search_profile_changes_collection", "search_profile_changes", ["collection"])


def downgrade() -> None:
    op.drop_index("ix_search_profile_changes_collection", table_name="search_profile_changes")
    op.drop_table("search_profile_changes")
