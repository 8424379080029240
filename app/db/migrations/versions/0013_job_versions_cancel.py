"""ingestion jobs record the version they index, who queued it, and a request to cancel

``ingest_jobs.sha256`` and ``ingest_jobs.size`` are the version (the stored
original's bytes) a job indexes, and ``requested_by`` the name of who queued it
(an upload, a retry; empty for jobs queued before this revision): a document's
page lists its versions and its ingestion log from these rows.
``cancel_requested_at`` / ``cancel_requested_by``: someone asked to cancel a
running job; its worker stops at the next checkpoint, takes back what it wrote
of that version and marks the job ``cancelled`` (``app.library.cancelling``).
The library list stays fast at 100,000 documents (``bench/upload.py``) with
indexes for its default sort (``updated_at``), its title sort (``lower(title)``),
its filters (``status``, ``doc_type``, a group's documents) and owners.

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
    op.create_index("ix_documents_title_lower", "documents", [sa.text("lower(title)")])
    op.create_index("ix_documents_status", "documents", ["status"])
    op.create_index("ix_documents_doc_type", "documents", ["doc_type"])
    op.create_index("ix_documents_owner_id", "documents", ["owner_id"])
    op.create_index("ix_document_groups_group_id", "document_groups", ["group_id", "document_id"])


def downgrade() -> None:
    op.drop_index("ix_document_groups_group_id", table_name="document_groups")
    for name in ("ix_documents_owner_id", "ix_documents_doc_type", "ix_documents_status", "ix_documents_title_lower",
                 "ix_documents_updated_at"):
        op.drop_index(name, table_name="documents")
    for column in ("cancel_requested_by", "cancel_requested_at", "requested_by", "size", "sha256"):
        op.drop_column("ingest_jobs", column)
