"""The usage dashboard's figures, read from the database alone.

Everything here is counted from stored answers, ratings, documents and
chunks, over a window of days, so the figures need no separate metrics store
and agree with what the review queue and the evaluation suite see. Titles are
the only document content shown: the dashboard is for administrators, who may
read every document anyway. Aggregation is done in Python over the window's
answer rows (one column set, no text), which stays dialect-neutral for SQLite
and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.answers import AnswerPassage, AnswerRecord
from app.answering.ratings import AnswerRating
from app.db.library import Chunk, Document

TOP = 10


@dataclass
class DocumentCount:
    doc_id: str
    title: str
    count: int


@dataclass
class UsageReport:
    days: int
    start: date
    end: date
    per_day: list[tuple[date, int]]
    questions: int
    active_users: int
    thumbs_up: int
    thumbs_down: int
    not_found: int
    low_support: int
    first_token_ms: tuple[float | None, float | None]  # p50, p95
    total_ms: tuple[float | None, float | None]
    completion_tokens: int
    prompt_tokens: int
    documents: int
    chunks: int
    most_cited: list[DocumentCount] = field(default_factory=list)
    most_disliked: list[DocumentCount] = field(default_factory=list)

    @property
    def thumbs_up_rate(self) -> float | None:
        rated = self.thumbs_up + self.thumbs_down
        return self.thumbs_up / rated if rated else None

    @property
    def not_found_rate(self) -> float | None:
        return self.not_found / self.questions if self.questions else None

    @property
    def low_support_rate(self) -> float | None:
        """Of the questions that got an answer (not "not found")."""
        answered = self.questions - self.not_found
        return self.low_support / answered if answered else None


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(round(p * len(ordered), 9))))
    return ordered[rank - 1]


def _day(at: datetime) -> date:
    return (at if at.tzinfo else at.replace(tzinfo=timezone.utc)).astimezone(timezone.utc).date()


def usage_report(session: Session, days: int = 30, threshold: float = 0.5, today: date | None = None) -> UsageReport:
    days = max(1, min(days, 366))
    end = today or datetime.now(timezone.utc).date()
    start = end - timedelta(days=days - 1)
    since = datetime(start.year, start.month, start.day, tzinfo=timezone.utc)
    in_window = AnswerRecord.created_at >= since
    rows = session.execute(select(
        AnswerRecord.id, AnswerRecord.created_at, AnswerRecord.user_id, AnswerRecord.not_found, AnswerRecord.support,
        AnswerRecord.timings_ms, AnswerRecord.prompt_tokens, AnswerRecord.completion_tokens,
    ).where(in_window)).all()
    per_day = Counter(_day(r.created_at) for r in rows)
    first = [float(r.timings_ms["first_token"]) for r in rows if r.timings_ms and "first_token" in r.timings_ms]
    total = [float(r.timings_ms["total"]) for r in rows if r.timings_ms and "total" in r.timings_ms]
    ratings = dict(session.execute(
        select(AnswerRating.rating, func.count()).join(AnswerRecord, AnswerRecord.id == AnswerRating.answer_id)
        .where(in_window).group_by(AnswerRating.rating)).all())
    cited = session.execute(
        select(AnswerPassage.document_id, func.count(func.distinct(AnswerPassage.answer_id)).label("n"))
        .join(AnswerRecord, AnswerRecord.id == AnswerPassage.answer_id)
        .where(in_window, AnswerPassage.cited.is_(True)).group_by(AnswerPassage.document_id)
        .order_by(func.count(func.distinct(AnswerPassage.answer_id)).desc()).limit(TOP)).all()
    disliked = session.execute(
        select(AnswerPassage.document_id, func.count(func.distinct(AnswerPassage.answer_id)).label("n"))
        .join(AnswerRecord, AnswerRecord.id == AnswerPassage.answer_id)
        .join(AnswerRating, AnswerRating.answer_id == AnswerPassage.answer_id)
        .where(in_window, AnswerRating.rating == "down", AnswerPassage.cited.is_(True))
        .group_by(AnswerPassage.document_id)
        .order_by(func.count(func.distinct(AnswerPassage.answer_id)).desc()).limit(TOP)).all()
    return UsageReport(
        days=days, start=start, end=end,
        per_day=[(start + timedelta(days=i), per_day.get(start + timedelta(days=i), 0)) for i in range(days)],
        questions=len(rows), active_users=len({r.user_id for r in rows if r.user_id is not None}),
        thumbs_up=ratings.get("up", 0), thumbs_down=ratings.get("down", 0),
        not_found=sum(1 for r in rows if r.not_found),
        low_support=sum(1 for r in rows if not r.not_found and r.support < threshold),
        first_token_ms=(percentile(first, 0.5), percentile(first, 0.95)),
        total_ms=(percentile(total, 0.5), percentile(total, 0.95)),
        completion_tokens=sum(r.completion_tokens or 0 for r in rows),
        prompt_tokens=sum(r.prompt_tokens or 0 for r in rows),
        documents=session.scalar(select(func.count()).select_from(Document).where(Document.status == "ready")) or 0,
        chunks=session.scalar(select(func.count()).select_from(Chunk)) or 0,
        most_cited=_titled(session, cited), most_disliked=_titled(session, disliked),
    )


def _titled(session: Session, counts) -> list[DocumentCount]:
    out = []
    for doc_id, n in counts:
        doc = session.get(Document, doc_id)
        if doc is not None:  # a deleted document's answers went with it; be safe anyway
            out.append(DocumentCount(doc_id, doc.title, n))
    return out


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: date
    count: int


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    peak: int
    baseline: float


def questions_chart(per_day: list[tuple[date, int]], width: int = 720, height: int = 180) -> Chart:
    """Bar geometry for the questions-per-day chart; the template draws it as inline SVG."""
    top, bottom = 16.0, 22.0
    peak = max((n for _, n in per_day), default=0)
    step = width / max(1, len(per_day))
    usable = height - top - bottom
    bars = []
    for i, (day, n) in enumerate(per_day):
        h = usable * n / peak if peak else 0.0
        bars.append(Bar(x=round(i * step + step * 0.1, 1), y=round(top + usable - h, 1),
                        width=round(step * 0.8, 1), height=round(h, 1), day=day, count=n))
    return Chart(width=width, height=height, bars=bars, peak=peak, baseline=top + usable)


def _fmt(value) -> str:
    if value is None:
        return ""
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def usage_csv(report: UsageReport) -> str:
    """The dashboard as CSV: one ``metric,value`` row per figure, then one row per day and per document."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["section", "key", "value"])
    figures = {
        "window_start": report.start.isoformat(), "window_end": report.end.isoformat(),
        "questions": report.questions, "active_users": report.active_users,
        "thumbs_up": report.thumbs_up, "thumbs_down": report.thumbs_down, "thumbs_up_rate": report.thumbs_up_rate,
        "not_found_rate": report.not_found_rate, "low_support_rate": report.low_support_rate,
        "first_token_ms_p50": report.first_token_ms[0], "first_token_ms_p95": report.first_token_ms[1],
        "total_ms_p50": report.total_ms[0], "total_ms_p95": report.total_ms[1],
        "completion_tokens": report.completion_tokens, "prompt_tokens": report.prompt_tokens,
        "documents_indexed": report.documents, "chunks_indexed": report.chunks,
    }
    for key, value in figures.items():
        w.writerow(["summary", key, _fmt(value)])
    for day, n in report.per_day:
        w.writerow(["questions_per_day", day.isoformat(), n])
    for d in report.most_cited:
        w.writerow(["most_cited", _safe(d.title), d.count])
    for d in report.most_disliked:
        w.writerow(["most_disliked", _safe(d.title), d.count])
    return out.getvalue()


def _safe(cell: str) -> str:
    """A title opened in a spreadsheet must not run as a formula."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell
