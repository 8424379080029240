"""Stored runs: what was measured, on what, with which code, models and settings.

``eval.runner`` and ``eval.tune`` measure; this module keeps what they measured
(``eval_runs``, ``eval_results``) so that `inhouse eval compare|plot|list` can
read it back later without the data set at hand.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from sqlalchemy import select

from app.errors import NotFound
from app.db.evaluation import EvalResult, EvalRun
from app.services import Services
from eval.beir import BeirDataset
from eval.runner import ModeResult

REPO = Path(__file__).resolve().parents[2]


class RunNotFound(NotFound):
    code = "run_not_found"


def git_commit(repo: Path = REPO) -> str | None:
    """HEAD's hash, with ``+dirty`` when the working tree differs from it (read-only git calls)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--"], cwd=repo, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}+dirty" if dirty.returncode == 1 else head


def settings_snapshot(services: Services) -> dict:
    s = services.settings
    keys = (
        "index_backend", "embed_model", "embed_backend", "embed_max_tokens", "chunk_size", "chunk_overlap",
        "near_duplicate_threshold", "bm25_language", "rerank_model", "rerank_backend",
    )
    return {k: getattr(s, k) for k in keys if hasattr(s, k)}


def model_ids(services: Services) -> dict:
    s = services.settings
    return {
        "embed": s.embed_model_path.name,
        "rerank": s.model_path(s.rerank_model).name,
        "bm25": f"{services.bm25.model_id}-avg{getattr(services.bm25, 'avg_len', '')}",
        # What every dense query was prefixed with: two runs that differ only in it must not look alike.
        "query_instruction": getattr(services.encoder, "query_instruction", None),
    }


def save_run(
    services: Services, dataset: BeirDataset, collection: str, results: Sequence[ModeResult], ks: Sequence[int],
    qids: Sequence[str], kind: str = "run", note: str | None = None, extra_settings: dict | None = None,
) -> int:
    with services.session() as session:
        run = EvalRun(
            kind=kind, dataset=dataset.name, dataset_path=str(dataset.path), dataset_hash=dataset.content_hash,
            collection=collection, query_count=len(qids), query_limit=dataset.limit, git_commit=git_commit(),
            settings={**settings_snapshot(services), **(extra_settings or {})}, models=model_ids(services),
            ks=list(ks), qrels={q: dataset.qrels[q] for q in qids}, note=note,
        )
        for r in results:
            run.results.append(
                EvalResult(
                    mode=r.mode, profile=r.profile.as_dict(), metrics=r.metrics, latency_p50_ms=r.latency_p50_ms,
                    latency_p95_ms=r.latency_p95_ms, rankings=r.rankings, latencies_ms=r.latencies_ms or None,
                )
            )
        session.add(run)
        session.flush()
        return run.id


@dataclass
class StoredResult:
    run_id: int
    mode: str
    label: str  # "RUN:mode", unique across a comparison
    metrics: dict
    latency_p50_ms: float
    latency_p95_ms: float
    rankings: dict
    qrels: dict
    dataset: str
    dataset_hash: str


def load_results(services: Services, refs: Sequence[str]) -> list[StoredResult]:
    """``RUN`` (all its modes) or ``RUN:MODE``, in the order given."""
    out: list[StoredResult] = []
    with services.session() as session:
        for ref in refs:
            run_part, _, mode = ref.partition(":")
            try:
                run = session.get(EvalRun, int(run_part))
            except ValueError:
                run = None
            if run is None:
                raise RunNotFound(f"no stored run {run_part!r}; list them with `inhouse eval list`")
            chosen = [r for r in run.results if not mode or r.mode == mode]
            if not chosen:
                known = ", ".join(r.mode for r in run.results)
                raise RunNotFound(f"run {run.id} has no mode {mode!r} (it has {known})")
            for r in chosen:
                out.append(StoredResult(
                    run.id, r.mode, f"{run.id}:{r.mode}", r.metrics, r.latency_p50_ms, r.latency_p95_ms,
                    r.rankings, run.qrels, run.dataset, run.dataset_hash,
                ))
    return out


def list_runs(services: Services, limit: int = 50) -> list[dict]:
    with services.session() as session:
        runs = session.scalars(select(EvalRun).order_by(EvalRun.id.desc()).limit(limit)).all()
        return [
            {
                "run_id": r.id, "created_at": r.created_at.isoformat(), "kind": r.kind, "dataset": r.dataset,
                "queries": r.query_count, "collection": r.collection, "git_commit": r.git_commit,
                "modes": {x.mode: x.metrics.get("ndcg@10") for x in r.results},
            }
            for r in runs
        ]
