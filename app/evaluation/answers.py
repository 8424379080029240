"""Answer quality on a question-answering set with gold answers (BEIR folder + answers.jsonl).

The corpus is indexed once into its own collection (``app.evaluation.collections``, the
same chunking and encoders as uploads, cached by content), then every question
goes through the same ``AnswerService`` path as ``inhouse ask``. Reported:

* **answer recall**: share of questions whose answer contains a gold answer
  string (SQuAD normalisation: lower case, no punctuation or articles);
* **citation precision**: share of citations whose passage contains a gold
  answer string, i.e. the passage really holds the supporting text (written
  markers and inferred ones, and written ones alone);
* **unsupported share**: unsupported sentences over checked sentences;
* context recall (a gold answer in any passage shown), not-found rate, mean
  support and latency, to tell retrieval misses from generation misses.
"""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from app.answering.service import AnswerResult, AnswerService
from app.progress import Progress, no_progress
from app.services import Services
from eval.metrics import normalise_answer


def contains_any(text: str, golds: list[str]) -> bool:
    """A gold answer appears in the text as whole words, after SQuAD's normalisation."""
    norm = f" {normalise_answer(text)} "
    return any(f" {normalise_answer(g)} " in norm for g in golds if normalise_answer(g))


@dataclass
class QuestionOutcome:
    id: str
    question: str
    gold: list[str]
    answer: str
    answer_hit: bool
    context_hit: bool
    citations: int
    citations_correct: int
    written_citations: int
    written_correct: int
    checked_sentences: int
    unsupported_sentences: int
    support: float
    not_found: bool
    seconds: float

    @classmethod
    def score(cls, qid: str, gold: list[str], result: AnswerResult) -> "QuestionOutcome":
        by_n = {p.n: p for p in result.passages}
        correct = [contains_any(by_n[c.n].text, gold) for c in result.citations]
        written = [ok for c, ok in zip(result.citations, correct) if not c.inferred]
        statuses = [s["status"] for s in result.sentences]
        return cls(
            id=qid, question=result.question, gold=sorted(set(gold)), answer=result.answer,
            answer_hit=not result.not_found and contains_any(result.answer, gold),
            context_hit=any(contains_any(p.text, gold) for p in result.passages),
            citations=len(correct), citations_correct=sum(correct),
            written_citations=len(written), written_correct=sum(written),
            checked_sentences=sum(s in ("supported", "unsupported") for s in statuses),
            unsupported_sentences=statuses.count("unsupported"), support=result.support,
            not_found=result.not_found, seconds=result.timings_ms.get("total", 0.0) / 1000,
        )


@dataclass
class AnswerEvalReport:
    dataset: str
    collection: str
    questions: int
    model: str | None
    backend: str | None
    answer_recall: float
    citation_precision: float | None
    written_citation_precision: float | None
    unsupported_share: float | None
    context_recall: float
    not_found_rate: float
    mean_support: float
    latency_p50_s: float
    latency_p95_s: float
    outcomes: list[QuestionOutcome] = field(default_factory=list)

    def summary(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "outcomes"}


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def summarise(dataset: str, collection: str, outcomes: list[QuestionOutcome], model, backend) -> AnswerEvalReport:
    n = len(outcomes) or 1
    times = sorted(o.seconds for o in outcomes) or [0.0]
    return AnswerEvalReport(
        dataset=dataset, collection=collection, questions=len(outcomes), model=model, backend=backend,
        answer_recall=round(sum(o.answer_hit for o in outcomes) / n, 4),
        citation_precision=_ratio(sum(o.citations_correct for o in outcomes), sum(o.citations for o in outcomes)),
        written_citation_precision=_ratio(sum(o.written_correct for o in outcomes),
                                          sum(o.written_citations for o in outcomes)),
        unsupported_share=_ratio(sum(o.unsupported_sentences for o in outcomes),
                                 sum(o.checked_sentences for o in outcomes)),
        context_recall=round(sum(o.context_hit for o in outcomes) / n, 4),
        not_found_rate=round(sum(o.not_found for o in outcomes) / n, 4),
        mean_support=round(statistics.fmean(o.support for o in outcomes), 4) if outcomes else 0.0,
        latency_p50_s=round(times[len(times) // 2], 3),
        latency_p95_s=round(times[min(len(times) - 1, int(0.95 * len(times)))], 3),
        outcomes=outcomes,
    )


def run_answer_eval(
    services: Services, dataset_dir: Path, limit: int | None = None, as_user: str | None = None,
    progress: Progress = no_progress, mode: str | None = None, *, offset: int = 0,
) -> AnswerEvalReport:
    """``mode``: "generative" or "extractive"; None follows the ``answer_mode`` setting.

    ``offset`` skips that many judged questions first, so a setting chosen on one slice
    (``--limit 200``) can be read on the next (``--offset 200 --limit 200``)."""
    from app.accounts.directory import acl_tokens, get_user
    from eval.beir import DatasetError, load_beir
    from app.evaluation.collections import ensure_collection
    from retrieval.schema import PUBLIC_TOKEN

    dataset = load_beir(dataset_dir, limit=None if limit is None else offset + limit)
    if not dataset.answers:
        raise DatasetError(f"{dataset_dir} has no answers.jsonl: answer quality needs gold answers")
    built = ensure_collection(services, dataset, progress)
    tokens, user_id = [PUBLIC_TOKEN], None
    if as_user:
        with services.session() as session:
            user = get_user(session, as_user)
            tokens, user_id = acl_tokens(session, user), user.id
    index = services.open_index(built.name)
    try:
        searcher = services.searcher_for(index, services.search_profile(built.name))
        service = AnswerService(services, searcher=searcher, mode=mode, dataset_collection=True)
        ids = [q for q in dataset.query_ids if dataset.answers.get(q)][offset:]

        async def run_all() -> list[QuestionOutcome]:  # one event loop: the vLLM engine lives on it
            outcomes = []
            for done, qid in enumerate(ids, 1):
                result = await service.answer(dataset.queries[qid].strip(), tokens, user_id,
                                              store=user_id is not None)
                outcomes.append(QuestionOutcome.score(qid, dataset.answers[qid], result))
                progress("answer", done, len(ids))
            return outcomes

        outcomes = asyncio.run(run_all())
    finally:
        index.close()
    if service.mode == "extractive":  # quoted by the cross-encoder; the generator was never loaded
        model, backend = getattr(service.scorer, "model_id", None), "extractive"
    else:
        model, backend = getattr(service.generator, "model_id", None), getattr(service.generator, "backend", None)
    return summarise(dataset.name, built.name, outcomes, model, backend)
