"""Ask a question as a user: rewrite → search → budget → generate → cite → verify → store.

The one path every front end uses (CLI, web, evaluation, benchmarks), so the
rules hold everywhere:

* the search runs with the user's ACL tokens, computed from the database for
  this request; the passages are checked once more against the ``acl`` of
  their index points before the model sees them (the same field the search
  filtered on), so a citation can only ever point at a passage the user may
  read;
* when nothing readable comes back, the answer is "not found in the documents
  you can access" and the model is not called at all;
* ``stream`` yields typed events (``app.answering.events``): ``Status`` as each
  stage begins, ``Token`` text as it is written, then one ``Answer``; they map
  one to one onto server-sent events. Stage times come from one ``Tracer``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass, field
from typing import AsyncIterator, Callable

from sqlalchemy import delete, select

from app.answering.events import Answer, AnswerEvent, Status, Token
from app.db.answers import AnswerPassage, AnswerRecord
from app.library.access import readable_in_database
from app.services import Services
from app.tracing import Tracer
from inference.answer_mode import AnswerMode, resolve_answer_mode
from inference.budget import fit_prompt
from inference.extractive import ExtractiveSettings, extract_answer
from inference.citations import parse_citations
from inference.prompting import NOT_FOUND_ANSWER, Passage
from inference.rewrite import rewrite_followup
from inference.types import ChatMessage, GenerationParams, GenerationStats
from inference.verify import Verification, best_quote, verify_answer
from retrieval.schema import IndexFilter

ANSWER_STOPS = ("\nQuestion:", "\nPassages:", "\n\n\n")


@dataclass
class Citation:
    n: int
    doc_id: str
    title: str
    source: str
    page: int | None
    quote: str
    chunk_id: str
    char_start: int
    char_end: int
    inferred: bool
    support: float

    def as_dict(self) -> dict:
        return {**asdict(self), "support": round(self.support, 4)}


@dataclass
class AnswerResult:
    question: str
    query: str
    answer: str
    citations: list[Citation] = field(default_factory=list)
    support: float = 0.0
    unsupported_sentences: list[str] = field(default_factory=list)
    sentences: list[dict] = field(default_factory=list)
    not_found: bool = False
    rewrite_method: str = "none"
    passages: list[Passage] = field(default_factory=list)  # what the model was shown
    passages_dropped: int = 0  # retrieved but over the token budget
    mode: str = "generative"  # or "extractive": sentences quoted from the passages, no generator
    why: dict[str, dict] = field(default_factory=dict)  # chunk id -> search ranks and scores, heading path
    conversation_id: int | None = None
    answer_id: int | None = None
    backend: str | None = None
    model: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None
    timings_ms: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """The DESIGN.md shape (answer, citations, support, unsupported_sentences) plus details."""
        return {
            "answer": self.answer,
            "citations": [c.as_dict() for c in self.citations],
            "support": round(self.support, 4),
            "unsupported_sentences": self.unsupported_sentences,
            "not_found": self.not_found,
            "question": self.question,
            "query": self.query,
            "rewrite_method": self.rewrite_method,
            "sentences": self.sentences,
            "answer_id": self.answer_id,
            "model": self.model,
            "backend": self.backend,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "finish_reason": self.finish_reason,
            "passages_shown": len(self.passages),
            "passages_dropped": self.passages_dropped,
            "mode": self.mode,
            "conversation_id": self.conversation_id,
            "timings_ms": self.timings_ms,
        }


def passage_from_hit(hit, n: int) -> Passage:
    return Passage(
        n=n, text=hit.text, title=hit.title, doc_id=hit.doc_id, chunk_id=hit.chunk_id, source=hit.source,
        page=hit.page, score=float(hit.score), char_start=hit.char_start, char_end=hit.char_end,
    )


def readable_hits(index, hits: list, acl_tokens: list[str]) -> list:
    """Only hits whose every index point carries one of the user's tokens in ``acl``."""
    ids = [cid for h in hits for cid in (h.chunk_ids or [h.chunk_id])]
    acl = {p.id: set(p.payload.get("acl") or ()) for p in index.get(ids)} if ids else {}
    allowed = set(acl_tokens)
    return [h for h in hits if all(acl.get(cid, set()) & allowed for cid in (h.chunk_ids or [h.chunk_id]))]


def build_citations(verification: Verification, passages: list[Passage]) -> list[Citation]:
    by_n = {p.n: p for p in passages}
    claims: dict[int, list[str]] = {}
    written: set[int] = set()
    support: dict[int, float] = {}
    for s in verification.sentences:
        for n in s.cited:
            claims.setdefault(n, []).append(s.text)
            support[n] = max(support.get(n, 0.0), s.support)
            if not s.inferred:
                written.add(n)
    out = []
    for n, texts in claims.items():
        p = by_n[n]
        out.append(Citation(n, p.doc_id, p.title, p.source, p.page, best_quote(p.text, texts), p.chunk_id,
                            p.char_start, p.char_end, inferred=n not in written, support=support[n]))
    return out


class AnswerService:
    def __init__(
        self, services: Services, generator=None, searcher=None, scorer=None, mode: AnswerMode | None = None,
        dataset_collection: bool = False,
    ) -> None:
        """``dataset_collection``: the searcher reads an evaluation collection built from a dataset
        folder, whose documents have no rows in the database (and are readable by everyone), so the
        database access check is skipped; only ``eval answers`` sets it."""
        self.services = services
        self.dataset_collection = dataset_collection
        self.settings = services.settings
        self._generator, self._searcher, self._scorer = generator, searcher, scorer
        self.mode: AnswerMode = mode or resolve_answer_mode(self.settings)

    @property
    def generator(self):
        return self._generator if self._generator is not None else self.services.generator

    @property
    def searcher(self):
        return self._searcher if self._searcher is not None else self.services.searcher

    @property
    def scorer(self):
        return self._scorer if self._scorer is not None else self.services.cross_encoder

    def params(self) -> GenerationParams:
        s = self.settings
        return GenerationParams(max_tokens=s.generator_max_tokens, temperature=s.generator_temperature,
                                top_p=s.generator_top_p, stop=ANSWER_STOPS)

    # ---- the flow ----------------------------------------------------------
    async def stream(
        self, question: str, acl_tokens: list[str], user_id: int | None = None,
        history: list[ChatMessage] | None = None, store: bool = True,
        where: IndexFilter | None = None, conversation_id: int | None = None,
    ) -> AsyncIterator[AnswerEvent]:
        """``where`` narrows the search (document types, chosen documents); it never widens the ACL."""
        trace = Tracer()
        history = (history or [])[-self.settings.answer_history_turns:] if self.settings.answer_history_turns else []
        yield Status("searching")
        with trace.span("rewrite"):
            if history:
                how = self.settings.answer_rewrite
                if how == "model" and self.mode == "extractive":
                    how = "concat"  # no generator is loaded for extractive answers
                rewrite = await rewrite_followup(self.generator if how == "model" else None, history, question, how)
            else:
                rewrite = await rewrite_followup(None, [], question)
        with trace.span("search"):
            searcher = self.searcher
            hits = searcher.search(rewrite.query, acl_tokens, k=self.settings.answer_passages, where=where)
            hits = readable_hits(searcher.index, hits, acl_tokens)
            if not self.dataset_collection:
                hits = readable_in_database(self.services, hits, acl_tokens)  # the payload may be stale; SQL decides
        result = AnswerResult(question, rewrite.query, NOT_FOUND_ANSWER, rewrite_method=rewrite.method,
                              not_found=True, timings_ms=trace.timings_ms, mode=self.mode,
                              conversation_id=conversation_id)
        result.why = {h.chunk_id: {"ranks": h.ranks, "scores": {k: round(v, 4) for k, v in h.scores.items()},
                                   "heading_path": h.heading_path, "chunk_ids": h.chunk_ids or [h.chunk_id],
                                   "span": [h.char_start, h.char_end]} for h in hits}
        yield Status("found", len(hits))
        if not hits:
            trace.finish()
            yield Answer(self._store(result, user_id) if store else result)
            return
        if self.mode == "extractive":
            for event in self.quote(rewrite.query, hits, result, trace):
                yield event
            trace.finish()
            yield Answer(self._store(result, user_id) if store else result)
            return

        gen = self.generator
        params = self.params()
        ranked = [passage_from_hit(h, i + 1) for i, h in enumerate(hits)]
        prompt = fit_prompt(gen, question, ranked, history, params.max_tokens)
        if not prompt.passages:
            trace.finish()
            result.passages_dropped = len(prompt.dropped)
            yield Answer(self._store(result, user_id) if store else result)
            return
        stats = GenerationStats()
        pieces: list[str] = []
        yield Status("generating")
        with trace.span("generate"):
            started = time.perf_counter()
            async for piece in gen.generate(prompt.messages, params, stats):
                if not pieces:
                    trace.mark("first_token", started)
                pieces.append(piece)
                yield Token(piece)

        yield Status("verifying")
        with trace.span("verify"):
            parsed = parse_citations("".join(pieces), len(prompt.passages))
            verification = verify_answer(parsed, prompt.passages, self.scorer, self.settings.answer_min_support)
        result.answer, result.not_found = parsed.text, False
        result.citations = build_citations(verification, prompt.passages)
        result.support = verification.support
        result.unsupported_sentences = verification.unsupported
        result.sentences = [s.as_dict() for s in verification.sentences]
        result.passages, result.passages_dropped = prompt.passages, len(prompt.dropped)
        result.backend, result.model = gen.backend, gen.model_id
        result.prompt_tokens = stats.prompt_tokens or prompt.prompt_tokens
        result.completion_tokens, result.finish_reason = stats.completion_tokens, stats.finish_reason
        trace.finish()
        yield Answer(self._store(result, user_id) if store else result)

    def quote(self, query: str, hits: list, result: "AnswerResult", trace: Tracer):
        """The extractive answer: quoted sentences, verified and cited like a generated one.

        When the search re-ranked its hits with the same cross-encoder, each passage's
        ``rerank`` score is how well it answers the query already, so extraction does not
        score the whole passages a second time (the costliest pairs: up to 512 tokens)."""
        yield Status("quoting")
        scorer = self.scorer
        passages = [passage_from_hit(h, i + 1) for i, h in enumerate(hits)]
        reranked = {p.n: h.scores["rerank"] for p, h in zip(passages, hits) if "rerank" in h.scores}
        with trace.span("extract"):
            extracted = extract_answer(
                query, passages, scorer, ExtractiveSettings(min_score=self.settings.answer_extractive_min_score),
                passage_logits=reranked if len(reranked) == len(passages) else None,
            )
        result.backend, result.model, result.passages = "extractive", getattr(scorer, "model_id", None), passages
        if extracted.not_found:
            return  # "not found in the documents you can access": nothing scored well enough to quote
        yield Token(extracted.text)
        yield Status("verifying")
        with trace.span("verify"):
            parsed = parse_citations(extracted.text, len(passages))
            verification = verify_answer(parsed, passages, scorer, self.settings.answer_min_support)
        result.answer, result.not_found = parsed.text, False
        result.citations = build_citations(verification, passages)
        result.support = verification.support
        result.unsupported_sentences = verification.unsupported
        result.sentences = [s.as_dict() for s in verification.sentences]

    async def answer(
        self, question: str, acl_tokens: list[str], user_id: int | None = None,
        history: list[ChatMessage] | None = None, on_token: Callable[[str], None] | None = None,
        store: bool = True, where: IndexFilter | None = None, conversation_id: int | None = None,
    ) -> AnswerResult:
        final: AnswerResult | None = None
        async for event in self.stream(question, acl_tokens, user_id, history, store, where, conversation_id):
            if isinstance(event, Token) and on_token is not None:
                on_token(event.text)
            elif isinstance(event, Answer):
                final = event.result
        assert final is not None
        return final

    def ask(
        self, question: str, user_name: str, history: list[ChatMessage] | None = None,
        on_token: Callable[[str], None] | None = None,
    ) -> AnswerResult:
        """Blocking form for scripts and the CLI: the user's tokens are read fresh for this question."""
        from app.accounts.directory import acl_tokens, get_user

        with self.services.session() as session:
            user = get_user(session, user_name)
            tokens, user_id = acl_tokens(session, user), user.id
        return asyncio.run(self.answer(question, tokens, user_id, history, on_token))

    # ---- storage ------------------------------------------------------------
    def _store(self, result: AnswerResult, user_id: int | None) -> AnswerResult:
        cited = {c.n: c for c in result.citations}
        with self.services.session() as session:
            row = AnswerRecord(
                user_id=user_id, conversation_id=result.conversation_id, question=result.question, query=result.query,
                rewrite_method=result.rewrite_method, answer=result.answer, not_found=result.not_found,
                support=result.support, sentences=result.sentences,
                citations=[c.as_dict() for c in result.citations], backend=result.backend, model=result.model,
                prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens,
                finish_reason=result.finish_reason, timings_ms=result.timings_ms,
                passages_dropped=result.passages_dropped,
            )
            row.passages = [
                AnswerPassage(n=p.n, document_id=p.doc_id, chunk_id=p.chunk_id, score=p.score,
                              cited=p.n in cited, inferred=bool(cited.get(p.n) and cited[p.n].inferred),
                              support=cited[p.n].support if p.n in cited else None, why=result.why.get(p.chunk_id))
                for p in result.passages
            ]
            session.add(row)
            session.flush()
            result.answer_id = row.id
        return result


def delete_answers_for_document(session, document_id: str) -> list[int]:
    """Remove every stored answer that showed a passage of this document, with its passages.

    Called by ``app.library.actions.delete_document``: an answer quotes its
    passages, so it must not outlive the right to read them. Returns the ids
    removed, so feedback given on those answers can go too.
    """
    ids = sorted(set(session.scalars(
        select(AnswerPassage.answer_id).where(AnswerPassage.document_id == document_id)
    )))
    if ids:
        session.execute(delete(AnswerPassage).where(AnswerPassage.answer_id.in_(ids)))
        session.execute(delete(AnswerRecord).where(AnswerRecord.id.in_(ids)))
    return ids
