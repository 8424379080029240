"""A cited passage in its document, and the original file: both only for readers of the document.

Anything a user may not read is 404, like anything that does not exist, so
these pages confirm nothing. Originals other than PDF are always downloaded,
never rendered, and PDFs are served with a sandboxing policy: a hostile HTML
or SVG upload can never run as this site.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from app.answering.views import readable_document, source_view
from app.accounts.directory import acl_tokens
from app.db.accounts import User
from web.deps import ServicesDep, UserDep

router = APIRouter()


@router.get("/sources/{answer_id}/{n}", response_class=HTMLResponse)
def source_page(request: Request, answer_id: int, n: int, services: ServicesDep, user: UserDep) -> Response:
    with services.session() as session:
        tokens = acl_tokens(session, session.get(User, user.id))
        src = source_view(session, services.index, services.settings.data_dir, user.id, tokens, answer_id, n)
        from app.db.answers import AnswerRecord

        conversation_id = session.get(AnswerRecord, answer_id).conversation_id
    back = f"/c/{conversation_id}#answer-{answer_id}" if conversation_id else "/"
    return request.app.state.templates.TemplateResponse(
        request, "source.html", {"user": user, "src": src, "back": back})


@router.get("/documents/{doc_id}/file")
def original(request: Request, doc_id: str, services: ServicesDep, user: UserDep) -> Response:
    with services.session() as session:
        tokens = acl_tokens(session, session.get(User, user.id))
        doc = readable_document(session, tokens, doc_id)
        path, title, doc_type, mime = Path(doc.stored_path), doc.title, doc.doc_type, doc.mime
    suffix = Path(doc.source).suffix if doc.source else ""
    filename = (title or doc_id)[:100] + (suffix or mimetypes.guess_extension(mime or "") or "")
    if doc_type == "pdf":
        return FileResponse(path, media_type="application/pdf", filename=filename, content_disposition_type="inline",
                            headers={"Content-Security-Policy": "sandbox; default-src 'none'; object-src 'self'"})
    return FileResponse(path, media_type="application/octet-stream", filename=filename,
                        content_disposition_type="attachment")
