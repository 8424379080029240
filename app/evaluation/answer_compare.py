"""Two answer-quality runs side by side: each metric with its difference, a paired test where the
runs stored per-question numbers, and the questions one run answered and the other did not.

A run of kind ``answers`` keeps one row of metrics and, since this page exists, each question's
numbers in the row's ``rankings`` (``background.per_question``). Older runs have none: their
metrics are still compared, without p-values or per-question lists. Only numbers and question ids
are shown, as on every compare page.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.db.evaluation import EvalRun
from app.errors import Invalid, NotFound
from app.services import Services
from eval.paired import mcnemar_exact, paired_t

# metric, how a question contributes (None: no per-question test), whether lower is better
COMPARED: tuple[tuple[str, str, bool], ...] = (
    ("answer_recall", "hit", False),
    ("citation_precision", "citations", False),
    ("unsupported_share", "unsupported", True),
    ("not_found_rate", "not_found", True),
    ("context_recall", "", False),
    ("mean_support", "", False),
)


@dataclass
class AnswerComparison:
    a: int
    b: int
    a_label: str
    b_label: str
    same_data: bool
    datasets: tuple[str, str]
    paired: int  # questions both runs stored numbers for (0: older runs, no paired test)
    metrics: list[dict] = field(default_factory=list)  # metric, a, b, delta, p, better ("a" | "b" | "")
    wins: list[dict] = field(default_factory=list)  # answered by b, not by a
    losses: list[dict] = field(default_factory=list)  # answered by a, not by b
    kind: str = "answers"
    modes: list = field(default_factory=list)  # none: the retrieval comparison's per-mode sections


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def _pairs(qa: dict, qb: dict, shared: list[str], key: str) -> tuple[list[float], list[float]]:
    """Paired per-question values of one metric; questions where either side has no value are left out."""
    xs, ys = [], []
    for q in shared:
        x, y = qa[q], qb[q]
        if key == "hit":
            pair = (x["answer_hit"], y["answer_hit"])
        elif key == "not_found":
            pair = (x["not_found"], y["not_found"])
        elif key == "citations":
            pair = (_ratio(x["citations_correct"], x["citations"]), _ratio(y["citations_correct"], y["citations"]))
        elif key == "unsupported":
            pair = (_ratio(x["unsupported"], x["checked"]), _ratio(y["unsupported"], y["checked"]))
        else:  # seconds
            pair = (x["seconds"], y["seconds"])
        if pair[0] is not None and pair[1] is not None:
            xs.append(float(pair[0]))
            ys.append(float(pair[1]))
    return xs, ys


def _better(delta: float, lower_is_better: bool) -> str:
    if abs(delta) < 1e-9:
        return ""
    return "b" if (delta < 0) == lower_is_better else "a"


def compare_answers(services: Services, a: int, b: int) -> AnswerComparison:
    with services.session() as session:
        runs = [session.get(EvalRun, n) for n in (a, b)]
        for n, run in zip((a, b), runs):
            if run is None:
                raise NotFound(f"no stored run {n}")
        if any(r.kind != "answers" or not r.results for r in runs):
            raise Invalid("an answer-quality run compares with another answer-quality run only")
        (ra, rb), (xa, xb) = runs, (runs[0].results[0], runs[1].results[0])
        qa = {q: v for q, v in (xa.rankings or {}).items() if isinstance(v, dict) and "answer_hit" in v}
        qb = {q: v for q, v in (xb.rankings or {}).items() if isinstance(v, dict) and "answer_hit" in v}
        shared = [q for q in qa if q in qb]
        cmp = AnswerComparison(a, b, f"{a}: {xa.mode}", f"{b}: {xb.mode}", ra.dataset_hash == rb.dataset_hash,
                               (ra.dataset, rb.dataset), len(shared))
        for metric, key, lower in COMPARED:
            va, vb = xa.metrics.get(metric), xb.metrics.get(metric)
            if va is None or vb is None:
                continue
            p = None
            if key and shared:
                xs, ys = _pairs(qa, qb, shared, key)
                p = mcnemar_exact([x > 0 for x in xs], [y > 0 for y in ys]) if key in ("hit", "not_found") \
                    else paired_t(xs, ys)
            delta = round(float(vb) - float(va), 4)
            cmp.metrics.append({"metric": metric, "a": va, "b": vb, "delta": delta,
                                "p": None if p is None else round(p, 4), "better": _better(delta, lower)})
        for name, va, vb in (("latency_p50_ms", xa.latency_p50_ms, xb.latency_p50_ms),
                             ("latency_p95_ms", xa.latency_p95_ms, xb.latency_p95_ms)):
            p = None
            if name == "latency_p50_ms" and shared:
                p = round(paired_t(*_pairs(qa, qb, shared, "seconds")), 4)
            delta = round(float(vb) - float(va), 1)
            cmp.metrics.append({"metric": name, "a": va, "b": vb, "delta": delta, "p": p,
                                "better": _better(delta, True)})
        for q in sorted(shared):
            hit_a, hit_b = qa[q]["answer_hit"] > 0, qb[q]["answer_hit"] > 0
            row = {"query": q, "a_seconds": qa[q]["seconds"], "b_seconds": qb[q]["seconds"]}
            if hit_b and not hit_a:
                cmp.wins.append(row)
            elif hit_a and not hit_b:
                cmp.losses.append(row)
        return cmp
