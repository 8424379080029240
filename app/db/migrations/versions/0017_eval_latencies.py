"""evaluation results keep each query's search latency

``eval_results.latencies_ms``: the timed search of every query of the mode, in
milliseconds, so a run's page can draw the latency distribution and not only
p50/p95. Older runs have none and show no latency plot.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN, not a batch copy: recreating a table on SQLite would cascade rows away
    op.add_column("eval_results", sa.Column("latencies_ms", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("eval_results", "latencies_ms")
