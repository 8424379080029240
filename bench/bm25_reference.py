"""A plain Lucene-style BM25 on a BEIR folder: the reference `inhouse eval run`'s sparse mode is held to.

    .venv/bin/python bench/bm25_reference.py DATASET_DIR [--limit N] [--json]

``bm25s`` with Lucene's IDF, k1 1.2, b 0.75, its English stop words (Lucene's
33) and the Snowball English stemmer (PyStemmer), over each document's title
and text as one field, no chunking: the "plain bm25s" of issue 16. The same
judged queries as ``inhouse eval run`` (file order, ``--limit`` takes the
first N), scored by ranx. ``--analysis qdrant`` scores the same documents with
the BM25 this product computes (``ingest.sparse.Bm25Encoder``: Qdrant's
analysis, the corpus's own average length, query terms counted, Lucene's
IDF), also without chunking, so the two analyses can be told apart from the
chunking that ``inhouse eval run`` adds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from eval.beir import load_beir  # noqa: E402


def bm25s_scorer(texts: list[str]):
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    model = bm25s.BM25(method="lucene", k1=1.2, b=0.75)
    model.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)

    def score(query: str) -> np.ndarray:
        terms = bm25s.tokenize([query], stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False)[0]
        terms = [t for t in terms if t in model.vocab_dict]
        return model.get_scores(terms) if terms else np.zeros(len(texts))

    return score


def qdrant_scorer(texts: list[str]):
    """Our BM25 as a dense matrix product: document weights by the real average, IDF as Qdrant's."""
    from scipy import sparse as sp

    from ingest.sparse import Bm25Encoder

    plain = Bm25Encoder()
    bm25 = plain.with_avg_len(float(np.mean(plain.lengths(texts))))
    columns: dict[int, int] = {}
    rows, cols, vals = [], [], []
    for i, vec in enumerate(bm25.encode_documents(texts)):
        for term, weight in zip(vec.indices, vec.values):
            rows.append(i)
            cols.append(columns.setdefault(term, len(columns)))
            vals.append(weight)
    matrix = sp.csc_matrix((vals, (rows, cols)), shape=(len(texts), len(columns)))
    df = np.diff(matrix.indptr)
    idf = np.log(1 + (len(texts) - df + 0.5) / (df + 0.5))

    def score(query: str) -> np.ndarray:
        q = bm25.encode_query(query)
        weights = np.zeros(len(columns))
        for term, count in zip(q.indices, q.values):
            if term in columns:
                weights[columns[term]] = count * idf[columns[term]]
        return matrix @ weights

    return score


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--analysis", choices=("bm25s", "qdrant"), default="bm25s")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    from ranx import Qrels, Run, evaluate

    data = load_beir(args.dataset, limit=args.limit)  # the judged queries `inhouse eval run --limit` takes
    ids = list(data.corpus)
    texts = [f"{d.title}\n\n{d.text}" if d.title else d.text for d in data.corpus.values()]
    score = (bm25s_scorer if args.analysis == "bm25s" else qdrant_scorer)(texts)
    run = {}
    for qid, text in data.queries.items():
        s = score(text)
        top = np.argsort(-s, kind="stable")[:100]
        run[qid] = {ids[i]: float(s[i]) for i in top if s[i] > 0} or {ids[0]: 0.0}
    qrels = Qrels(data.qrels)
    metrics = evaluate(qrels, Run(run), ["ndcg@10", "recall@10", "recall@100", "mrr@10"])
    result = {"dataset": data.name, "queries": len(data.queries), "analysis": args.analysis,
              **{k: round(float(v), 4) for k, v in metrics.items()}}
    print(json.dumps(result) if args.json else "  ".join(f"{k} {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
