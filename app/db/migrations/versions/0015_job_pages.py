"""ingestion jobs record the pages of the file being parsed

``ingest_jobs.pages_done`` / ``pages_total``: while a job's stage is ``parse``
(a PDF's text layer read page by page) or ``ocr`` (its scanned pages), how many
pages are done of how many; a library row shows "parsing (page n of m)" from
them (``app.library.parse_progress``). Zero for files without pages.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN, not a batch copy: recreating a table on SQLite would cascade rows away
    op.add_column("ingest_jobs", sa.Column("pages_done", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("ingest_jobs", sa.Column("pages_total", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("ingest_jobs", "pages_total")
    op.drop_column("ingest_jobs", "pages_done")
