"""ingestion jobs are claimed by a worker that keeps a heartbeat

``ingest_jobs.worker_id`` names the worker holding a running job (host, pid and
a random part) and ``ingest_jobs.heartbeat_at`` is when that worker last said
it is alive. A running job whose heartbeat is older than ``job_stale_s`` is
taken over by another worker (``app.library.job_queue``).

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN, not a batch copy: recreating a table on SQLite would cascade rows away
    op.add_column("ingest_jobs", sa.Column("worker_id", sa.String(length=200), nullable=True))
    op.add_column("ingest_jobs", sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("ingest_jobs", "heartbeat_at")
    op.drop_column("ingest_jobs", "worker_id")
