"""The gate: a saved baseline run per data set, and whether a new run fell below it.

A site puts `inhouse eval gate RUN` in front of a change of model, chunking or
profile: the change passes only if, for every mode both runs measured,
recall@10 and nDCG@10 are no more than ``tolerance`` below the baseline's.
Comparing stored aggregates (not re-running) keeps the gate a database read,
so the web pages can show pass/fail for every listed run cheaply.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from sqlalchemy.orm import Session

from app.accounts.actor import Actor
from app.errors import Invalid, NotFound
from app.db.evaluation import EvalBaseline, EvalRun
from app.services import Services

GATED = ("recall@10", "ndcg@10")
DEFAULT_TOLERANCE = 0.02


class NoBaseline(NotFound):
    code = "no_baseline"


@dataclass
class GateRow:
    mode: str
    metric: str
    baseline: float
    value: float
    delta: float
    ok: bool


@dataclass
class GateResult:
    run_id: int
    dataset: str
    baseline_run_id: int
    tolerance: float
    passed: bool
    rows: list[GateRow] = field(default_factory=list)
    same_data: bool = True  # False: the data set's files changed since the baseline

    def as_dict(self) -> dict:
        return asdict(self)


def _run(session: Session, run_id: int) -> EvalRun:
    run = session.get(EvalRun, run_id)
    if run is None:
        raise NotFound(f"no stored run {run_id}; list them with `inhouse eval list`")
    return run


def set_baseline(services: Services, actor: Actor, run_id: int) -> dict:
    """Make this run its data set's baseline (replacing any earlier one)."""
    with services.session() as session:
        run = _run(session, run_id)
        if run.kind == "answers":
            raise Invalid(f"run {run.id} measured answers, not retrieval: the gate's baseline is a retrieval run")
        row = session.get(EvalBaseline, run.dataset)
        if row is None:
            session.add(EvalBaseline(dataset=run.dataset, run_id=run.id, set_by=actor.name))
        else:
            row.run_id, row.set_by = run.id, actor.name
        return {"dataset": run.dataset, "baseline_run_id": run.id, "set_by": actor.name}


def baselines(session: Session) -> dict[str, int]:
    """Data set name → its baseline run id."""
    return {b.dataset: b.run_id for b in session.query(EvalBaseline).all()}


def judge(run: EvalRun, baseline: EvalRun, tolerance: float) -> GateResult:
    """Every gated metric of every mode both runs measured."""
    if tolerance < 0:
        raise Invalid("the tolerance cannot be negative")
    mine = {r.mode: r.metrics for r in run.results}
    rows = []
    for base in baseline.results:
        for metric in GATED:
            if metric not in base.metrics or metric not in mine.get(base.mode, {}):
                continue
            before, after = float(base.metrics[metric]), float(mine[base.mode][metric])
            rows.append(GateRow(base.mode, metric, round(before, 4), round(after, 4), round(after - before, 4),
                                after >= before - tolerance - 1e-9))
    if not rows:
        raise Invalid(f"run {run.id} and its baseline {baseline.id} share no mode with recall@10 or nDCG@10 "
                      f"(run: {', '.join(mine) or 'none'}; baseline: {', '.join(r.mode for r in baseline.results)})")
    return GateResult(run.id, run.dataset, baseline.id, tolerance, all(r.ok for r in rows), rows,
                      run.dataset_hash == baseline.dataset_hash)


def gate_run(services: Services, run_id: int, tolerance: float = DEFAULT_TOLERANCE) -> GateResult:
    with services.session() as session:
        run = _run(session, run_id)
        base_id = baselines(session).get(run.dataset)
        if base_id is None:
            raise NoBaseline(f"the data set {run.dataset!r} has no baseline yet: "
                             f"set one with `inhouse eval gate --set-baseline RUN`")
        return judge(run, _run(session, base_id), tolerance)
