"""The evaluation pages for evaluators and administrators: stored runs with the gate, one run with its
table and recall@k plot, two runs compared, a new run or tune queued in the background with live progress,
a tuned profile applied to its collection (and restored), and a judgment added from a query's page.

Thin: the numbers come from ``app.evaluation.views``, runs are started by
``app.evaluation.background.EvalRunner`` (``app.state.eval_runs``), the
baseline is set by ``app.evaluation.gate``. Every route depends on
``role("evaluator")`` (admins always pass); the ones that change something
on ``role_writer``, which also checks CSRF. Employees and owners get 403.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from app.accounts.actor import Actor
from app.accounts.sessions import SessionUser
from app.errors import Conflict, Invalid
from app.evaluation.background import EvalRunner, list_datasets
from app.evaluation.datasets import DatasetRefused, import_zip
from app.evaluation.drilldown import drilldown
from app.evaluation.gate import set_baseline
from app.evaluation.judging import add_judgment, my_judgments
from app.evaluation.profiles import apply_tuned, can_restore, history, restore_previous, run_collection
from app.evaluation.views import compare_view, list_view, run_view
from app.library.uploads import discard
from web.deps import ServicesDep, role, role_writer
from web.uploads import receive_upload

router = APIRouter()

EvaluatorDep = Annotated[SessionUser, Depends(role("evaluator"))]
EvaluatorWriterDep = Annotated[SessionUser, Depends(role_writer("evaluator"))]
MODE_CHOICES = ("dense", "sparse", "hybrid", "hybrid+rerank", "default")


def actor_of(user: SessionUser) -> Actor:
    return Actor(name=user.name, role=user.role, user_id=user.id)


def render(request: Request, template: str, context: dict, status_code: int = 200) -> Response:
    return request.app.state.templates.TemplateResponse(request, template, context, status_code=status_code)


def runner(request: Request) -> EvalRunner:
    """One runner per app, made on first use (it needs the services the lifespan built)."""
    state = request.app.state
    if getattr(state, "eval_runs", None) is None:
        state.eval_runs = EvalRunner(state.services)
    return state.eval_runs


@router.get("/eval", response_class=HTMLResponse)
def runs_page(request: Request, services: ServicesDep, user: EvaluatorDep) -> Response:
    return render(request, "eval_runs.html", {"user": user, "runs": list_view(services),
                                              "jobs": runner(request).recent()})


def new_context(services, user: SessionUser, **extra) -> dict:
    return {"user": user, "datasets": list_datasets(services), "modes": MODE_CHOICES, **extra}


@router.get("/eval/new", response_class=HTMLResponse)
def new_run_page(request: Request, services: ServicesDep, user: EvaluatorDep, uploaded: str = "") -> Response:
    names = {d.name for d in list_datasets(services)}
    return render(request, "eval_new.html", new_context(services, user, uploaded=uploaded if uploaded in names else ""))


@router.post("/eval/datasets")
async def upload_dataset(request: Request, services: ServicesDep, user: EvaluatorDep) -> Response:
    """A BEIR zip as a new data set (CSRF checked by ``receive_upload`` before the first byte is kept)."""
    settings = services.settings
    form = await receive_upload(request, user, settings.data_dir, settings.max_file_bytes)
    try:
        files = [f for f in form.files if f.path is not None or f.refused]
        if len(files) != 1:
            raise DatasetRefused("The data set was refused: send exactly one zip file")
        if files[0].refused:
            raise DatasetRefused(f"The data set was refused: {files[0].refused}")
        added = await run_in_threadpool(import_zip, services, actor_of(user), files[0].path, form.one("name"))
    except (DatasetRefused, Conflict) as exc:
        return render(request, "eval_new.html", new_context(services, user, upload_error=str(exc)),
                      status_code=exc.status)
    finally:
        for item in form.files:
            discard(item)
    return RedirectResponse(f"/eval/new?uploaded={added['name']}#upload", status_code=303)


def parse_ks(text: str) -> list[int]:
    try:
        return sorted({int(k) for k in text.replace(" ", "").split(",") if k})
    except ValueError:
        raise Invalid(f"k values are comma-separated whole numbers, got {text!r}") from None


@router.post("/eval/runs")
def start_run(
    request: Request, user: EvaluatorWriterDep, dataset: Annotated[str, Form()],
    modes: Annotated[list[str], Form()] = [],  # noqa: B006
    ks: Annotated[str, Form()] = "1,3,5,10,100", limit: Annotated[str, Form()] = "",
) -> Response:
    try:
        cap = int(limit) if limit.strip() else None
    except ValueError:
        raise Invalid("the limit is a whole number of queries") from None
    if cap is not None and cap < 1:
        raise Invalid("the limit is at least one query")
    job = runner(request).start(actor_of(user), dataset, modes, parse_ks(ks), cap)
    return RedirectResponse(f"/eval/jobs/{job.id}", status_code=303)


@router.post("/eval/answers")
def start_answers(
    request: Request, user: EvaluatorWriterDep, dataset: Annotated[str, Form()], limit: Annotated[str, Form()] = "",
) -> Response:
    """Answer quality (``inhouse eval answers``) on a set with gold answers, queued like a run."""
    try:
        cap = int(limit) if limit.strip() else None
    except ValueError:
        raise Invalid("the limit is a whole number of questions") from None
    if cap is not None and cap < 1:
        raise Invalid("the limit is at least one question")
    job = runner(request).start_answers(actor_of(user), dataset, cap)
    return RedirectResponse(f"/eval/jobs/{job.id}", status_code=303)


def parse_limit(limit: str, what: str = "queries") -> int | None:
    try:
        cap = int(limit) if limit.strip() else None
    except ValueError:
        raise Invalid(f"the limit is a whole number of {what}") from None
    if cap is not None and cap < 1:
        raise Invalid("the limit is at least one")
    return cap


@router.post("/eval/tune")
def start_tune(
    request: Request, user: EvaluatorWriterDep, dataset: Annotated[str, Form()], limit: Annotated[str, Form()] = "",
    rerank: Annotated[str, Form()] = "",
) -> Response:
    """``inhouse eval tune`` queued like a run; the chosen profile waits on the run's page to be applied."""
    job = runner(request).start_tune(actor_of(user), dataset, parse_limit(limit), rerank == "on")
    return RedirectResponse(f"/eval/jobs/{job.id}", status_code=303)


@router.get("/eval/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: str, user: EvaluatorDep) -> Response:
    return render(request, "eval_job.html", {"user": user, "job": runner(request).get(job_id)})


@router.get("/eval/jobs/{job_id}/progress", response_class=HTMLResponse)
def job_progress(request: Request, job_id: str, user: EvaluatorDep) -> Response:
    """The progress fragment htmx polls; a finished run's fragment stops the polling."""
    return render(request, "_eval_progress.html", {"user": user, "job": runner(request).get(job_id)})


@router.post("/eval/jobs/{job_id}/cancel")
def cancel_job(request: Request, job_id: str, user: EvaluatorWriterDep) -> Response:
    runner(request).cancel(actor_of(user), job_id)
    return RedirectResponse(f"/eval/jobs/{job_id}", status_code=303)


@router.get("/eval/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: int, services: ServicesDep, user: EvaluatorDep, applied: str = "",
             restored: str = "") -> Response:
    run = run_view(services, run_id)
    tuned = {}
    if run["tune"] is not None:  # the collection's profile changes, and what a restore would put back
        name = run["collection"]
        tuned = {"history": history(services, name), "restore_to": can_restore(services, name),
                 "applied": bool(applied), "restored": bool(restored)}
    return render(request, "eval_run.html", {"user": user, "run": run, **tuned,
                                             "others": [r for r in list_view(services) if r["id"] != run_id]})


@router.get("/eval/runs/{run_id}/queries/{query_id:path}", response_class=HTMLResponse)
def query_page(request: Request, run_id: int, query_id: str, services: ServicesDep, user: EvaluatorDep,
               mode: str | None = None) -> Response:
    """One query searched again as the run's user; only what this evaluator may read is shown, and judged."""
    d = drilldown(services, run_id, query_id, mode, user.name)
    mine = my_judgments(services, user.name, d.collection, d.question) if d.question is not None else {}
    return render(request, "eval_query.html", {"user": user, "d": d, "mine": mine})


@router.post("/eval/runs/{run_id}/baseline")
def make_baseline(run_id: int, services: ServicesDep, user: EvaluatorWriterDep) -> Response:
    set_baseline(services, actor_of(user), run_id)
    return RedirectResponse(f"/eval/runs/{run_id}", status_code=303)


@router.post("/eval/runs/{run_id}/apply")
def apply_profile(run_id: int, services: ServicesDep, user: EvaluatorWriterDep) -> Response:
    """A tune run's chosen profile becomes its collection's search profile (on record, reversible)."""
    apply_tuned(services, actor_of(user), run_id)
    return RedirectResponse(f"/eval/runs/{run_id}?applied=1#profile", status_code=303)


@router.post("/eval/runs/{run_id}/restore")
def restore_profile(run_id: int, services: ServicesDep, user: EvaluatorWriterDep) -> Response:
    """Undo the latest profile change of the run's collection."""
    restore_previous(services, actor_of(user), run_collection(services, run_id))
    return RedirectResponse(f"/eval/runs/{run_id}?restored=1#profile", status_code=303)


@router.post("/eval/runs/{run_id}/queries/{query_id:path}/judgments")
def judge_passage(
    run_id: int, query_id: str, services: ServicesDep, user: EvaluatorWriterDep, doc_id: Annotated[str, Form()],
    grade: Annotated[int, Form()], chunk_id: Annotated[str, Form()] = "", mode: Annotated[str, Form()] = "",
) -> Response:
    """The evaluator's own judgment of a passage they may read, for this query (404 for any other)."""
    add_judgment(services, actor_of(user), run_id, query_id, doc_id, chunk_id or None, grade)
    back = f"/eval/runs/{run_id}/queries/{quote(query_id)}" + (f"?mode={quote(mode)}" if mode else "")
    return RedirectResponse(back + "#judged", status_code=303)


@router.get("/eval/compare", response_class=HTMLResponse)
def compare_page(request: Request, a: int, b: int, services: ServicesDep, user: EvaluatorDep,
                 test: str = "student") -> Response:
    if test not in ("student", "fisher", "tukey"):
        raise Invalid("the test is student, fisher or tukey")
    return render(request, "eval_compare.html", {"user": user, "cmp": compare_view(services, a, b, test)})
