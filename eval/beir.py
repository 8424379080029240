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
