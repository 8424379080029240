"""stable ids: a never-reused uid per user and group, and the installation id

ACL tokens in the index used to name users and groups by their integer
primary keys, which another database (a new ``database_url``, an older
backup) hands out to different people (issue 15, leak 3). Every user and
group now gets a random ``uid`` that tokens use instead, and the ``meta``
table holds this database's ``installation_id``, which the index carries too,
so neither is ever paired with another's. Existing rows get fresh uids here;
an index built before this revision carries no installation id and is
refused until ``inhouse reindex`` rebuilds it with the new tokens.

No batch (table-copy) operation: on SQLite with foreign keys on, dropping the
old ``users`` table would cascade into memberships and answers.

Revision ID: 0005
Revises: 0004
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _fill_uids(table: str) -> None:
    conn = op.get_bind()
    ids = [row[0] for row in conn.execute(sa.text(f"SELECT id FROM {table} WHERE uid IS NULL"))]
    for row_id in ids:
        conn.execute(sa.text(f"UPDATE {table} SET uid = :uid WHERE id = :id"), {"uid": str(uuid.uuid4()), "id": row_id})


def upgrade() -> None:
    for table in ("users", "groups"):
        op.add_column(table, sa.Column("uid", sa.String(length=36), nullable=True))
        _fill_uids(table)
        op.create_index(f"ix_{table}_uid", table, ["uid"], unique=True)
    meta = op.create_table(
        "meta",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("value", sa.String(length=2000), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.bulk_insert(meta, [{"key": "installation_id", "value": str(uuid.uuid4())}])


def downgrade() -> None:
    op.drop_table("meta")
    for table in ("groups", "users"):
        op.drop_index(f"ix_{table}_uid", table_name=table)
        op.drop_column(table, "uid")
