"""A collection built with one embedding model is never searched or extended with another."""

from __future__ import annotations

import pytest

from app.services import EmbedModelMismatchError
from app.tables import IndexCollection
from app.evaluation.collections import check_embed_model


@pytest.fixture
def built_with_bge(make_services):
    services = make_services()
    services.check_collection(create=True)  # records bge-small-en as the collection's model
    with services.session() as session:
        assert session.get(IndexCollection, "inhouse").embed_model == "bge-small-en"
    services.close()
    return services.settings.data_dir


def test_search_and_ingest_refuse_another_model(make_services, built_with_bge):
    other = make_services(data_dir=built_with_bge, embed_model="all-MiniLM-L6-v2")
    for create in (False, True):
        with pytest.raises(EmbedModelMismatchError, match="bge-small-en.*all-MiniLM-L6-v2"):
            other.check_collection(create=create)


def test_evaluating_a_collection_with_another_model_is_refused(make_services, built_with_bge):
    other = make_services(data_dir=built_with_bge, embed_model="all-MiniLM-L6-v2")
    with pytest.raises(EmbedModelMismatchError, match="INHOUSE_EMBED_MODEL=bge-small-en"):
        check_embed_model(other, "inhouse")
    same = make_services(data_dir=built_with_bge)
    check_embed_model(same, "inhouse")  # the same model passes


def test_the_search_command_names_the_fix(make_services, built_with_bge, monkeypatch, models_dir):
    from typer.testing import CliRunner

    from app.cli import app

    with make_services(data_dir=built_with_bge).session() as session:
        from app.directory import add_user

        add_user(session, "erin")
    monkeypatch.setenv("INHOUSE_DATA_DIR", str(built_with_bge))
    monkeypatch.setenv("INHOUSE_MODELS_DIR", str(models_dir))
    monkeypatch.setenv("INHOUSE_EMBED_MODEL", "all-MiniLM-L6-v2")
    result = CliRunner().invoke(app, ["search", "anything", "--as", "erin"])
    assert result.exit_code == 1
    assert "inhouse reindex" in result.output
