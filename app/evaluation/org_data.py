"""Evaluation over the organisation's own documents reads as one user, never as everyone.

An eval collection built from a corpus file is public (``eval.collection``), which
is right for a published test set and wrong for the organisation's documents: the
red team read the board minutes from an eval collection built from a feedback
export, as a user in no group, after the document was deleted (issue 15, W1/W7).
So the organisation's text never leaves its collection for evaluation:

* ``eval export-feedback`` writes questions and judgments, and for each judged
  document only its id and its access at export time (``ORIGIN_FILE``), never its
  text, into a folder only this account can read;
* such a folder is evaluated on the collection it came from, through the same ACL
  filter as a search, as a user the operator names (``--as``); judgments on
  documents that user cannot read (or that were deleted since) are dropped before
  the run, so neither the scores nor the stored run reveal them;
* a corpus file that holds documents of this installation (an export made before
  this rule) is refused rather than indexed as public;
* deleting a document drops any eval collection and cached chunks still holding it
  (``forget_document``), so an older build cannot keep its text.
"""

from __future__ import annotations

import json
import shutil
import stat
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import select

from app.errors import Invalid
from app.db.evaluation import EvalCollection
from app.services import Services
from app.db.library import Document, IndexCollection
from eval.beir import BeirDataset
from retrieval.schema import IndexFilter

ORIGIN_FILE = "inhouse-origin.json"


class OrganisationDataError(Invalid):
    code = "organisation_data"


@dataclass(frozen=True)
class Origin:
    """Where an exported set's judged documents live, and who could read them when it was exported."""

    collection: str
    documents: dict[str, dict]  # doc id -> {"groups": [...], "public": bool}


def read_origin(folder: Path) -> Origin | None:
    file = Path(folder) / ORIGIN_FILE
    if not file.exists():
        return None
    data = json.loads(file.read_text(encoding="utf-8"))
    return Origin(data["collection"], data.get("documents", {}))


def write_origin(folder: Path, origin: Origin) -> None:
    (Path(folder) / ORIGIN_FILE).write_text(
        json.dumps({"collection": origin.collection, "documents": origin.documents}, indent=1), encoding="utf-8"
    )


def private_folder(folder: Path) -> Path:
    """``folder``, created 0700, or refused when other accounts can already look into it.

    An export holds every reader's questions and which documents answer them.
    """
    folder = Path(folder)
    if folder.exists():
        if folder.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise OrganisationDataError(
                f"{folder} can be read by other accounts; export into a new folder or run `chmod 700 {folder}`"
            )
    else:
        folder.mkdir(parents=True, mode=0o700)
        folder.chmod(0o700)  # mkdir's mode is cut by the umask; say it exactly
    return folder


def make_private(folder: Path) -> None:
    """Every file and folder under ``folder`` readable by this account only."""
    for path in Path(folder).rglob("*"):
        path.chmod(0o700 if path.is_dir() else 0o600)


def refuse_organisation_corpus(services: Services, dataset: BeirDataset) -> None:
    """Refuse to build a public eval collection from a corpus holding this installation's documents."""
    ids = list(dataset.corpus)
    with services.session() as session:
        for start in range(0, len(ids), 500):
            found = session.scalar(select(Document.id).where(Document.id.in_(ids[start : start + 500])).limit(1))
            if found is not None:
                raise OrganisationDataError(
                    f"{dataset.path} holds documents of this organisation (e.g. {found}); an eval collection "
                    "would make them readable by everyone. Export the feedback again with `inhouse eval "
                    "export-feedback` and evaluate it as a reader with --as USER"
                )


def readable_only(index, tokens: list[str], dataset: BeirDataset, reader: str) -> BeirDataset:
    """The data set without judgments on documents ``tokens`` cannot read (nor deleted ones).

    Looked up through the ACL filter inside the index, as a search would; a query
    left without a relevant readable document is dropped.
    """
    judged = sorted({d for docs in dataset.qrels.values() for d in docs})
    readable: set[str] = set()
    for start in range(0, len(judged), 500):
        where = IndexFilter(acl_tokens=tokens, doc_ids=judged[start : start + 500])
        readable |= {h.payload.get("doc_id") for h in index.scroll(["doc_id"], where)}
    qrels = {q: {d: g for d, g in docs.items() if d in readable} for q, docs in dataset.qrels.items()}
    qrels = {q: docs for q, docs in qrels.items() if any(g > 0 for g in docs.values())}
    if not qrels:
        raise OrganisationDataError(f"{reader} can read none of the documents judged relevant in {dataset.path}")
    queries = {q: t for q, t in dataset.queries.items() if q in qrels}
    answers = {q: a for q, a in dataset.answers.items() if q in qrels} if dataset.answers else dataset.answers
    return replace(dataset, queries=queries, qrels=qrels, answers=answers, corpus={})


def forget_document(services: Services, doc_id: str) -> list[str]:
    """Drop every eval collection, and every cache of chunks, that holds ``doc_id``; their names.

    Only builds made before organisation data was refused can hold one; they are
    caches of a corpus file, rebuilt on the next run.
    """
    dropped: list[str] = []
    with services.session() as session:
        names = list(session.scalars(select(EvalCollection.name)))
    for name in names:
        index = services.open_index(name)
        try:
            holds = index.count(IndexFilter(doc_ids=[doc_id])) > 0
            if holds:
                index.drop()
        finally:
            index.close()
        if holds:
            with services.session() as session:
                for model in (EvalCollection, IndexCollection):
                    row = session.get(model, name)
                    if row is not None:
                        session.delete(row)
            dropped.append(name)
    needle = json.dumps({"doc_id": doc_id})[1:-1].encode()  # as save_cached writes it: "doc_id": "<id>"
    cache = services.settings.data_dir / "eval-cache"
    for chunks in sorted(cache.glob("*/chunks.jsonl")) if cache.exists() else []:
        if needle in chunks.read_bytes():
            shutil.rmtree(chunks.parent, ignore_errors=True)
            dropped.append(f"eval-cache/{chunks.parent.name}")
    return dropped


def describe_access(doc: Document | None) -> dict:
    """A document's access as an export records it (names, for the operator reading the folder)."""
    if doc is None:
        return {"groups": [], "public": True}  # an eval collection's corpus document: public by construction
    return {"groups": sorted(g.name for g in doc.groups), "public": bool(doc.public)}

