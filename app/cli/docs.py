"""`inhouse docs list|show|delete`: documents as content owners see them."""

from __future__ import annotations

from typing import Optional

import typer

from app.cli._common import JsonOpt, cli_errors, services_ctx
from app.cli._output import emit_json, err, table

docs_app = typer.Typer(no_args_is_help=True, help="List, inspect and delete documents.")


@docs_app.command("list")
def docs_list(status: Optional[str] = typer.Option(None), as_json: bool = JsonOpt) -> None:
    from app.library.documents import document_summary, list_documents

    with services_ctx() as services, services.session() as session:
        docs = [document_summary(d) for d in list_documents(session, status)]
    if as_json:
        from app.shapes import DocumentsShape, dump

        emit_json(dump(DocumentsShape.model_validate({"documents": docs})))
    else:
        table("documents", ["id", "title", "type", "status", "groups", "chunks", "error"],
              [(d["id"][:12], d["title"], d["type"], d["status"], ",".join(d["groups"]), d["chunks"], d["error"])
               for d in docs])


@docs_app.command("show")
def docs_show(doc_id: str, as_json: bool = JsonOpt) -> None:
    from app.library.documents import document_detail, get_document

    with services_ctx() as services, services.session() as session, cli_errors():
        detail = document_detail(get_document(session, doc_id))
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
    from app.library.actions import delete_document

    from app.cli._owner import claim_index, refuse_beside

    with services_ctx() as services, cli_errors():
        if (server := claim_index(services)) is not None:
            refuse_beside(server, "inhouse docs delete")
        deleted = delete_document(services, Actor.operator(), doc_id)
    summary = {**deleted.summary, "status": "deleted"}
    if as_json:
        emit_json({"documents": [summary]})
    else:
        err.print(f"deleted {summary['id']} ({summary['title']})")
