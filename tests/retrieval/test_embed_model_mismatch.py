"""A collection built with one embedding model is never searched or extended with another; `inhouse reindex`
rebuilds it with the new one. Everything goes through the command line, as an operator would."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.db.library import Document, IndexCollection
from tests.eval.conftest import write_tiny_beir


@pytest.fixture(params=["edge", "server"])
def cli(request, tmp_path, models_dir, monkeypatch):
    """The inhouse command on one data directory; ``model=`` picks the embedding model of that call."""
    monkeypatch.setenv("INHOUSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("INHOUSE_MODELS_DIR", str(models_dir))
    monkeypatch.setenv("INHOUSE_INDEX_BACKEND", request.param)
    runner = CliRunner()

    def invoke(*args: str, model: str = "bge-small-en", code: int = 0):
        monkeypatch.setenv("INHOUSE_EMBED_MODEL", model)
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, result.output
        return json.loads(result.stdout) if "--json" in args and code == 0 else " ".join(result.output.split())

    invoke.backend = request.param
    return invoke


def test_another_model_is_refused_everywhere_naming_reindex_which_rebuilds_the_index(
    cli, tmp_path, make_services
):
    cli("users", "add", "erin", "--groups", "hr")
    docs = {}
    for name, text in [("leave.md", "Employees get 25 days of paid leave a year."),
                       ("parking.md", "Visitors park on level 2 of the garage."),
                       ("travel.md", "Train tickets are booked through the travel desk.")]:
        docs[name] = tmp_path / name
        docs[name].write_text(f"# {name[:-3].title()}\n\n{text}\n")
    ingested = cli("ingest", str(docs["leave.md"]), str(docs["parking.md"]), "--groups", "hr", "--json")
    ids = {d["path"].rsplit("/", 1)[1]: d["id"] for d in ingested["documents"]}
    assert [d["status"] for d in ingested["documents"]] == ["ready", "ready"]

    mini = "all-MiniLM-L6-v2"
    refused = cli("ingest", str(docs["travel.md"]), "--groups", "hr", "--json", model=mini, code=1)
    assert "bge-small-en" in refused and mini in refused and "inhouse reindex" in refused
    assert "inhouse reindex" in cli("ask", "How many days of leave?", "--as", "erin", model=mini, code=1)
    assert "inhouse reindex" in cli("search", "paid leave", "--as", "erin", model=mini, code=1)
    beir = write_tiny_beir(tmp_path / "tiny")
    assert "INHOUSE_EMBED_MODEL=bge-small-en" in cli(
        "eval", "run", str(beir), "--collection", "inhouse", "--as", "erin", model=mini, code=1)

    services = make_services(index_backend=cli.backend)
    assert services.index.count() == 2, "the refused ingest wrote nothing"
    with services.session() as session:
        assert {d.source: d.status for d in session.query(Document)} == {
            "leave.md": "ready", "parking.md": "ready", "travel.md": "failed"}
        (services.settings.data_dir / session.get(Document, ids["parking.md"]).stored_path).unlink()
    services.close()

    rebuilt = cli("reindex", "--json", model=mini)
    assert {d["path"].rsplit("/", 1)[1]: (d["status"], d["chunks"]) for d in rebuilt["documents"]} == {
        "leave.md": ("ready", 1), "travel.md": ("ready", 1)}
    listed = {d["title"]: (d["status"], d["error"]) for d in cli("docs", "list", "--json", model=mini)["documents"]}
    assert listed["Parking"] == ("failed", "the stored original is missing; upload the file again")

    services = make_services(index_backend=cli.backend, embed_model=mini)
    assert services.encoder.model_id == mini, "the fixture honours the model a test asks for (never the shared bge)"
    with services.session() as session:
        row = session.get(IndexCollection, "inhouse")
        assert (row.embed_model, row.dim) == (mini, 384)
    points = list(services.index.scroll(["embed_model", "doc_id"]))
    assert {p.payload["embed_model"] for p in points} == {mini}
    assert sorted(p.payload["doc_id"] for p in points) == sorted(d["id"] for d in rebuilt["documents"])
    services.close()
    hits = cli("search", "paid leave", "--as", "erin", "--json", model=mini)["hits"]
    assert hits[0]["doc_id"] == ids["leave.md"]
    assert "inhouse reindex" in cli("search", "paid leave", "--as", "erin", code=1), "now bge is the other model"
