"""The `inhouse` command line: the same use cases the web app calls, for operators and scripts.

Every command is registered here, explicitly, so ``app.cli.app`` alone is the
whole command line (tests drive it with typer's ``CliRunner``). One module per
command group; shared options, error handling and output live in ``_common``
and ``_output``.
"""

from __future__ import annotations

import logging
import sys

import typer

from app.cli import ask, docs, doctor, evaluate, ingest, models, search, serve, tokens, users, worker
from app.cli._owner import name_this_process
from app.runtime.private_files import private_umask

app = typer.Typer(no_args_is_help=True, help="inhouse: question answering over your own documents.")

# documents in, documents out
app.command()(ingest.ingest)
app.command("import-manifest")(ingest.import_manifest)
app.command()(ingest.reindex)
app.add_typer(ingest.jobs_app, name="jobs")
app.add_typer(docs.docs_app, name="docs")
# who may read what
app.add_typer(users.users_app, name="users")
app.add_typer(users.groups_app, name="groups")
app.add_typer(tokens.tokens_app, name="tokens")
# reading
app.command()(search.search)
app.command()(ask.ask)
app.add_typer(evaluate.eval_app, name="eval")
# running it
app.add_typer(models.models_app, name="models")
app.command()(doctor.doctor)
app.command()(serve.serve)
app.command()(worker.worker)


def main() -> None:
    private_umask()  # before any command creates a file: `models fetch` makes the data dir too (issue 15, W8)
    name_this_process()  # what a second opener of the index is told holds it (retrieval.lock)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    app()
