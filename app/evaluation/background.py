"""Evaluation runs started from the browser: the data sets on offer, and a background runner with progress.

A run takes seconds to hours, so the page queues it and polls. Runs execute one
at a time in one thread (each eval collection is one Edge shard, which one
handle may hold; and the encoder is the limit on a CPU). Progress lives in
memory: a run that a restart interrupts is simply not stored, and is started
again. The data sets offered are the BEIR folders under ``<data_dir>/datasets``
(the operator puts them there), so a browser never names a path on the server.

A set exported from readers' feedback (``org_data.ORIGIN_FILE``) is the
organisation's own: it runs on the collection it came from as the evaluator who
started it, through the same ACL filter, and judgments on documents they cannot
read are dropped before the run (``org_data.readable_only``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator

from app.accounts.actor import Actor
from app.errors import EXPECTED, Conflict, Forbidden, Invalid, NotFound
from app.progress import Progress
from app.services import Services
from eval.beir import BeirDataset

log = logging.getLogger(__name__)

DATASETS_DIR = "datasets"
TUNE_KS = (1, 3, 5, 10, 100)  # what `inhouse eval tune` reports on the held-out half


@dataclass(frozen=True)
class DatasetChoice:
    name: str
    path: Path
    organisation: bool  # exported from feedback: runs as the evaluator, on the collection it came from
    answers: bool = False  # has answers.jsonl (gold answers): answer quality can be measured on it


def list_datasets(services: Services) -> list[DatasetChoice]:
    """BEIR folders (queries.jsonl and qrels/test.tsv) directly under ``<data_dir>/datasets``."""
    from app.evaluation.org_data import ORIGIN_FILE

    root = services.settings.data_dir / DATASETS_DIR
    if not root.is_dir():
        return []
    return [
        DatasetChoice(p.name, p, (p / ORIGIN_FILE).is_file(),
                      (p / "answers.jsonl").is_file() and (p / "corpus.jsonl").is_file())
        for p in sorted(root.iterdir())
        if p.is_dir() and not p.is_symlink() and (p / "queries.jsonl").is_file() and (p / "qrels" / "test.tsv").is_file()
    ]


def find_dataset(services: Services, name: str) -> DatasetChoice:
    """A data set by the name the form sent: only one of those listed, never a path."""
    for choice in list_datasets(services):
        if choice.name == name:
            return choice
    raise NotFound(f"no data set {name!r} in the data directory's {DATASETS_DIR}/ folder")


class Cancelled(Exception):
    """Raised from the run's progress callback once a cancel was asked for: the run stops there."""


@dataclass
class EvalJob:
    id: str
    dataset: str
    modes: list[str]
    ks: list[int]
    limit: int | None
    started_by: str
    kind: str = "run"  # run (retrieval) | answers (answer quality through the answer path) | tune
    rerank: bool = True  # tune: also try re-ranking (needs the cross-encoder)
    state: str = "queued"  # queued | building | running | done | failed | cancelled
    stage: str = ""
    queries_done: int = 0
    queries_total: int = 0
    created: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: float | None = None
    run_id: int | None = None
    error: str | None = None
    running_since: float | None = None  # when the first query was searched (the build before is not counted)
    cancel_requested_by: str | None = None

    @property
    def unit(self) -> str:
        """What the progress counts: a tune's steps are queries, profiles replayed and held-out searches."""
        return "steps" if self.kind == "tune" else "queries"

    @property
    def final(self) -> bool:
        return self.state in ("done", "failed", "cancelled")

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the pace so far (queries done per second since the searches began); None until known."""
        if self.state != "running" or self.running_since is None or self.queries_done < 1 or not self.queries_total:
            return None
        pace = (time.monotonic() - self.running_since) / self.queries_done
        return max(0.0, pace * (self.queries_total - self.queries_done))

    @property
    def elapsed_s(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.monotonic()) - self.started

    @property
    def percent(self) -> int:
        return int(100 * self.queries_done / self.queries_total) if self.queries_total else 0


class EvalRunner:
    """Queued evaluation runs, one at a time, each in its own daemon thread waiting its turn."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.jobs: dict[str, EvalJob] = {}
        self._turn = threading.Lock()

    def get(self, job_id: str) -> EvalJob:
        job = self.jobs.get(job_id)
        if job is None:
            raise NotFound("no such evaluation run in progress (a restart forgets unfinished runs)")
        return job

    def recent(self) -> list[EvalJob]:
        return sorted(self.jobs.values(), key=lambda j: j.created, reverse=True)[:20]

    def start(self, actor: Actor, dataset: str, modes: list[str], ks: list[int], limit: int | None) -> EvalJob:
        from retrieval.profile import MODES

        choice = find_dataset(self.services, dataset)
        unknown = [m for m in modes if m not in (*MODES, "default")]
        if unknown or not modes:
            raise Invalid(f"choose at least one known mode ({', '.join(MODES)}, default)")
        if not ks or min(ks) < 1 or max(ks) > 1000:
            raise Invalid("k values are whole numbers from 1 to 1000")
        job = EvalJob(uuid.uuid4().hex[:12], choice.name, list(modes), sorted(set(ks)), limit, actor.name)
        self.jobs[job.id] = job
        threading.Thread(target=self._run, args=(job, choice, actor), name=f"inhouse-eval-{job.id}",
                         daemon=True).start()
        return job

    def start_answers(self, actor: Actor, dataset: str, limit: int | None) -> EvalJob:
        """Answer quality (``eval answers``) on a published set with gold answers, in the same queue."""
        choice = find_dataset(self.services, dataset)
        if choice.organisation or not choice.answers:
            raise Invalid(f"{choice.name} has no gold answers (answers.jsonl) and corpus: answer quality "
                          "needs both")
        job = EvalJob(uuid.uuid4().hex[:12], choice.name, ["answers"], [], limit, actor.name, kind="answers")
        self.jobs[job.id] = job
        threading.Thread(target=self._run, args=(job, choice, actor), name=f"inhouse-eval-{job.id}",
                         daemon=True).start()
        return job

    def start_tune(self, actor: Actor, dataset: str, limit: int | None, rerank: bool = True) -> EvalJob:
        """``eval tune`` in the same queue: the chosen profile is stored with the run, not applied."""
        choice = find_dataset(self.services, dataset)
        job = EvalJob(uuid.uuid4().hex[:12], choice.name, ["tune"], list(TUNE_KS), limit, actor.name, kind="tune",
                      rerank=rerank)
        self.jobs[job.id] = job
        threading.Thread(target=self._run, args=(job, choice, actor), name=f"inhouse-eval-{job.id}",
                         daemon=True).start()
        return job

    def cancel(self, actor: Actor, job_id: str) -> EvalJob:
        """Stop a run: a queued one at once, a running one at its next query (or build step); nothing is stored.

        The one who started it or an administrator may.
        """
        job = self.get(job_id)
        if actor.name != job.started_by and actor.role != "admin":
            raise Forbidden(f"only {job.started_by} (who started it) or an administrator can cancel this run")
        if job.final:
            raise Conflict(f"the run is already {job.state}")
        job.cancel_requested_by = actor.name
        if job.state == "queued":
            job.state, job.finished = "cancelled", time.monotonic()
        return job

    def _run(self, job: EvalJob, choice: DatasetChoice, actor: Actor) -> None:
        with self._turn:
            if job.state == "cancelled":
                return
            job.started = time.monotonic()
            try:
                measure = {"answers": self._answers, "tune": self._tune}.get(job.kind, self._measure)
                job.run_id = measure(job, choice, actor)
                job.state, job.queries_done = "done", job.queries_total
            except Cancelled:
                job.state = "cancelled"
            except (*EXPECTED, ValueError) as exc:
                job.state, job.error = "failed", str(exc)
            except Exception as exc:  # a bug: logged with its traceback, shown as a failure
                log.exception("evaluation run %s failed", job.id)
                job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
            job.finished = time.monotonic()

    @contextmanager
    def _target(self, job: EvalJob, choice: DatasetChoice, actor: Actor, progress: Progress
                ) -> Iterator[tuple[BeirDataset, str, object, list[str]]]:
        """(dataset, collection, open index, ACL tokens): a published set's public eval collection (built or
        reused), or the organisation's own set on the collection it came from, as ``actor``, judged only on
        what they may read."""
        from app.accounts.directory import acl_tokens, get_user
        from app.evaluation.collections import check_embed_model, ensure_collection
        from app.evaluation.org_data import read_origin, readable_only
        from eval.beir import load_beir
        from retrieval.schema import PUBLIC_TOKEN

        services = self.services
        origin = read_origin(choice.path) if choice.organisation else None
        dataset = load_beir(choice.path, job.limit, need_corpus=origin is None)
        job.state = "building"
        if origin is None:
            name, tokens = ensure_collection(services, dataset, progress).name, [PUBLIC_TOKEN]
        else:
            name = origin.collection
            with services.session() as session:
                tokens = acl_tokens(session, get_user(session, actor.name))
            check_embed_model(services, name)
        shared = name == services.settings.collection  # the server holds the main collection's only handle
        index = services.index if shared else services.open_index(name)
        try:
            if origin is not None:
                dataset = readable_only(index, tokens, dataset, actor.name)
            yield dataset, name, index, tokens
        finally:
            if not shared:
                index.close()

    def _measure(self, job: EvalJob, choice: DatasetChoice, actor: Actor) -> int:
        from app.evaluation.runs import save_run
        from eval.runner import run_modes

        services = self.services
        queries = 0

        def progress(stage: str, done: int, total: int) -> None:
            if job.cancel_requested_by is not None:
                raise Cancelled()
            job.stage = stage
            if stage in job.modes:
                job.queries_done = job.modes.index(stage) * queries + done

        with self._target(job, choice, actor, progress) as (dataset, name, index, tokens):
            queries = len(dataset.queries)
            job.queries_total = queries * len(job.modes)
            if job.cancel_requested_by is not None:
                raise Cancelled()
            job.state, job.running_since = "running", time.monotonic()
            results = run_modes(lambda profile: services.searcher_for(index, profile), dataset, job.modes, job.ks,
                                acl_tokens=tokens, stored=services.search_profile(name), progress=progress)
            if job.cancel_requested_by is not None:
                raise Cancelled()
            return save_run(services, dataset, name, results, job.ks, list(dataset.queries),
                            note=f"started in the browser by {actor.name}",
                            extra_settings={"as_user": actor.name} if choice.organisation else None)

    def _tune(self, job: EvalJob, choice: DatasetChoice, actor: Actor) -> int:
        """``eval tune`` without ``--save``: the run keeps the chosen profile and the tune's evidence
        (``settings["tune"]``); an evaluator applies it from the run's page."""
        from app.evaluation.runs import save_run
        from eval.tune import FIXED_MODES, TuneGrid, describe, split_queries, tune
        from retrieval.profile import SearchProfile

        services = self.services
        grid = TuneGrid() if job.rerank else replace(TuneGrid(), rerank_depths=())
        offsets: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if job.cancel_requested_by is not None:
                raise Cancelled()
            if stage not in offsets:  # stages come one after another: each starts where the last ended
                offsets[stage] = job.queries_done
            job.stage = stage
            job.queries_done = min(offsets[stage] + done, job.queries_total)

        with self._target(job, choice, actor, progress) as (dataset, name, index, tokens):
            tune_q, held_q = split_queries(list(dataset.queries))
            reranks = grid.rerank_finalists * len(grid.rerank_depths)
            job.queries_total = (len(tune_q) + len(grid.first_stage(SearchProfile())) + reranks
                                 + len(held_q) * (len(FIXED_MODES) + 1))
            job.state, job.running_since = "running", time.monotonic()
            result = tune(lambda profile: services.searcher_for(index, profile), lambda: services.cross_encoder,
                          name, dataset, grid, acl_tokens=tokens, ks=TUNE_KS, progress=progress)
            if job.cancel_requested_by is not None:
                raise Cancelled()
            evidence = json.loads(json.dumps({k: v for k, v in result.as_dict().items() if k != "run_id"},
                                             default=float))
            return save_run(services, dataset, name, result.held_out, list(TUNE_KS), result.held_qids, kind="tune",
                            note=f"held-out half of a tune started in the browser by {actor.name}; "
                                 f"chosen: {describe(result.chosen)}",
                            extra_settings={"tuned_profile": result.chosen.as_dict(), "tune": evidence,
                                            **({"as_user": actor.name} if choice.organisation else {})})

    def _answers(self, job: EvalJob, choice: DatasetChoice, actor: Actor) -> int:
        """Every question through the answer path (public documents of the set's own collection), stored as
        a run of kind ``answers`` whose one row holds the answer metrics."""
        from app.evaluation.answers import run_answer_eval
        from app.evaluation.runs import save_run
        from eval.beir import load_beir
        from eval.runner import ModeResult
        from retrieval.profile import SearchProfile

        dataset = load_beir(choice.path, job.limit)
        job.state = "building"

        def progress(stage: str, done: int, total: int) -> None:
            if job.cancel_requested_by is not None:
                raise Cancelled()
            job.stage = stage
            if stage == "answer":
                if job.state != "running":
                    job.state, job.running_since = "running", time.monotonic()
                job.queries_done, job.queries_total = done, total

        report = run_answer_eval(self.services, choice.path, job.limit, progress=progress)
        if job.cancel_requested_by is not None:
            raise Cancelled()
        summary = report.summary()
        metrics = {k: summary[k] for k in ANSWER_METRICS if summary.get(k) is not None}
        result = ModeResult(mode=f"answers ({report.backend or 'generative'})", profile=SearchProfile(),
                            metrics=metrics, latency_p50_ms=round(report.latency_p50_s * 1000, 1),
                            latency_p95_ms=round(report.latency_p95_s * 1000, 1),
                            rankings={o.id: per_question(o) for o in report.outcomes})
        qids = [o.id for o in report.outcomes]
        return save_run(self.services, dataset, report.collection, [result], [], qids, kind="answers",
                        note=f"answer quality started in the browser by {actor.name}",
                        extra_settings={"answer_model": report.model, "answer_backend": report.backend})


def per_question(o) -> dict[str, float]:
    """One question's numbers, stored with the run so two answer runs compare question by question."""
    return {"answer_hit": float(o.answer_hit), "not_found": float(o.not_found), "citations": float(o.citations),
            "citations_correct": float(o.citations_correct), "checked": float(o.checked_sentences),
            "unsupported": float(o.unsupported_sentences), "seconds": round(o.seconds, 4)}


ANSWER_METRICS = ("answer_recall", "citation_precision", "written_citation_precision", "unsupported_share",
                  "context_recall", "not_found_rate", "mean_support")
