"""The library for content owners: upload (files, a folder, a zip) with live progress, the document
list, one document with its versions and ingestion log, and what an owner does to it (regroup,
retry, cancel one file or a whole upload, delete).

Thin: each route reads the request, calls a use case of ``app.library`` with the
signed-in user as the actor, and renders. Who may see and act on what is decided
there (``app.library.scope``): a document the user may not read is 404 here,
like one that does not exist. Uploads are read from the request stream by
``web.uploads`` (size limit while streaming, CSRF before the first byte).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from app.accounts.actor import Actor
from app.accounts.sessions import SessionUser
from app.library.listing import (
    LibraryQuery, document_view, filter_choices, list_library, progress_for, recent_progress,
)
from app.library.managing import cancel_documents, change_access, delete_managed, retry_document
from app.errors import Forbidden
from app.library.scope import owned_groups
from app.library.uploads import upload_documents
from app.db.accounts import User
from web.deps import OwnerDep, OwnerWriterDep, ServicesDep
from web.uploads import receive_upload

router = APIRouter()


def actor_of(user: SessionUser) -> Actor:
    return Actor(name=user.name, role=user.role, user_id=user.id)


def render(request: Request, template: str, context: dict, status_code: int = 200) -> Response:
    return request.app.state.templates.TemplateResponse(request, template, context, status_code=status_code)


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def upload_context(services, user: SessionUser, outcomes=None) -> dict:
    with services.session() as session:
        me = session.get(User, user.id)
        groups = [g.name for g in owned_groups(session, me)]
        rows = recent_progress(session, me)
    return {"user": user, "groups": groups, "admin": user.role == "admin", "rows": rows,
            "outcomes": outcomes or [], "limit": services.settings.max_file_bytes}


def wake_worker(request: Request) -> None:
    """Jobs were queued: the server's ingestion worker (if this app runs one) looks now, not at its next poll."""
    worker = getattr(request.app.state, "jobs", None)
    if worker is not None:
        worker.wake()


# ---- upload ------------------------------------------------------------------------------

@router.get("/documents/upload", response_class=HTMLResponse)
def upload_page(request: Request, services: ServicesDep, user: OwnerDep) -> Response:
    return render(request, "documents_upload.html", upload_context(services, user))


@router.post("/documents/upload")
async def upload(request: Request, services: ServicesDep, user: OwnerDep) -> Response:
    settings = services.settings
    form = await receive_upload(request, user, settings.data_dir, settings.max_file_bytes)
    outcomes = await run_in_threadpool(  # hashing, copying and unpacking zips: not on the event loop
        upload_documents, services, actor_of(user), form.files, form.fields.get("groups", []),
        form.one("owner") or None, form.one("public") == "on")
    with services.session() as session:
        me = session.get(User, user.id)
        rows = {p.doc_id: p for p in (progress_for(session, me, o.doc_id) for o in outcomes if o.doc_id)}
    wake_worker(request)
    if is_htmx(request):
        return render(request, "_upload_results.html", {"user": user, "outcomes": outcomes, "progress": rows})
    context = upload_context(services, user, outcomes)
    context["progress"] = rows
    return render(request, "documents_upload.html", context)


@router.get("/documents/{doc_id}/row", response_class=HTMLResponse)
def progress_row(request: Request, doc_id: str, services: ServicesDep, user: OwnerDep) -> Response:
    with services.session() as session:
        row = progress_for(session, session.get(User, user.id), doc_id)
    return render(request, "_progress_row.html", {"user": user, "row": row})


# ---- the library -------------------------------------------------------------------------

@router.get("/documents", response_class=HTMLResponse)
def library(
    request: Request, services: ServicesDep, user: OwnerDep, q: str = "", group: str = "", type: str = "",
    status: str = "", sort: str = "updated", cursor: str = "",
) -> Response:
    """``cursor``: where the page starts, from a Next or Previous link (keyset paging,
    ``app.library.paging``); a damaged one is a 400 that says to start from the first page."""
    query = LibraryQuery(q=q[:200], group=group, doc_type=type, status=status, sort=sort, cursor=cursor)
    with services.session() as session:
        me = session.get(User, user.id)
        listing = list_library(session, me, query)
        choices = filter_choices(session, me)
    return render(request, "documents.html", {"user": user, "listing": listing, "choices": choices})


@router.get("/documents/{doc_id}", response_class=HTMLResponse)
def document_page(request: Request, doc_id: str, services: ServicesDep, user: OwnerDep) -> Response:
    with services.session() as session:
        me = session.get(User, user.id)
        doc = document_view(session, me, services.settings.data_dir, doc_id)
        groups = [g.name for g in owned_groups(session, me)]
    return render(request, "document.html", {"user": user, "doc": doc, "groups": groups,
                                             "admin": user.role == "admin"})


@router.post("/documents/{doc_id}/groups")
def regroup(
    request: Request, doc_id: str, services: ServicesDep, user: OwnerWriterDep,
    groups: Annotated[list[str], Form()] = [], owner: Annotated[str, Form()] = "",  # noqa: B006
    public: Annotated[str, Form()] = "",
) -> Response:
    change_access(services, actor_of(user), doc_id, groups, owner or None, public == "on")
    return RedirectResponse(f"/documents/{doc_id}?changed=groups", status_code=303)


@router.post("/documents/{doc_id}/retry")
def retry(request: Request, doc_id: str, services: ServicesDep, user: OwnerWriterDep) -> Response:
    retry_document(services, actor_of(user), doc_id)
    if is_htmx(request):
        with services.session() as session:
            row = progress_for(session, session.get(User, user.id), doc_id)
        wake_worker(request)
        return render(request, "_progress_row.html", {"user": user, "row": row})
    wake_worker(request)
    return RedirectResponse(f"/documents/{doc_id}?changed=retry", status_code=303)


@router.post("/documents/{doc_id}/cancel")
def cancel(request: Request, doc_id: str, services: ServicesDep, user: OwnerWriterDep) -> Response:
    """Cancel one file's queued or running ingestion."""
    cancel_documents(services, actor_of(user), [doc_id])
    if is_htmx(request):
        with services.session() as session:
            row = progress_for(session, session.get(User, user.id), doc_id)
        return render(request, "_progress_row.html", {"user": user, "row": row})
    return RedirectResponse(f"/documents/{doc_id}?changed=cancel", status_code=303)


@router.post("/documents/cancel")
def cancel_batch(request: Request, services: ServicesDep, user: OwnerWriterDep,
                 docs: Annotated[str, Form()] = "") -> Response:
    """Cancel a whole upload: every document of it is checked before any is cancelled."""
    result = cancel_documents(services, actor_of(user), docs.split())
    if is_htmx(request):
        return render(request, "_cancel_result.html", {"user": user, "result": result})
    return RedirectResponse(
        f"/documents/upload?cancelled={len(result.cancelled)}&stopping={len(result.stopping)}", status_code=303)


@router.get("/documents/{doc_id}/delete", response_class=HTMLResponse)
def confirm_delete(request: Request, doc_id: str, services: ServicesDep, user: OwnerDep) -> Response:
    with services.session() as session:
        me = session.get(User, user.id)
        doc = document_view(session, me, services.settings.data_dir, doc_id, max_chunks=0)
    if not doc.can_manage:
        raise Forbidden("you do not own every group of this document")
    return render(request, "document_delete.html", {"user": user, "doc": doc})


@router.post("/documents/{doc_id}/delete")
def delete(request: Request, doc_id: str, services: ServicesDep, user: OwnerWriterDep,
           confirm: Annotated[str, Form()] = "") -> Response:
    if confirm != "yes":
        return RedirectResponse(f"/documents/{doc_id}/delete", status_code=303)
    deleted = delete_managed(services, actor_of(user), doc_id)
    title = deleted.summary["title"]
    from urllib.parse import quote

    return RedirectResponse(f"/documents?deleted={quote(title[:100])}", status_code=303)
