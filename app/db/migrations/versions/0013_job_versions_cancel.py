"""ingestion jobs record the version they index, who queued it, and a request to cancel

``ingest_jobs.sha256`` and ``ingest_jobs.size`` are the version (the stored
original's bytes) a job indexes, and ``requested_by`` the name of who queued it
(an upload, a retry; empty for jobs queued before this revision): a document's
page lists its versions and its ingestion log from these rows.
``cancel_requested_at`` / ``cancel_requested_by``: someone asked to cancel a
running job; its worker stops at the next checkpoint, takes back what it wrote
of that version and marks the job ``cancelled`` (``app.library.cancelling``).
``documents.updated_at`` gets an index: the library's default sort.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN, not a batch copy: recreating a table on SQLite would cascade rows away
    op.add_column("ingest_jobs", sa.Column("sha256", sa.String(length=64), nullable=True))
    op.add_column("ingest_jobs", sa.Column("size", sa.Integer(), nullable=True))
    op.add_column("ingest_jobs", sa.Column("requested_by", sa.String(length=200), nullable=True))
    op.add_column("ingest_jobs", sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("ingest_jobs", sa.Column("cancel_requested_by", sa.String(length=200), nullable=True))
    op.create_index("ix_documents_updated_at", "documents", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_documents_updated_at", table_name="documents")
    for column in ("cancel_requested_by", "cancel_requested_at", "requested_by", "size", "sha256"):
        op.drop_column("ingest_jobs", column)
