"""One query of a stored run, searched again: its ranked hits with their dense, sparse and re-rank
ranks and scores, the judged ones marked, and the relevant documents the search missed.

The query is searched again through the same code path as a user's search, with the
mode's stored profile, on the run's collection and with the run's access: a run on a
published data set searches its public eval collection; a run on the organisation's own
set (``as_user``) searches as that user, through the same ACL filter.

The person looking may read less than the run's user, so on the organisation's set every
hit and every missed document is shown only when the **viewer** may read its document now
(the database decides, as for a search, ``library.access``); the others are withheld: their
rank stays (so the ranking is honest) with no title, no text, no id and no score. The
question itself is shown only when the viewer may read at least one document judged
relevant to it (a reader's question about the board's minutes says something too).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from app.errors import NotFound
from app.db.evaluation import EvalRun
from app.services import Services

SHOWN = 10  # hits listed


@dataclass
class DrillHit:
    rank: int
    visible: bool
    doc_id: str = ""
    chunk_id: str = ""
    title: str = ""
    source: str = ""
    text: str = ""
    score: float | None = None
    ranks: dict[str, int] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)
    grade: int | None = None  # the judgment on its document, None when not judged


@dataclass
class Missed:
    doc_id: str
    title: str
    grade: int


@dataclass
class Drilldown:
    run_id: int
    dataset: str
    query_id: str
    mode: str
    modes: list[str]
    as_user: str | None
    question: str | None  # None: withheld from this viewer
    hits: list[DrillHit]
    missed: list[Missed]
    withheld_hits: int
    withheld_missed: int
    stored_rank: dict[str, int]  # doc id -> rank in the stored run (visible documents only)
    collection: str = ""


def question_text(dataset_path: str, query_id: str) -> str:
    file = Path(dataset_path) / "queries.jsonl"
    if not file.is_file():
        raise NotFound(f"the data set's folder {dataset_path} no longer holds queries.jsonl; the query cannot be searched again")
    with file.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if str(row.get("_id")) == query_id:
                return str(row.get("text", ""))
    raise NotFound(f"query {query_id!r} is no longer in the data set's queries.jsonl")


def drilldown(services: Services, run_id: int, query_id: str, mode: str | None, viewer: str) -> Drilldown:
    from app.accounts.directory import acl_tokens, get_user
    from app.library.access import database_acl
    from app.db.library import Document
    from retrieval.profile import SearchProfile
    from retrieval.schema import PUBLIC_TOKEN

    with services.session() as session:
        run = session.get(EvalRun, run_id)
        if run is None:
            raise NotFound(f"no stored run {run_id}")
        if run.kind == "answers" or query_id not in (run.qrels or {}):
            raise NotFound(f"run {run_id} has no query {query_id!r}")
        modes = [r.mode for r in run.results]
        result = next((r for r in run.results if r.mode == mode), None) if mode else run.results[0]
        if result is None:
            raise NotFound(f"run {run_id} has no mode {mode!r} (it has {', '.join(modes)})")
        as_user = (run.settings or {}).get("as_user")
        judged = {d: int(g) for d, g in run.qrels[query_id].items()}
        stored = dict(sorted((result.rankings or {}).get(query_id, {}).items(), key=lambda kv: -kv[1]))
        profile = SearchProfile.from_dict(result.profile)
        collection, dataset_path, dataset = run.collection, run.dataset_path, run.dataset
        mode_name = result.mode
        if as_user is not None:
            search_tokens = acl_tokens(session, get_user(session, as_user))
            viewer_tokens = set(acl_tokens(session, get_user(session, viewer)))
        elif collection == services.settings.collection:  # the organisation's collection, no user named
            search_tokens = acl_tokens(session, get_user(session, viewer))
            viewer_tokens = set(search_tokens)
        else:
            search_tokens = [PUBLIC_TOKEN]
            viewer_tokens = None  # a published data set's public eval collection: everything in it is public

    shared = collection == services.settings.collection
    index = services.index if shared else services.open_index(collection)
    try:
        hits = services.searcher_for(index, profile).search(question_text(dataset_path, query_id), search_tokens,
                                                            k=SHOWN, profile=profile)
    finally:
        if not shared:
            index.close()

    def readable(doc_ids) -> set[str]:
        doc_ids = set(doc_ids)
        if viewer_tokens is None:
            return doc_ids
        with services.session() as session:
            acl = database_acl(session, doc_ids)
        return {d for d in doc_ids if acl.get(d, set()) & viewer_tokens}

    may_read = readable({h.doc_id for h in hits} | set(judged))
    shown: list[DrillHit] = []
    for n, h in enumerate(hits, 1):
        if h.doc_id not in may_read:
            shown.append(DrillHit(rank=n, visible=False))
            continue
        shown.append(DrillHit(rank=n, visible=True, doc_id=h.doc_id, chunk_id=h.chunk_id, title=h.title,
                              source=h.source, text=h.text,
                              score=round(h.score, 4), ranks=dict(h.ranks),
                              scores={k: round(v, 4) for k, v in h.scores.items()}, grade=judged.get(h.doc_id)))
    found = {h.doc_id for h in hits}
    relevant_missed = [d for d, g in judged.items() if g > 0 and d not in found]
    titles: dict[str, str] = {}
    visible_missed = [d for d in relevant_missed if d in may_read]
    if visible_missed and viewer_tokens is not None:
        with services.session() as session:
            titles = {d.id: d.title or d.source or "" for d in
                      session.query(Document).filter(Document.id.in_(visible_missed))}
    missed = [Missed(d, titles.get(d, ""), judged[d]) for d in visible_missed]
    question_visible = viewer_tokens is None or any(g > 0 and d in may_read for d, g in judged.items())
    return Drilldown(
        run_id=run_id, dataset=dataset, query_id=query_id, mode=mode_name, modes=modes, as_user=as_user,
        question=question_text(dataset_path, query_id) if question_visible else None,
        hits=shown, missed=missed, withheld_hits=sum(not h.visible for h in shown),
        withheld_missed=len(relevant_missed) - len(visible_missed),
        stored_rank={d: i for i, d in enumerate(stored, 1) if d in may_read}, collection=collection,
    )


def per_query_scores(run: EvalRun) -> dict[str, dict[str, float]]:
    """Each mode's nDCG@10 per query id (a mode ranx cannot score gets none)."""
    from eval.metrics import per_query

    qrels = run.qrels or {}
    per_mode: dict[str, dict[str, float]] = {}
    for r in run.results:
        try:
            per_mode[r.mode] = per_query(qrels, {q: r.rankings.get(q) or {"": 0.0} for q in qrels}) if qrels else {}
        except (ValueError, KeyError, AssertionError):  # ranx refuses a ranking it cannot score: no number shown
            per_mode[r.mode] = {}
    return per_mode


def query_rows(run: EvalRun, limit: int = 200, per_mode: dict[str, dict[str, float]] | None = None) -> list[dict]:
    """The run's query ids with each mode's nDCG@10, worst first: where a drill-down starts."""
    qrels = run.qrels or {}
    per_mode = per_query_scores(run) if per_mode is None else per_mode
    rows = [{"query": q, "scores": {m: per_mode[m].get(q) for m in per_mode}} for q in qrels]
    first = run.results[0].mode if run.results else None
    rows.sort(key=lambda r: (r["scores"].get(first) if r["scores"].get(first) is not None else 1.0, r["query"]))
    return rows[:limit]
