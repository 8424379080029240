"""the review queue: reviewed answers, and judgments that came from a review

``answer_reviews``: one row per answer a reviewer marked reviewed, with the
correct answer they wrote (issue 19). ``feedback_judgments.origin``: ``reader``
for a reader's thumbs, ``review`` for passages a reviewer picked; a review's
judgment outweighs readers' votes on the same question and document.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "answer_reviews",
        sa.Column("answer_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=True),
        sa.Column("correct_answer", sa.Text(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["answer_id"], ["answers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["reviewer_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("answer_id"),
    )
    op.add_column("feedback_judgments",
                  sa.Column("origin", sa.String(length=10), nullable=False, server_default="reader"))


def downgrade() -> None:
    op.drop_column("feedback_judgments", "origin")
    op.drop_table("answer_reviews")
