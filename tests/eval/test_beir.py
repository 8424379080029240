"""Loading BEIR folders."""

from __future__ import annotations

import pytest

from eval.beir import DatasetError, dataset_hash, load_beir


def test_loads_corpus_queries_judgments_and_answers(tiny_beir):
    ds = load_beir(tiny_beir)
    assert len(ds.corpus) == 12 and ds.corpus["leave"].title == "Parental leave"
    assert "q-unjudged" not in ds.queries, "queries without a positive judgment are not evaluated"
    assert len(ds.queries) == 12
    assert ds.qrels["q5"] == {"gripper": 1, "warranty": 0}
    assert ds.answers["q3"] == ["4444"]
    assert ds.name == "tiny" and len(ds.content_hash) == 64


def test_limit_takes_the_first_judged_queries_in_file_order(tiny_beir):
    assert load_beir(tiny_beir, limit=3).query_ids == ["q1", "q2", "q3"]


def test_the_hash_changes_when_a_judgment_changes(tiny_beir):
    before = dataset_hash(tiny_beir)
    qrels = tiny_beir / "qrels" / "test.tsv"
    qrels.write_text(qrels.read_text().replace("q2\tpasswords\t1", "q2\tpasswords\t2"))
    assert dataset_hash(tiny_beir) != before
    assert load_beir(tiny_beir).qrels["q2"] == {"passwords": 2}


def test_a_folder_that_is_not_beir_says_what_is_missing(tmp_path):
    (tmp_path / "queries.jsonl").write_text('{"_id": "1", "text": "x"}\n')
    with pytest.raises(DatasetError, match="corpus.jsonl.*qrels/test.tsv|qrels/test.tsv.*corpus.jsonl"):
        load_beir(tmp_path)


def test_a_broken_line_is_reported_with_its_place(tiny_beir):
    (tiny_beir / "queries.jsonl").write_text('{"_id": "q1", "text": "ok"}\n{broken\n')
    with pytest.raises(DatasetError, match=r"queries.jsonl:2"):
        load_beir(tiny_beir)
