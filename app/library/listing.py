"""What the library pages show: a filtered, sorted, paged document list, one document in
detail, and each file's ingestion progress as the server knows it.

Everything is read with the user's access (``readable_clause``) in the query
itself, so a page can only ever hold documents the user may read; counts and
pages are computed over the same rows. Pages are read by keyset from a cursor
(``app.library.paging``), so page 1,000 costs what page 1 does. Progress is read from the job rows the
job runner writes (stage, chunks done of total, times), never estimated, so a
reload or another tab shows the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.library.documents import text_file
from app.library.paging import PAGE_SIZE, SORTS, cursor_at, decode_cursor, seek
from app.library.scope import can_manage, readable_clause, visible_document
from app.db.accounts import Group, Membership, User
from app.db.library import Chunk, Document, DocumentGroup, IngestJob

# Counting stops here: an exact count of 100,000 readable rows costs a pass over all of them
# with the access rule on each (~0.2 s on SQLite); past this the page says "1,000+" (bench/upload.py).
COUNT_CAP = 1_000
STATUSES = ("queued", "processing", "ready", "failed", "cancelled")
FINAL = ("ready", "failed", "unchanged", "cancelled")


def _aware(moment: datetime | None) -> datetime | None:
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class LibraryQuery:
    q: str = ""
    group: str = ""
    doc_type: str = ""
    status: str = ""
    sort: str = "updated"
    cursor: str = ""  # from a page link: where the page starts (``app.library.paging``); "" is the first page


@dataclass(frozen=True)
class LibraryRow:
    id: str
    title: str
    source: str
    doc_type: str | None
    status: str
    groups: list[str]
    public: bool
    owner: str | None
    chunks: int
    updated_at: datetime | None
    error: str | None


@dataclass(frozen=True)
class LibraryPage:
    rows: list[LibraryRow]
    total: int  # exact, or COUNT_CAP when ``more``
    page: int
    pages: int  # the pages ``total`` fills
    query: LibraryQuery
    more: bool = False  # more than COUNT_CAP documents match: counting stopped there
    next_cursor: str | None = None  # the next page's link, when there is one
    prev_cursor: str | None = None  # the previous page's; "" when it is the first page (a link without a cursor)


def list_library(session: Session, user: User, query: LibraryQuery) -> LibraryPage:
    where = [readable_clause(user)]
    if query.q.strip():
        where.append(Document.title.ilike(f"%{_escape_like(query.q.strip())}%", escape="\\"))
    if query.group:
        where.append(Document.id.in_(
            select(DocumentGroup.document_id).join(Group, Group.id == DocumentGroup.group_id)
            .where(Group.name == query.group)))
    if query.doc_type:
        where.append(Document.doc_type == query.doc_type)
    if query.status in STATUSES:
        where.append(Document.status == query.status)
    sort_name = query.sort if query.sort in SORTS else "updated"
    cursor = decode_cursor(query.cursor, sort_name) if query.cursor else None  # before any work: 400 if damaged
    counted = select(Document.id).where(*where).limit(COUNT_CAP + 1).subquery()
    total = session.scalar(select(func.count()).select_from(counted)) or 0
    more = total > COUNT_CAP
    total = min(total, COUNT_CAP)
    sort = SORTS[sort_name]
    base = (select(Document, *sort.columns()[:-1]).where(*where)
            .options(selectinload(Document.groups), selectinload(Document.owner)))
    found = seek(session, base, sort, cursor, PAGE_SIZE + 1)
    page, has_prev, has_next = 1, False, len(found) > PAGE_SIZE
    if cursor is not None and cursor.forward:
        page, has_prev, found = cursor.page, True, found[:PAGE_SIZE]
    elif cursor is not None and len(found) > PAGE_SIZE:  # back, with more before this page
        page, has_prev, has_next, found = max(2, cursor.page), True, True, found[-PAGE_SIZE:]
    elif cursor is not None:  # back to the beginning (or the list changed under the link): the first page
        found = seek(session, base, sort, None, PAGE_SIZE + 1)
        has_next = len(found) > PAGE_SIZE
    found = found[:PAGE_SIZE]
    pages = max(1, -(-total // PAGE_SIZE), page)
    next_cursor = cursor_at(sort_name, found[-1], True, page + 1) if has_next and found else None
    prev_cursor = None
    if has_prev and found:
        prev_cursor = "" if page == 2 else cursor_at(sort_name, found[0], False, page - 1)
    docs = [row[0] for row in found]
    rows = [LibraryRow(d.id, d.title, d.source, d.doc_type, d.status, sorted(g.name for g in d.groups), d.public,
                       d.owner.name if d.owner else None, d.chunk_count, d.updated_at, d.error) for d in docs]
    return LibraryPage(rows, total, page, pages, query, more, next_cursor, prev_cursor)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def filter_choices(session: Session, user: User) -> dict:
    """The groups and types offered as filters: the user's own groups (every group for an
    administrator) and the types present, each read from an index, never by scanning the
    documents (at 100,000 documents that scan cost most of the page)."""
    if user.disabled:
        groups: list[str] = []
    elif user.role == "admin":
        groups = list(session.scalars(select(Group.name).order_by(Group.name)))
    else:
        groups = list(session.scalars(
            select(Group.name).join(Membership, Membership.group_id == Group.id)
            .where(Membership.user_id == user.id).order_by(Group.name)))
    types = session.scalars(
        select(Document.doc_type).where(Document.doc_type.is_not(None)).distinct().order_by(Document.doc_type)).all()
    return {"groups": groups, "types": list(types), "statuses": STATUSES, "sorts": list(SORTS)}


# ---- progress ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Progress:
    """One file's ingestion as the job rows say it is now."""

    doc_id: str
    title: str
    source: str
    # queued | parsing | chunking | embedding | indexing | cancelling | ready | failed | unchanged | cancelled
    state: str
    chunks_done: int
    chunks_total: int
    elapsed_s: float | None
    error: str | None
    can_manage: bool = False  # the reader may cancel or retry it (set where the user is known)
    cancelled_by: str | None = None
    pages_done: int = 0  # while parsing: pages read (or, with ``ocr``, scanned pages read by OCR)
    pages_total: int = 0  # 0: not known yet, or a file without pages
    ocr: bool = False

    @property
    def final(self) -> bool:
        return self.state in FINAL

    @property
    def percent(self) -> int:
        return int(100 * self.chunks_done / self.chunks_total) if self.chunks_total else 0

    @property
    def page_percent(self) -> int:
        return int(100 * self.pages_done / self.pages_total) if self.pages_total else 0


def progress_of(doc: Document, job: IngestJob | None, now: datetime | None = None) -> Progress:
    now = now or datetime.now(timezone.utc)
    done = total = pages_done = pages_total = 0
    elapsed = None
    stage = None
    if job is None:
        state = {"ready": "unchanged"}.get(doc.status, doc.status)
        error = doc.error
    else:
        done, total, error = job.chunks_done, job.chunks_total, job.error
        started, finished = _aware(job.started_at), _aware(job.finished_at)
        if started is not None:
            elapsed = ((finished or now) - started).total_seconds()
        if job.status == "queued":
            state = "queued"
        elif job.status == "running" and job.cancel_requested_at is not None:
            state = "cancelling"
        elif job.status == "running":
            stage = job.stage
            state = {"wait": "queued", "embed": "embedding", "chunk": "chunking",  # wait: claimed, parsed next
                     "index": "indexing"}.get(stage or "", "parsing")
            if stage in ("parse", "ocr"):
                pages_done, pages_total = job.pages_done or 0, job.pages_total or 0
        elif job.status == "done":
            state, done = "ready", total
        elif job.status == "cancelled":
            state = "cancelled"
        else:
            state = "failed"
            error = error or doc.error
    return Progress(doc.id, doc.title, doc.source, state, done, total, elapsed, error,
                    cancelled_by=job.cancel_requested_by if job is not None else None,
                    pages_done=pages_done, pages_total=pages_total, ocr=stage == "ocr")


def latest_job(session: Session, doc_id: str) -> IngestJob | None:
    return session.scalar(
        select(IngestJob).where(IngestJob.document_id == doc_id).order_by(IngestJob.id.desc()).limit(1))


def progress_for(session: Session, user: User, doc_id: str) -> Progress:
    doc = visible_document(session, user, doc_id)
    return replace(progress_of(doc, latest_job(session, doc.id)), can_manage=can_manage(session, user, doc))


def recent_progress(session: Session, user: User, within: timedelta = timedelta(days=1),
                    limit: int = 50) -> list[Progress]:
    """The files whose ingestion started or ended lately, newest first, among documents the user may read:
    what the upload page shows after a reload or in another tab."""
    since = datetime.now(timezone.utc) - within
    newest = (select(IngestJob.document_id, func.max(IngestJob.id).label("job_id"))
              .where(IngestJob.created_at >= since).group_by(IngestJob.document_id).subquery())
    rows = session.execute(
        select(Document, IngestJob).join(newest, newest.c.document_id == Document.id)
        .join(IngestJob, IngestJob.id == newest.c.job_id).where(readable_clause(user))
        .order_by(IngestJob.id.desc()).limit(limit)).all()
    return [replace(progress_of(doc, job), can_manage=can_manage(session, user, doc)) for doc, job in rows]


# ---- one document -----------------------------------------------------------------------

@dataclass(frozen=True)
class ChunkView:
    chunk_no: int
    page: int | None
    heading_path: str | None
    text: str
    tokens: int


@dataclass(frozen=True)
class VersionView:
    """One version of a document (the bytes a job indexed), from its job rows."""

    sha256: str | None  # None: jobs queued before versions were recorded
    size: int | None
    queued_at: datetime | None
    by: str | None
    chunks: int | None
    status: str  # the newest job's: queued | running | done | failed | cancelled
    current: bool  # the version readers get now


@dataclass(frozen=True)
class LogEntry:
    """One line of a document's ingestion log, read from a job row."""

    at: datetime | None
    job_id: int
    event: str  # queued | started | finished | failed | cancelled | cancel asked
    detail: str | None


LOG_JOBS = 50  # jobs shown in a document's log, newest first


def versions_and_log(session: Session, doc: Document) -> tuple[list[VersionView], list[LogEntry]]:
    jobs = session.scalars(select(IngestJob).where(IngestJob.document_id == doc.id)
                           .order_by(IngestJob.id.desc()).limit(LOG_JOBS)).all()
    current = None
    if doc.status == "ready":
        current = next((j.sha256 for j in jobs if j.status == "done"), None)
    versions: dict[str | None, VersionView] = {}
    for job in reversed(jobs):  # oldest first: a version is "when it was first queued, by whom"
        first = versions.get(job.sha256)
        chunks = job.chunks_total if job.status == "done" else (first.chunks if first else None)
        versions[job.sha256] = VersionView(
            job.sha256, job.size if job.size is not None else (first.size if first else None),
            first.queued_at if first else _aware(job.created_at), first.by if first else job.requested_by,
            chunks, job.status, job.sha256 is not None and job.sha256 == current)
    log: list[LogEntry] = []
    for job in jobs:
        version = f"version {job.sha256[:12]}" if job.sha256 else None
        entries = [LogEntry(_aware(job.created_at), job.id, "queued",
                            ", ".join(x for x in (version, f"by {job.requested_by}" if job.requested_by else None)
                                      if x) or None)]
        if job.started_at is not None:
            entries.append(LogEntry(_aware(job.started_at), job.id, "started",
                                    f"attempt {job.attempts}" if job.attempts else None))
        if job.cancel_requested_at is not None and job.status != "cancelled":
            late = " (too late: its last batch was written, so it finished)" if job.status == "done" else ""
            entries.append(LogEntry(_aware(job.cancel_requested_at), job.id, "cancel asked",
                                    f"by {job.cancel_requested_by}{late}" if job.cancel_requested_by else late or None))
        if job.status == "done":
            entries.append(LogEntry(_aware(job.finished_at), job.id, "finished",
                                    f"{job.chunks_total} chunk{'' if job.chunks_total == 1 else 's'}"))
        elif job.status == "failed":
            entries.append(LogEntry(_aware(job.finished_at), job.id, "failed", job.error or "no reason was recorded"))
        elif job.status == "cancelled":
            detail = [f"by {job.cancel_requested_by}" if job.cancel_requested_by else "",
                      f"after {job.chunks_done} of {job.chunks_total} chunks, taken back from the index"
                      if job.chunks_done else ""]
            entries.append(LogEntry(_aware(job.finished_at or job.cancel_requested_at), job.id, "cancelled",
                                    ", ".join(d for d in detail if d) or None))
        log.extend(reversed(entries))
    return list(reversed(versions.values())), log


@dataclass
class DocumentView:
    id: str
    title: str
    source: str
    doc_type: str | None
    mime: str | None
    status: str
    error: str | None
    groups: list[str]
    public: bool
    owner: str | None
    size: int
    pages: int | None
    chunk_count: int
    embed_model: str | None
    sha256: str | None
    created_at: datetime | None
    updated_at: datetime | None
    can_manage: bool
    has_original: bool
    progress: Progress
    chunks: list[ChunkView] = field(default_factory=list)
    more_chunks: int = 0
    versions: list[VersionView] = field(default_factory=list)
    log: list[LogEntry] = field(default_factory=list)

    @property
    def pending(self) -> bool:
        """A job is queued or running and can still stop (so there is something to cancel)."""
        return self.progress.state in ("queued", "parsing", "chunking", "embedding")

    @property
    def busy(self) -> bool:
        """A job is queued or running, including its last step, which a cancel no longer stops."""
        return self.pending or self.progress.state == "indexing"


def document_view(session: Session, user: User, data_dir, doc_id: str, max_chunks: int = 200) -> DocumentView:
    doc = visible_document(session, user, doc_id)
    path = text_file(data_dir, doc.id)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    rows = session.scalars(select(Chunk).where(Chunk.document_id == doc.id).order_by(Chunk.chunk_no)
                           .limit(max_chunks)).all()
    chunks = [ChunkView(c.chunk_no, c.page, c.heading_path, text[c.char_start:c.char_end], c.token_count)
              for c in rows]
    from pathlib import Path

    manage = can_manage(session, user, doc)
    versions, log = versions_and_log(session, doc)
    return DocumentView(
        doc.id, doc.title, doc.source, doc.doc_type, doc.mime, doc.status, doc.error,
        sorted(g.name for g in doc.groups), doc.public, doc.owner.name if doc.owner else None, doc.size,
        doc.page_count, doc.chunk_count, doc.embed_model, doc.sha256, _aware(doc.created_at), _aware(doc.updated_at),
        manage, bool(doc.stored_path and Path(doc.stored_path).exists()),
        replace(progress_of(doc, latest_job(session, doc.id)), can_manage=manage), chunks,
        max(0, doc.chunk_count - len(chunks)), versions, log,
    )
