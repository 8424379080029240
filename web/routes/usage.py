"""The usage dashboard (administrators): figures from ``app.answering.usage``, a server-rendered SVG chart, CSV."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.answering.usage import questions_chart, usage_csv, usage_report
from web.deps import AdminDep, ServicesDep
from web.routes.documents import render

router = APIRouter(prefix="/admin")


def _report(services, days: int):
    with services.session() as session:
        return usage_report(session, days, services.settings.review_support_threshold)


@router.get("/usage", response_class=HTMLResponse)
def usage_page(request: Request, services: ServicesDep, user: AdminDep, days: int = 30) -> Response:
    report = _report(services, days)
    return render(request, "admin_usage.html", {"user": user, "report": report, "chart": questions_chart(report.per_day),
                                                "section": "usage"})


@router.get("/usage.csv")
def usage_export(services: ServicesDep, user: AdminDep, days: int = 30) -> Response:
    report = _report(services, days)
    return Response(usage_csv(report), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="inhouse-usage-{report.end.isoformat()}.csv"'})
