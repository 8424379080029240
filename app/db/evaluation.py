"""SQL tables of the evaluation suite: built eval collections, stored runs, feedback judgments, profile changes.

A run keeps everything needed to compare it later without the data set at
hand: its settings, model ids, data set hash, git commit, the judgments it
was scored against and each mode's per-query document rankings.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db.base import Base, utcnow


class EvalCollection(Base):
    """A BEIR corpus indexed for evaluation; ``status`` is ready once every chunk is written."""

    __tablename__ = "eval_collections"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    dataset: Mapped[str] = mapped_column(String(200))
    corpus_hash: Mapped[str] = mapped_column(String(64))
    cache_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="building")
    documents: Mapped[int] = mapped_column(Integer, default=0)
    chunks: Mapped[int] = mapped_column(Integer, default=0)
    built_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class EvalRun(Base):
    __tablename__ = "eval_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    kind: Mapped[str] = mapped_column(String(20), default="run")  # run | tune
    dataset: Mapped[str] = mapped_column(String(200))
    dataset_path: Mapped[str] = mapped_column(String(2000))
    dataset_hash: Mapped[str] = mapped_column(String(64))
    collection: Mapped[str] = mapped_column(String(200))
    query_count: Mapped[int] = mapped_column(Integer, default=0)
    query_limit: Mapped[int | None] = mapped_column(Integer)
    git_commit: Mapped[str | None] = mapped_column(String(64))
    settings: Mapped[dict] = mapped_column(JSON)  # retrieval-relevant settings and profiles per mode
    models: Mapped[dict] = mapped_column(JSON)  # embed, rerank, bm25 model ids
    ks: Mapped[list] = mapped_column(JSON)
    qrels: Mapped[dict] = mapped_column(JSON)  # the judgments it was scored against
    note: Mapped[str | None] = mapped_column(Text)

    results: Mapped[list["EvalResult"]] = relationship(
        back_populates="run", cascade="all, delete-orphan", passive_deletes=True, order_by="EvalResult.id"
    )


class EvalResult(Base):
    """One mode (or profile) of a run: its metrics, latency and per-query rankings."""

    __tablename__ = "eval_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("eval_runs.id", ondelete="CASCADE"), index=True)
    mode: Mapped[str] = mapped_column(String(100))
    profile: Mapped[dict] = mapped_column(JSON)
    metrics: Mapped[dict] = mapped_column(JSON)
    latency_p50_ms: Mapped[float] = mapped_column(Float, default=0.0)
    latency_p95_ms: Mapped[float] = mapped_column(Float, default=0.0)
    # query id -> {doc id: score}, best first; in a run of kind "answers": query id -> that question's numbers
    rankings: Mapped[dict] = mapped_column(JSON)
    latencies_ms: Mapped[list | None] = mapped_column(JSON)  # each query's search, for the latency plot (0017)

    run: Mapped[EvalRun] = relationship(back_populates="results")


class FeedbackJudgment(Base):
    """A reader's verdict on a passage shown for a question: grade 1 relevant, 0 wrong source."""

    __tablename__ = "feedback_judgments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    collection: Mapped[str] = mapped_column(String(200))
    query: Mapped[str] = mapped_column(Text)
    query_id: Mapped[str] = mapped_column(String(40), index=True)  # hash of the normalised query
    doc_id: Mapped[str] = mapped_column(String(64))
    chunk_id: Mapped[str | None] = mapped_column(String(36))
    grade: Mapped[int] = mapped_column(Integer)
    verdict: Mapped[str] = mapped_column(String(20))  # up | wrong_sources | review | relevant | not_relevant
    origin: Mapped[str] = mapped_column(String(10), default="reader", server_default="reader")
    # reader | review | evaluator (added from a query's page, app.evaluation.judging)
    answer_id: Mapped[str | None] = mapped_column(String(64))


class EvalBaseline(Base):
    """The run a data set's new runs are gated against (`inhouse eval gate`): one per data set."""

    __tablename__ = "eval_baselines"

    dataset: Mapped[str] = mapped_column(String(200), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("eval_runs.id", ondelete="CASCADE"))
    set_by: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SearchProfileChange(Base):
    """Who set a collection's search profile, when, from which tune run, and what it was before.

    The audit record of applying a tuned profile (from the browser or `inhouse eval tune --save`)
    and what makes it reversible: restoring puts back ``before`` of the latest change not yet
    reverted, and records that as a change of its own (``reverted`` names it).
    """

    __tablename__ = "search_profile_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    changed_by: Mapped[str] = mapped_column(String(200))
    collection: Mapped[str] = mapped_column(String(200), index=True)
    action: Mapped[str] = mapped_column(String(20))  # apply | restore
    before: Mapped[dict | None] = mapped_column(JSON)  # None: the code's defaults
    after: Mapped[dict | None] = mapped_column(JSON)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("eval_runs.id", ondelete="SET NULL"))
    reverted: Mapped[int | None] = mapped_column(Integer)  # on a restore: the change it undid
    reverted_by: Mapped[int | None] = mapped_column(Integer)  # on an apply: the restore that undid it
