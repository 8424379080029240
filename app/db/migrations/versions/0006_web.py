"""web: browser sessions, conversations kept per user, answer ratings

``web_sessions`` holds only a hash of each session cookie. ``conversations``
ties follow-ups to their user on the server (red team W3), and each stored
answer may belong to one. ``answer_ratings`` is the answer-level feedback
(thumbs, reasons, comment). Answer passages keep why they matched (search
ranks and scores) and answers how many passages the token budget dropped,
for the "how this answer was made" panel.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])
    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_conversations_user_id", "conversations", ["user_id"])
    op.create_table(
        "answer_ratings",
        sa.Column("answer_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("rating", sa.String(length=8), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["answer_id"], ["answers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("answer_id", "user_id"),
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:  # SQLite adds a column with its reference in one statement, and cannot add the constraint after
        op.execute("ALTER TABLE answers ADD COLUMN conversation_id INTEGER "
                   "REFERENCES conversations (id) ON DELETE CASCADE")
    else:
        op.add_column("answers", sa.Column("conversation_id", sa.Integer(), nullable=True))
        op.create_foreign_key("fk_answers_conversation", "answers", "conversations", ["conversation_id"], ["id"],
                              ondelete="CASCADE")
    op.create_index("ix_answers_conversation_id", "answers", ["conversation_id"])
    op.add_column("answers", sa.Column("passages_dropped", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("answer_passages", sa.Column("why", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("answer_passages", "why")
    op.drop_column("answers", "passages_dropped")
    op.drop_index("ix_answers_conversation_id", table_name="answers")
    op.drop_column("answers", "conversation_id")
    op.drop_table("answer_ratings")
    op.drop_table("conversations")
    op.drop_index("ix_web_sessions_user_id", table_name="web_sessions")
    op.drop_table("web_sessions")
