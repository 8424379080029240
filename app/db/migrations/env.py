"""Alembic environment: runs on the connection handed in by app.db.engine.migrate."""

from alembic import context
from sqlalchemy import create_engine

from app.db.base import Base
import app.db.accounts  # noqa: F401,E402  (users, groups, memberships)
import app.db.library  # noqa: F401,E402  (documents, chunks, jobs)
import app.db.evaluation  # noqa: F401,E402  (registers the evaluation tables on Base.metadata)
import app.db.answers  # noqa: F401,E402  (registers the answer tables on Base.metadata)
import app.answering.conversations  # noqa: F401,E402  (conversations, kept per user)
import app.answering.ratings  # noqa: F401,E402  (answer ratings)
import app.accounts.sessions  # noqa: F401,E402  (browser sessions)
import app.accounts.tokens  # noqa: F401,E402  (API tokens)
import app.db.reviews  # noqa: F401,E402  (reviewed answers)

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url"))
        with engine.begin() as conn:
            _run_on(conn)
    else:
        _run_on(connection)


def _run_on(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run()
