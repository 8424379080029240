"""`inhouse ingest`, `import-manifest`, `reindex` and `jobs resume`: files into the index."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from app.cli._common import JsonOpt, cli_errors, ingest_table, progress_bar, services_ctx, split_csv
from app.cli._output import emit_json, err, fail
from app.cli._owner import claim_index, refuse_beside
from app.errors import EXPECTED

jobs_app = typer.Typer(no_args_is_help=True, help="Ingestion jobs.")


def ingest(
    paths: list[Path] = typer.Argument(..., help="files or folders"),
    groups: str = typer.Option("", "--groups", help="comma-separated groups that may read these documents"),
    owner: Optional[str] = typer.Option(None, "--owner", help="the user who owns them"),
    public: bool = typer.Option(False, "--public", help="readable by everyone, even users in no group"),
    as_json: bool = JsonOpt,
) -> None:
    """Ingest files (or whole folders) into the index; unchanged files are skipped."""
    from app.accounts.actor import Actor
    from app.library.actions import ingest_paths, resume_jobs
    from app.library.through_server import ingest_through_server

    missing = [str(p) for p in paths if not p.exists() and not p.is_symlink()]
    if missing:
        fail(f"no such file or folder: {', '.join(missing)}")
    with services_ctx() as services, progress_bar() as bars:
        actor = Actor.operator()
        task = bars.add_task("ingest", total=None)

        def on_progress(stage: str, done: int, total: int) -> None:
            bars.update(task, completed=done, total=total, description=stage)

        with cli_errors():
            server, resumed = claim_index(services), []
            if server is not None:  # it owns the index: it registers, its worker indexes, we wait
                results = ingest_through_server(services, server, paths, split_csv(groups), owner, public,
                                                on_progress)
            else:
                resumed = resume_jobs(services, actor, on_progress)
                results = ingest_paths(services, actor, paths, split_csv(groups), owner, public,
                                       progress=on_progress)
    if resumed:
        err.print(f"resumed {len(resumed)} unfinished job(s) from an earlier run")
    if as_json:
        emit_json({"documents": [r.as_dict() for r in results]})
    else:
        ingest_table("ingested", results)
    if results and all(r.status == "failed" for r in results):
        raise SystemExit(1)


def import_manifest(
    manifest: Path, as_json: bool = JsonOpt,
    demo_logins: bool = typer.Option(
        False, "--demo-logins", help="give its users without a password one random demo password and print it"
    ),
) -> None:
    """Create the groups and users a manifest names and ingest its documents with their access."""
    from app.library.ingestion import IngestService
    from app.accounts.actor import Actor
    from app.library.manifest import demo_logins as set_demo_logins
    from app.library.manifest import load_manifest

    if not manifest.is_file():
        fail(f"no manifest at {manifest}")
    with services_ctx() as services, progress_bar() as bars:
        task = bars.add_task("ingest", total=None)
        with cli_errors():
            if (server := claim_index(services)) is not None:
                refuse_beside(server, "inhouse import-manifest")
        try:
            IngestService(services).resume()
            results = load_manifest(
                services, Actor.operator(), manifest,
                lambda stage, done, total: bars.update(task, completed=done, total=total),
            )
        except (*EXPECTED, ValueError, KeyError) as exc:  # ValueError, KeyError: the manifest's JSON
            fail(f"bad manifest {manifest}: {exc}")
        logins = set_demo_logins(services, Actor.operator(), manifest) if demo_logins else None
    if as_json:
        emit_json({"documents": [r.as_dict() for r in results],
                   **({"demo_users": logins[0], "demo_password": logins[1]} if logins else {})})
    else:
        ingest_table("ingested", results)
        if logins:
            users, password = logins
            print(f"\nLog in at http://127.0.0.1:8000 as any of {', '.join(users)}"
                  f" with the password {password}\n(kept in {services.settings.data_dir / 'demo-password.txt'})")


@jobs_app.command("resume")
def jobs_resume(as_json: bool = JsonOpt) -> None:
    """Finish ingestion jobs that an earlier run left unfinished."""
    from app.accounts.actor import Actor
    from app.library.actions import resume_jobs

    with services_ctx() as services, cli_errors():
        if (server := claim_index(services)) is not None:  # its worker runs every queued job itself
            err.print(f"the server at {server.url} (pid {server.pid}) owns the index and runs queued jobs itself")
            results = []
        else:
            results = resume_jobs(services, Actor.operator())
    if as_json:
        emit_json({"documents": [r.as_dict() for r in results]})
    else:
        err.print(f"{len(results)} job(s) resumed")


def reindex(as_json: bool = JsonOpt) -> None:
    """Rebuild the index from the stored originals (after changing the embedding model)."""
    from app.accounts.actor import Actor
    from app.library.actions import reindex as reindex_all

    with services_ctx() as services, cli_errors():
        if (server := claim_index(services, bound=False)) is not None:
            refuse_beside(server, "inhouse reindex")
        results = reindex_all(services, Actor.operator())
    if as_json:
        emit_json({"documents": [r.as_dict() for r in results]})
    else:
        ingest_table("re-indexed", results)
