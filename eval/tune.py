"""Choose a collection's search profile from its judgments, on half of the queries.

The queries are split in two by the hash of their id (deterministic, and
independent of file order): the profile is chosen on the *tune* half and
reported on the *held-out* half next to every fixed mode.

1. Each tune query's dense and sparse candidate lists are fetched once, as
   deep as the deepest candidate count tried (``HybridSearcher.candidates``).
2. Every first-stage profile in the grid (dense, sparse, weighted α, RRF k
   and weights, DBSF; × candidate counts) is replayed over those lists with
   ``HybridSearcher.rank``, the same fusion and shaping code a search runs,
   and scored by nDCG@10 (ranx). To avoid picking a lucky spike, a profile's
   score is averaged with its neighbours on the α axis, and near-ties go to
   the profile closest to the defaults.
3. Re-ranking is tried on the best first-stage profiles at a few depths, with
   cross-encoder scores memoised per (query, passage). It is switched on only
   when the best depth beats no re-ranking by at least ``min_gain``
   nDCG@10 *and* ranx's paired t-test gives p < ``max_p``: re-ranking costs
   latency, so it has to earn its place.
4. Last, the result must beat the best *fixed* mode on the tune half by the
   same margin and significance; if it does not, that fixed mode is chosen.
   Departing from a well-understood mode needs evidence, which is what keeps
   a profile from fitting one half's noise.
5. The chosen profile and the fixed modes run on the held-out half through
   the full search path (``eval.runner``); the run is stored, and the profile
   becomes the collection's search profile.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import numpy as np

from eval.progress import Progress, no_progress
from eval.beir import BeirDataset
from eval.metrics import doc_ranking, score, significance
from eval.runner import MemoScorer, ModeResult, SearcherFactory, run_modes
from retrieval.profile import SearchProfile
from retrieval.rerank import PairScorer
from retrieval.schema import PUBLIC_TOKEN, IndexFilter
from retrieval.search import Candidates, HybridSearcher

TUNE_K = 20  # chunk hits per replayed search: enough for ten distinct documents
FIXED_MODES = ("dense", "sparse", "hybrid", "hybrid+rerank")


@dataclass(frozen=True)
class TuneGrid:
    candidates: tuple[int, ...] = (50, 100, 200)
    alphas: tuple[float, ...] = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
    rrf_ks: tuple[int, ...] = (10, 30, 60)
    rrf_alphas: tuple[float, ...] = (0.3, 0.5, 0.7)
    rerank_depths: tuple[int, ...] = (10, 20, 30)
    rerank_finalists: int = 2  # first-stage profiles re-ranking is tried on
    tie_tolerance: float = 0.002  # nDCG@10 within this of the best counts as a tie
    min_gain: float = 0.005
    max_p: float = 0.05

    def first_stage(self, base: SearchProfile) -> list[SearchProfile]:
        base = replace(base, rerank=False)
        out = [replace(base, mode="dense"), replace(base, mode="sparse")]
        for c in self.candidates:
            hybrid = replace(base, mode="hybrid", candidates=c)
            out += [replace(hybrid, fusion="weighted", dense_weight=a) for a in self.alphas]
            out += [replace(hybrid, fusion="rrf", rrf_k=k, dense_weight=a) for k in self.rrf_ks for a in self.rrf_alphas]
            out.append(replace(hybrid, fusion="dbsf", dense_weight=0.5))
        return out


@dataclass
class Trial:
    profile: SearchProfile
    ndcg: float
    smoothed: float = 0.0
    per_query: dict[str, float] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict:
        return {"profile": describe(self.profile), "ndcg@10": round(self.ndcg, 4), "smoothed": round(self.smoothed, 4)}


@dataclass
class TuneResult:
    collection: str
    chosen: SearchProfile
    tune_qids: list[str]
    held_qids: list[str]
    first_stage: list[Trial]
    rerank_trials: list[Trial]
    rerank_p_value: float | None
    held_out: list[ModeResult]
    tune_half: dict[str, float]  # fixed modes and the chosen profile on the tune half
    run_id: int | None = None
    guard: dict = field(default_factory=dict)  # the tuned-vs-best-fixed-mode check

    def as_dict(self) -> dict:
        held = {r.mode: r.summary() for r in self.held_out}
        tuned = held.get("tuned", {}).get("ndcg@10", 0.0)
        fixed = {m: v["ndcg@10"] for m, v in held.items() if m != "tuned"}
        return {
            "run_id": self.run_id,
            "collection": self.collection,
            "profile": self.chosen.as_dict(),
            "profile_summary": describe(self.chosen),
            "split": {
                "rule": "queries ordered by sha256 of their id; first half tunes, second half reports",
                "tune": len(self.tune_qids), "held_out": len(self.held_qids),
            },
            "tune_half_ndcg@10": self.tune_half,
            "first_stage_top": [t.as_dict() for t in self.first_stage[:8]],
            "rerank_trials": [t.as_dict() for t in self.rerank_trials],
            "rerank_p_value": self.rerank_p_value,
            "against_best_fixed_mode": self.guard,
            "held_out": held,
            "tuned_at_least_as_good_as_every_fixed_mode": all(tuned >= v for v in fixed.values()),
        }


def describe(p: SearchProfile) -> str:
    if p.mode != "hybrid":
        head = p.mode
    elif p.fusion == "weighted":
        head = f"hybrid weighted α={p.dense_weight:g} c={p.candidates}"
    elif p.fusion == "rrf":
        head = f"hybrid rrf k={p.rrf_k} α={p.dense_weight:g} c={p.candidates}"
    else:
        head = f"hybrid dbsf c={p.candidates}"
    return f"{head} + rerank@{p.rerank_depth}" if p.rerank else head


def split_queries(qids: Sequence[str]) -> tuple[list[str], list[str]]:
    """Half to tune on, half to report on; the same split on every run and machine."""
    ordered = sorted(qids, key=lambda q: hashlib.sha256(q.encode()).hexdigest())
    tune = set(ordered[: len(ordered) // 2])
    return [q for q in qids if q in tune], [q for q in qids if q not in tune]


def _truncate(c: Candidates, depth: int) -> Candidates:
    return Candidates(dense=c.dense[:depth], sparse=c.sparse[:depth])


def replay(searcher: HybridSearcher, dataset: BeirDataset, cands: dict[str, Candidates], profile: SearchProfile) -> dict[str, dict]:
    """Document rankings of ``profile`` over cached candidates: fusion, re-ranking and shaping as in search."""
    depth = max(profile.candidates, searcher.depth(TUNE_K, profile))
    rankings = {}
    for qid, c in cands.items():
        hits = searcher.rank(dataset.queries[qid], _truncate(c, depth), profile, TUNE_K)
        rankings[qid] = doc_ranking((h.doc_id for h in hits), 10)
    return rankings


def _ndcg(qrels: dict, rankings: dict) -> float:
    return score(qrels, rankings, [10])["ndcg@10"]


def _smooth(trials: list[Trial]) -> None:
    """Average each hybrid trial with its α-neighbours (same fusion, k and candidate count)."""
    by_axis: dict[tuple, list[Trial]] = {}
    for t in trials:
        p = t.profile
        by_axis.setdefault((p.mode, p.fusion, p.rrf_k, p.candidates), []).append(t)
    for group in by_axis.values():
        group.sort(key=lambda t: t.profile.dense_weight)
        for i, t in enumerate(group):
            neighbours = group[max(i - 1, 0) : i + 2] if t.profile.mode == "hybrid" and t.profile.fusion != "dbsf" else [t]
            t.smoothed = float(np.mean([n.ndcg for n in neighbours]))


def _distance_from_default(p: SearchProfile) -> float:
    d = SearchProfile()
    return (
        (p.mode != d.mode) * 1.0 + (p.fusion != d.fusion) * 0.5 + abs(p.dense_weight - d.dense_weight)
        + (p.candidates != d.candidates) * 0.1 + (p.rrf_k != d.rrf_k) * 0.05
    )


def _pick(trials: list[Trial], tolerance: float) -> Trial:
    best = max(t.smoothed for t in trials)
    near = [t for t in trials if t.smoothed >= best - tolerance]
    return min(near, key=lambda t: (_distance_from_default(t.profile), -t.smoothed))


def collect_candidates(
    searcher: HybridSearcher, dataset: BeirDataset, qids: Sequence[str], acl_tokens: Sequence[str], depth: int,
    progress: Progress = no_progress,
) -> dict[str, Candidates]:
    profile = SearchProfile(mode="hybrid", fusion="weighted", candidates=depth)
    flt = IndexFilter(acl_tokens=list(acl_tokens))
    out = {}
    for n, qid in enumerate(qids, 1):
        out[qid] = searcher.candidates(dataset.queries[qid], flt, profile, depth)
        progress("candidates", n, len(qids))
    return out


def tune(
    make_searcher: SearcherFactory, cross_encoder: Callable[[], PairScorer], collection: str, dataset: BeirDataset,
    grid: TuneGrid = TuneGrid(),
    acl_tokens: Sequence[str] = (PUBLIC_TOKEN,), ks: Sequence[int] = (1, 3, 5, 10, 100),
    progress: Progress = no_progress,
) -> TuneResult:
    tune_qids, held_qids = split_queries(list(dataset.queries))
    if not tune_qids or not held_qids:
        raise ValueError("tuning needs at least two judged queries (one to tune on, one to report on)")
    base = SearchProfile()
    memo = MemoScorer(cross_encoder()) if grid.rerank_depths else None
    searcher = make_searcher(base)
    if memo is not None:
        searcher.cross_encoder = lambda: memo
    qrels = {q: dataset.qrels[q] for q in tune_qids}
    cands = collect_candidates(searcher, dataset, tune_qids, acl_tokens, max(grid.candidates), progress)

    profiles = grid.first_stage(base)
    trials = []
    for n, profile in enumerate(profiles, 1):
        trials.append(Trial(profile, _ndcg(qrels, replay(searcher, dataset, cands, profile))))
        progress("first stage", n, len(profiles))
    _smooth(trials)
    trials.sort(key=lambda t: -t.smoothed)
    chosen_trial = _pick(trials, grid.tie_tolerance)

    rerank_trials: list[Trial] = []
    p_value = None
    chosen = chosen_trial.profile
    if memo is not None:
        finalists = [chosen_trial] + [t for t in trials if t is not chosen_trial][: grid.rerank_finalists - 1]
        plan = [(f, d) for f in finalists for d in grid.rerank_depths]
        for n, (finalist, d) in enumerate(plan, 1):
            profile = replace(finalist.profile, rerank=True, rerank_depth=d)
            rankings = replay(searcher, dataset, cands, profile)
            rerank_trials.append(Trial(profile, _ndcg(qrels, rankings), per_query=rankings))
            progress("re-rank", n, len(plan))
        rerank_trials.sort(key=lambda t: -t.ndcg)
        best = rerank_trials[0]
        source = next(f for f in finalists if replace(f.profile, rerank=True, rerank_depth=best.profile.rerank_depth) == best.profile)
        plain = replay(searcher, dataset, cands, source.profile)
        test = significance(qrels, {"plain": plain, "rerank": best.per_query}, ["ndcg@10"])
        p_value = test["p_values"]["rerank"]["plain"]["ndcg@10"]
        gain = best.ndcg - _ndcg(qrels, plain)
        if gain >= grid.min_gain and p_value < grid.max_p:
            chosen = best.profile
        for t in rerank_trials:
            t.smoothed = t.ndcg

    # The last guard against over-fitting: a tuned profile replaces the best fixed mode (on the tune
    # half) only if it beats it by min_gain with p < max_p; otherwise that fixed mode is chosen.
    fixed_rankings = {
        mode: replay(searcher, dataset, cands, SearchProfile.for_mode(mode, base))
        for mode in FIXED_MODES if mode != "hybrid+rerank" or memo is not None
    }
    tune_half = {mode: _ndcg(qrels, r) for mode, r in fixed_rankings.items()}
    best_mode = max(fixed_rankings, key=lambda m: tune_half[m])  # ties go to the cheaper (earlier) mode
    best_fixed = SearchProfile.for_mode(best_mode, base)
    tuned_rankings = replay(searcher, dataset, cands, chosen)
    tune_half["tuned"] = _ndcg(qrels, tuned_rankings)
    guard = {"best_fixed_mode": best_mode, "gain": round(tune_half["tuned"] - tune_half[best_mode], 4), "p_value": None}
    if chosen != best_fixed:
        test = significance(qrels, {"tuned": tuned_rankings, "fixed": fixed_rankings[best_mode]}, ["ndcg@10"])
        guard["p_value"] = test["p_values"]["tuned"]["fixed"]["ndcg@10"]
        if not (guard["gain"] >= grid.min_gain and guard["p_value"] < grid.max_p):
            chosen = best_fixed
            tune_half["tuned"] = tune_half[best_mode]
    guard["kept"] = "fixed mode" if chosen == best_fixed else "tuned profile"
    held = run_modes(
        make_searcher, dataset, FIXED_MODES, ks, held_qids, acl_tokens, extra={"tuned": chosen}, progress=progress,
    )
    return TuneResult(collection, chosen, tune_qids, held_qids, trials, rerank_trials, p_value, held, tune_half,
                      guard=guard)
