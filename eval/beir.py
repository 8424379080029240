"""Test collections in BEIR format: corpus.jsonl, queries.jsonl, qrels/test.tsv.

Any folder laid out like BEIR loads: ``corpus.jsonl`` (``{"_id","title","text"}``),
``queries.jsonl`` (``{"_id","text"}``), ``qrels/test.tsv`` (``query-id corpus-id
score`` with a header line) and, for question-answering sets, an optional
``answers.jsonl`` (``{"_id","answers":[...]}``). Only queries that have
judgments are kept, in file order, so ``limit`` always picks the same queries.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from ingest.hashing import sha256_file

FILES = ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv", "answers.jsonl")


class DatasetError(ValueError):
    """The folder is not a BEIR data set; the message says what is missing."""


@dataclass
class CorpusDoc:
    id: str
    title: str
    text: str


@dataclass
class BeirDataset:
    name: str
    path: Path
    corpus: dict[str, CorpusDoc]
    queries: dict[str, str]  # query id -> text, only judged queries, file order
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: grade}
    answers: dict[str, list[str]] | None = None
    content_hash: str = ""  # sha256 over the files, see dataset_hash
    corpus_hash: str = ""  # sha256 of corpus.jsonl alone: what the index is built from
    limit: int | None = None
    extra: dict = field(default_factory=dict)

    @property
    def query_ids(self) -> list[str]:
        return list(self.queries)


def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{number}: not JSON ({exc.msg})") from exc
    return rows


def dataset_hash(folder: Path) -> str:
    """One hash over every file of the set that exists, so a changed judgment changes it."""
    digest = hashlib.sha256()
    for name in FILES:
        path = folder / name
        if path.exists():
            digest.update(f"{name}:{sha256_file(path)}\n".encode())
    return digest.hexdigest()


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t")
        for number, row in enumerate(reader, 1):
            if not row or (number == 1 and not row[-1].strip().lstrip("-").isdigit()):
                continue  # the header line
            if len(row) < 3:
                raise DatasetError(f"{path}:{number}: expected query-id, corpus-id, score")
            qid, did, grade = row[0].strip(), row[1].strip(), row[2].strip()
            qrels.setdefault(qid, {})[did] = int(grade)
    return qrels


def load_corpus(folder: Path) -> dict[str, CorpusDoc]:
    corpus: dict[str, CorpusDoc] = {}
    for row in _read_jsonl(folder / "corpus.jsonl"):
        doc_id = str(row["_id"])
        corpus[doc_id] = CorpusDoc(doc_id, (row.get("title") or "").strip(), row.get("text") or "")
    return corpus


def load_beir(folder: Path, limit: int | None = None, need_corpus: bool = True) -> BeirDataset:
    folder = Path(folder)
    required = ["queries.jsonl", "qrels/test.tsv"] + (["corpus.jsonl"] if need_corpus else [])
    missing = [name for name in required if not (folder / name).exists()]
    if missing:
        raise DatasetError(
            f"{folder} is not a BEIR data set: missing {', '.join(missing)} "
            "(expected corpus.jsonl, queries.jsonl and qrels/test.tsv)"
        )
    qrels_all = read_qrels(folder / "qrels/test.tsv")
    queries: dict[str, str] = {}
    for row in _read_jsonl(folder / "queries.jsonl"):
        qid = str(row["_id"])
        if qid in qrels_all and any(g > 0 for g in qrels_all[qid].values()):
            queries[qid] = str(row.get("text") or "").strip()
        if limit is not None and len(queries) >= limit:
            break
    if not queries:
        raise DatasetError(f"{folder}: no query in queries.jsonl has a positive judgment in qrels/test.tsv")
    qrels = {qid: qrels_all[qid] for qid in queries}
    answers = None
    if (folder / "answers.jsonl").exists():
        answers = {str(r["_id"]): [str(a) for a in r.get("answers") or []] for r in _read_jsonl(folder / "answers.jsonl")}
        answers = {qid: answers.get(qid, []) for qid in queries}
    corpus = load_corpus(folder) if (folder / "corpus.jsonl").exists() else {}
    return BeirDataset(
        name=folder.resolve().name, path=folder.resolve(), corpus=corpus, queries=queries, qrels=qrels,
        answers=answers, content_hash=dataset_hash(folder),
        corpus_hash=sha256_file(folder / "corpus.jsonl") if corpus else "", limit=limit,
    )


def write_beir(
    folder: Path, corpus: list[CorpusDoc] | None, queries: dict[str, str], qrels: dict[str, dict[str, int]],
    answers: dict[str, list[str]] | None = None,
) -> Path:
    """Write a BEIR folder (used by `eval export-feedback` and by the tests); ``corpus=None``
    writes none (a set judged against a collection that already holds the documents)."""
    folder = Path(folder)
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    if corpus is not None:
        with (folder / "corpus.jsonl").open("w", encoding="utf-8") as fh:
            for doc in corpus:
                row = {"_id": doc.id, "title": doc.title, "text": doc.text}
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    with (folder / "queries.jsonl").open("w", encoding="utf-8") as fh:
        for qid, text in queries.items():
            fh.write(json.dumps({"_id": qid, "text": text}, ensure_ascii=False) + "\n")
    with (folder / "qrels/test.tsv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow(["query-id", "corpus-id", "score"])
        for qid, judged in qrels.items():
            for did, grade in judged.items():
                writer.writerow([qid, did, grade])
    if answers is not None:
        with (folder / "answers.jsonl").open("w", encoding="utf-8") as fh:
            for qid, items in answers.items():
                fh.write(json.dumps({"_id": qid, "answers": items}, ensure_ascii=False) + "\n")
    return folder


@dataclass(frozen=True)
class Limits:
    """How large a data set from outside may be (an upload): documents, queries, judgments."""

    documents: int = 200_000
    queries: int = 20_000
    judgments: int = 500_000


def _ids(path: Path, label: str, cap: int) -> set[str]:
    """The ``_id`` of every row, each once; each row an object with a string ``text``."""
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8", errors="strict") as fh:
        for number, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{label} line {number}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict) or not isinstance(row.get("_id"), (str, int)) or str(row["_id"]).strip() == "":
                raise DatasetError(f"{label} line {number}: each line is an object with an \"_id\"")
            if not isinstance(row.get("text", ""), str) or not isinstance(row.get("title", ""), (str, type(None))):
                raise DatasetError(f"{label} line {number}: \"text\" (and \"title\") must be strings")
            key = str(row["_id"])
            if key in seen:
                raise DatasetError(f"{label} line {number}: id {key[:100]!r} appears twice (first on line {seen[key]})")
            seen[key] = number
            if len(seen) > cap:
                raise DatasetError(f"{label} holds more than {cap:,} rows, the limit for an uploaded data set")
    return set(seen)


def validate_beir(folder: Path, limits: Limits = Limits()) -> dict:
    """Check a BEIR folder from outside before it is offered: the three files there, UTF-8 JSON lines,
    ids unique, every judgment naming a query and a document that exist, sizes within ``limits``.

    Raises ``DatasetError`` with a message naming the file and line (never the folder's path on
    the server); returns the counts.
    """
    folder = Path(folder)
    missing = [name for name in FILES[:3] if not (folder / name).is_file()]
    if missing:
        raise DatasetError(f"missing {', '.join(missing)} (a BEIR data set has corpus.jsonl, queries.jsonl "
                           "and qrels/test.tsv)")
    try:
        docs = _ids(folder / "corpus.jsonl", "corpus.jsonl", limits.documents)
        queries = _ids(folder / "queries.jsonl", "queries.jsonl", limits.queries)
        judged: set[tuple[str, str]] = set()
        positive: set[str] = set()
        with (folder / "qrels/test.tsv").open(encoding="utf-8", newline="") as fh:
            for number, row in enumerate(csv.reader(fh, delimiter="\t"), 1):
                if not row or (number == 1 and not row[-1].strip().lstrip("-").isdigit()):
                    continue
                if len(row) < 3:
                    raise DatasetError(f"qrels/test.tsv line {number}: expected query-id, corpus-id, score")
                qid, did, grade = row[0].strip(), row[1].strip(), row[2].strip()
                if not grade.lstrip("-").isdigit():
                    raise DatasetError(f"qrels/test.tsv line {number}: the score {grade[:20]!r} is not a whole number")
                if qid not in queries:
                    raise DatasetError(f"qrels/test.tsv line {number}: query {qid[:100]!r} is not in queries.jsonl")
                if did not in docs:
                    raise DatasetError(f"qrels/test.tsv line {number}: document {did[:100]!r} is not in corpus.jsonl")
                if (qid, did) in judged:
                    raise DatasetError(f"qrels/test.tsv line {number}: query {qid[:100]!r} judges document "
                                       f"{did[:100]!r} twice")
                judged.add((qid, did))
                if len(judged) > limits.judgments:
                    raise DatasetError(f"qrels/test.tsv holds more than {limits.judgments:,} judgments, the limit")
                if int(grade) > 0:
                    positive.add(qid)
    except UnicodeDecodeError as exc:
        raise DatasetError(f"a file is not UTF-8 text ({exc.reason})") from None
    if not positive:
        raise DatasetError("no query in queries.jsonl has a positive judgment in qrels/test.tsv")
    return {"documents": len(docs), "queries": len(queries), "judged_queries": len(positive),
            "judgments": len(judged)}
