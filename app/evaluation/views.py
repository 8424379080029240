"""What the evaluation pages show, read from the stored runs: the list with the gate, one run, two compared.

Only numbers and query ids leave here, never a passage or a document's text or
id: a run on the organisation's own documents was made as one reader, and the
evaluator looking at it may read less than they did. Query ids of a set exported
from feedback are hashes, not questions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from app.errors import Invalid, NotFound
from app.evaluation.answer_compare import AnswerComparison, compare_answers
from app.db.evaluation import EvalRun
from app.db.library import IndexCollection
from app.evaluation.gate import DEFAULT_TOLERANCE, GateResult, baselines, judge
from app.evaluation.background import ANSWER_METRICS
from app.evaluation.drilldown import per_query_scores, query_rows
from app.evaluation.runs import load_results
from app.services import Services
from eval.metrics import per_query, significance
from eval.svg import distribution, latency_edges, line_chart, recall_curves

COMPARED = ("ndcg@10", "recall@10", "precision@10", "mrr@10")


def _gate(run: EvalRun, base_id: int | None, session) -> GateResult | None:
    if base_id is None or base_id == run.id:
        return None
    try:
        return judge(run, session.get(EvalRun, base_id), DEFAULT_TOLERANCE)
    except Invalid:  # no shared mode: the gate says nothing about this run
        return None


def gate_label(run: EvalRun, base_id: int | None, session) -> str:
    """baseline | pass | fail | '' (no baseline, or nothing to compare)."""
    if base_id == run.id:
        return "baseline"
    result = _gate(run, base_id, session)
    return "" if result is None else ("pass" if result.passed else "fail")


def list_view(services: Services, limit: int = 100) -> list[dict]:
    with services.session() as session:
        bases = baselines(session)
        runs = session.scalars(select(EvalRun).order_by(EvalRun.id.desc()).limit(limit)).all()
        return [{
            "id": r.id, "created_at": r.created_at, "kind": r.kind, "dataset": r.dataset, "queries": r.query_count,
            "as_user": (r.settings or {}).get("as_user"),
            "modes": [{"mode": x.mode, "ndcg": x.metrics.get("ndcg@10"), "recall": x.metrics.get("recall@10")}
                      for x in r.results],
            "gate": gate_label(r, bases.get(r.dataset), session),
        } for r in runs]


def _k_metric_names(ks: list[int]) -> list[str]:
    return [f"{m}@{k}" for m in ("ndcg", "recall", "precision") for k in ks]


def run_view(services: Services, run_id: int) -> dict:
    with services.session() as session:
        run = session.get(EvalRun, run_id)
        if run is None:
            raise NotFound(f"no stored run {run_id}")
        bases = baselines(session)
        ks = list(run.ks)
        answers = run.kind == "answers"
        scores = {} if answers else per_query_scores(run)
        names = list(ANSWER_METRICS) if answers else _k_metric_names(ks) + ["mrr@10"]
        columns = [c for c in names if any(c in x.metrics for x in run.results)]
        rows = [{"mode": x.mode, "metrics": x.metrics, "p50": x.latency_p50_ms, "p95": x.latency_p95_ms}
                for x in run.results]
        gate = _gate(run, bases.get(run.dataset), session)
        return {
            "id": run.id, "created_at": run.created_at, "kind": run.kind, "dataset": run.dataset,
            "queries": run.query_count, "collection": run.collection, "git_commit": run.git_commit,
            "note": run.note, "as_user": (run.settings or {}).get("as_user"), "ks": ks, "columns": columns,
            "rows": rows, "is_baseline": bases.get(run.dataset) == run.id,
            "baseline_id": bases.get(run.dataset), "gate": gate,
            "tune": _tune_panel(session, run),
            "query_rows": [] if answers else query_rows(run, per_mode=scores),
            "svg": "" if answers else line_chart(recall_curves({x.mode: x.metrics for x in run.results}),
                                                 f"recall@k per mode, run {run.id}"),
            "score_svg": "" if answers else _score_chart(run.id, scores),
            "latency_svg": "" if answers else _latency_chart(run),
        }


SCORE_EDGES = [round(0.1 * i, 1) for i in range(10)]


def _score_chart(run_id: int, scores: dict[str, dict[str, float]]) -> str:
    """How each mode's nDCG@10 spreads over the queries: many zeros and many ones read differently
    from one mean."""
    series = {mode: distribution(list(per.values()), SCORE_EDGES) for mode, per in scores.items() if per}
    if not series:
        return ""
    return line_chart(series, f"per-query nDCG@10 per mode, run {run_id}", x_label="nDCG@10 (bin from)",
                      y_label="share of queries")


def _latency_chart(run: EvalRun) -> str:
    """Each mode's search latency over the queries (runs stored before 0017 kept only p50/p95: none)."""
    timed = {x.mode: x.latencies_ms for x in run.results if x.latencies_ms}
    if not timed:
        return ""
    edges = latency_edges([v for values in timed.values() for v in values])
    return line_chart({mode: distribution(values, edges) for mode, values in timed.items()},
                      f"search latency per mode, run {run.id}", x_label="ms (bin from)", y_label="share of queries")


def _tune_panel(session, run: EvalRun) -> dict | None:
    """A tune run's choice next to the fixed modes on the held-out half, and the collection's profile now."""
    from app.evaluation.profiles import describe
    from retrieval.profile import SearchProfile

    chosen = (run.settings or {}).get("tuned_profile")
    if run.kind != "tune" or chosen is None:
        return None
    evidence = (run.settings or {}).get("tune") or {}
    row = session.get(IndexCollection, run.collection)
    current = row.search_profile if row is not None else None
    held = {x.mode: x.metrics.get("ndcg@10") for x in run.results}
    fixed = {m: v for m, v in held.items() if m != "tuned" and v is not None}
    best = max(fixed, key=lambda m: fixed[m]) if fixed else None
    return {
        "chosen": describe(chosen), "current": describe(current), "collection": run.collection,
        "collection_exists": row is not None,
        "in_use": SearchProfile.from_dict(current).as_dict() == SearchProfile.from_dict(chosen).as_dict(),
        "tuned_ndcg": held.get("tuned"), "best_fixed": best, "best_fixed_ndcg": fixed.get(best),
        "held_out": held, "tune_half": evidence.get("tune_half_ndcg@10") or {},
        "guard": evidence.get("against_best_fixed_mode") or {}, "rerank_p": evidence.get("rerank_p_value"),
        "split": evidence.get("split") or {},
    }


@dataclass
class ModeComparison:
    mode: str
    a_label: str
    b_label: str
    queries: int
    metrics: list[dict] = field(default_factory=list)  # metric, a, b, delta, p
    wins: list[dict] = field(default_factory=list)  # query id, a, b, delta (b better), largest first
    losses: list[dict] = field(default_factory=list)


def compare_view(services: Services, a: int, b: int, stat_test: str = "student") -> "dict | AnswerComparison":
    """Each mode both runs measured (or their first modes, when none is shared), B against A.
    Two answer-quality runs: ``answer_compare.compare_answers``."""
    with services.session() as session:
        kinds = {n: getattr(session.get(EvalRun, n), "kind", None) for n in (a, b)}
    if "answers" in kinds.values():
        return compare_answers(services, a, b)
    left, right = load_results(services, [str(a)]), load_results(services, [str(b)])
    pairs = [(x, y) for x in left for y in right if x.mode == y.mode] or [(left[0], right[0])]
    out = []
    for x, y in pairs:
        shared = [q for q in x.qrels if q in x.rankings and q in y.rankings]
        qrels = {q: x.qrels[q] for q in shared}
        metrics = [m for m in COMPARED if m in x.metrics and m in y.metrics]
        test = significance(qrels, {x.label: x.rankings, y.label: y.rankings}, metrics, stat_test)
        cmp = ModeComparison(x.mode if x.mode == y.mode else f"{x.mode} vs {y.mode}", x.label, y.label, test["queries"])
        for m in metrics:
            va, vb = test["scores"][x.label][m], test["scores"][y.label][m]
            cmp.metrics.append({"metric": m, "a": va, "b": vb, "delta": round(vb - va, 4),
                                "p": round(test["p_values"][y.label][x.label][m], 4)})
        if qrels:
            pa, pb = per_query(qrels, x.rankings), per_query(qrels, y.rankings)
            deltas = [{"query": q, "a": round(pa[q], 4), "b": round(pb[q], 4), "delta": round(pb[q] - pa[q], 4)}
                      for q in pa if q in pb and abs(pb[q] - pa[q]) > 1e-9]
            cmp.wins = sorted((d for d in deltas if d["delta"] > 0), key=lambda d: -d["delta"])[:20]
            cmp.losses = sorted((d for d in deltas if d["delta"] < 0), key=lambda d: d["delta"])[:20]
        out.append(cmp)
    return {"a": a, "b": b, "kind": "run", "stat_test": stat_test, "modes": out,
            "same_data": left[0].dataset_hash == right[0].dataset_hash,
            "datasets": (left[0].dataset, right[0].dataset)}
