"""IR metrics through ranx: nothing here computes a metric by hand.

Rankings are ``{query id: {doc id: score}}``. Document-level rankings come
from chunk hits by first occurrence (``doc_ranking``). Answer recall@k (does
any of the top k passages contain a gold answer?) is ranx's hit rate over
per-query judgments that mark the retrieved passages holding an answer.
"""

from __future__ import annotations

import math
import re
import string
import warnings
from typing import Iterable, Sequence

from ranx import Qrels, Run, compare, evaluate

try:  # numba's cast warning from inside ranx's nDCG is noise, not a problem of ours
    from numba.core.errors import NumbaTypeSafetyWarning

    warnings.filterwarnings("ignore", category=NumbaTypeSafetyWarning)
except ImportError:  # pragma: no cover
    pass

DEFAULT_KS = (1, 3, 5, 10, 100)
_NO_ANSWER = "\x00no-passage-holds-an-answer"


def metric_names(ks: Sequence[int]) -> list[str]:
    names = [f"recall@{k}" for k in ks] + [f"precision@{k}" for k in ks]
    return names + ["mrr@10", "ndcg@10"]


def doc_ranking(doc_ids: Iterable[str], depth: int) -> dict[str, float]:
    """Documents in the order their first chunk appears; scores strictly decrease."""
    ranking: dict[str, float] = {}
    for doc_id in doc_ids:
        if doc_id not in ranking:
            ranking[doc_id] = float(depth - len(ranking))
            if len(ranking) >= depth:
                break
    return ranking


def _qrels(qrels: dict[str, dict[str, int]]) -> Qrels:
    return Qrels({q: {d: int(g) for d, g in docs.items()} for q, docs in qrels.items()})


def _run(rankings: dict[str, dict[str, float]], qids: Iterable[str], name: str = "run") -> Run:
    data = {q: dict(rankings.get(q) or {}) for q in qids}
    for q, docs in data.items():
        if not docs:  # ranx needs every query present; an empty answer matches nothing
            docs["\x00nothing-retrieved"] = 0.0
    return Run(data, name=name)


def score(qrels: dict[str, dict[str, int]], rankings: dict[str, dict[str, float]], ks: Sequence[int]) -> dict[str, float]:
    """Mean recall@k, precision@k, MRR@10 and nDCG@10 over the judged queries."""
    result = evaluate(_qrels(qrels), _run(rankings, qrels), metric_names(ks), make_comparable=True)
    if isinstance(result, float):  # one metric comes back bare
        result = {metric_names(ks)[0]: result}
    return {k: round(float(v), 4) for k, v in result.items()}


def per_query(qrels: dict[str, dict[str, int]], rankings: dict[str, dict[str, float]], metric: str = "ndcg@10") -> dict[str, float]:
    qids = list(qrels)
    values = evaluate(_qrels(qrels), _run(rankings, qids), metric, return_mean=False, make_comparable=True)
    return {q: float(v) for q, v in zip(sorted(qids), values)} if len(values) == len(qids) else {}


def normalise_answer(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def answer_recall(
    passages: dict[str, list[str]], answers: dict[str, list[str]], ks: Sequence[int]
) -> dict[str, float]:
    """Share of questions with a gold answer string inside one of the top k passages."""
    judged: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for qid, gold in answers.items():
        wanted = [normalise_answer(a) for a in gold if normalise_answer(a)]
        texts = passages.get(qid, [])
        run[qid] = {f"{i}": float(len(texts) - i) for i in range(len(texts))}
        hits = {f"{i}": 1 for i, text in enumerate(texts) if any(a in normalise_answer(text) for a in wanted)}
        judged[qid] = hits or {_NO_ANSWER: 1}
    if not judged:
        return {}
    names = [f"hit_rate@{k}" for k in ks]
    result = evaluate(_qrels(judged), _run(run, judged), names, make_comparable=True)
    if isinstance(result, float):
        result = {names[0]: result}
    return {f"answer_recall@{name.split('@')[1]}": round(float(v), 4) for name, v in result.items()}


def significance(
    qrels: dict[str, dict[str, int]], named_rankings: dict[str, dict[str, dict[str, float]]],
    metrics: Sequence[str], stat_test: str = "student",
) -> dict:
    """ranx's paired test between every pair of rankings, over the queries they share."""
    qids = [q for q in qrels if all(q in r for r in named_rankings.values())] or list(qrels)
    judged = {q: qrels[q] for q in qids}
    runs = [_run(r, qids, name) for name, r in named_rankings.items()]
    report = compare(_qrels(judged), runs, list(metrics), stat_test=stat_test, make_comparable=True)
    raw = report.to_dict()
    out: dict = {"stat_test": raw["stat_test"], "queries": len(qids), "scores": {}, "p_values": {}}
    for name in raw["model_names"]:
        out["scores"][name] = {m: round(float(v), 4) for m, v in raw[name]["scores"].items()}
        out["p_values"][name] = {  # identical per-query scores give NaN: no evidence of a difference, p = 1
            other: {m: 1.0 if math.isnan(float(p)) else float(p) for m, p in by_metric.items()}
            for other, by_metric in raw[name]["comparisons"].items()
        }
    return out
