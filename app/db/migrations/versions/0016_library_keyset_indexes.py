"""the library list reads its pages by keyset: one index per sort, ending in the id

``app.library.paging`` starts each page where the previous one ended, by the
sort's columns and the document id. Each sort gets an index on exactly those
columns, so the page is searched from the cursor instead of walked from the
start: (updated_at, id), (lower(title), id), (status, lower(title), id),
(coalesce(doc_type, ''), lower(title), id) and (chunk_count, id). The first
two replace 0013's single-column ``updated_at`` and ``lower(title)`` indexes,
which they begin with.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

TITLE = sa.text("lower(title)")
TYPE = sa.text("coalesce(doc_type, '')")


def upgrade() -> None:
    op.create_index("ix_documents_updated_id", "documents", ["updated_at", "id"])
    op.create_index("ix_documents_title_id", "documents", [TITLE, "id"])
    op.create_index("ix_documents_status_title_id", "documents", ["status", TITLE, "id"])
    op.create_index("ix_documents_type_title_id", "documents", [TYPE, TITLE, "id"])
    op.create_index("ix_documents_chunks_id", "documents", ["chunk_count", "id"])
    op.drop_index("ix_documents_updated_at", table_name="documents")
    op.drop_index("ix_documents_title_lower", table_name="documents")


def downgrade() -> None:
    op.create_index("ix_documents_title_lower", "documents", [TITLE])
    op.create_index("ix_documents_updated_at", "documents", ["updated_at"])
    for name in ("ix_documents_chunks_id", "ix_documents_type_title_id", "ix_documents_status_title_id",
                 "ix_documents_title_id", "ix_documents_updated_id"):
        op.drop_index(name, table_name="documents")
