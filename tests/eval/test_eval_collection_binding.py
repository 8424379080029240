"""An eval collection another database built is rebuilt, never reused or refused (issue 15, leak 3).

An eval collection is a cache of the dataset folder at hand, so a new database
(another ``database_url``, a restored backup) rebuilds it from that folder
under its own installation id instead of reading points it cannot vouch for.
"""

from __future__ import annotations

from app.evaluation.collections import ensure_collection
from app.runtime.installation import KEY
from eval.beir import load_beir


def test_a_second_database_rebuilds_the_eval_collection_under_its_own_id(make_services, tiny_beir, tmp_path):
    ds = load_beir(tiny_beir)
    first = make_services()
    built = ensure_collection(first, ds)
    assert not built.reused and ensure_collection(first, ds).reused
    first.close()

    other = make_services(database_url=f"sqlite:///{tmp_path / 'other.db'}")
    rebuilt = ensure_collection(other, ds)
    assert rebuilt.name == built.name and not rebuilt.reused and rebuilt.chunks == built.chunks
    index = other.open_index(rebuilt.name)
    try:
        assert index.metadata()[KEY] == other.installation_id != first.installation_id
        assert index.count() == rebuilt.chunks
    finally:
        index.close()
