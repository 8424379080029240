"""Evaluation on the organisation's own documents reads as a named user, never as everyone (issue 15, W1/W7).

Bob (board) judged the board minutes, which hold a secret marker; Nina (no group)
judged the canteen menu, which everyone may read. The operator exports the
feedback and evaluates it through the CLI. The red team built a public eval
collection from such an export and read the minutes as a user in no group, even
after the document was deleted: here the export holds no document text, the
evaluation runs on the organisation's collection as the reader named with --as,
and neither the scores nor the stored run say anything about what that reader
cannot read.
"""

from __future__ import annotations

import json
import stat

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.answering.feedback import PassageRef, record_feedback
from eval.beir import CorpusDoc, write_beir
from retrieval.schema import IndexFilter

SECRET = "BOARDSECRET9042"
BOARD = f"# Board minutes\n\nThe board approved Project Quokka, the acquisition of Quokkatronics ({SECRET}).\n"
CANTEEN = "# Canteen\n\nThe canteen serves fish soup on Fridays and opens at eleven.\n"
Q_BOARD, Q_CANTEEN = "Which acquisition did the board approve?", "What does the canteen serve on Fridays?"


@pytest.fixture
def cli(tmp_path, models_dir, monkeypatch):
    monkeypatch.setenv("INHOUSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("INHOUSE_MODELS_DIR", str(models_dir))
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True) -> dict | str:
        result = runner.invoke(app, list(args))
        if ok:
            assert result.exit_code == 0, result.output
        else:
            assert result.exit_code == 1, result.output
        if "--json" in args and result.exit_code == 0:
            return json.loads(result.stdout)
        return " ".join(result.output.split())

    return invoke


@pytest.fixture
def judged(cli, tmp_path, make_services):
    """Two documents, each judged by a reader who can see it; returns their ids."""
    cli("users", "add", "bob", "--groups", "board", "--json")
    cli("users", "add", "nina", "--json")
    (tmp_path / "board.md").write_text(BOARD)
    (tmp_path / "canteen.md").write_text(CANTEEN)
    [board] = cli("ingest", str(tmp_path / "board.md"), "--groups", "board", "--json")["documents"]
    [canteen] = cli("ingest", str(tmp_path / "canteen.md"), "--public", "--json")["documents"]
    services = make_services()
    try:  # feedback has no CLI command: the use case the web will call
        for user, question, doc in [("bob", Q_BOARD, board["id"]), ("nina", Q_CANTEEN, canteen["id"])]:
            chunk = next(iter(services.index.ids(IndexFilter(doc_ids=[doc]))))
            record_feedback(services, user, question, [PassageRef(doc, chunk)], "up")
    finally:
        services.close()  # Qdrant Edge: one opener at a time
    return board["id"], canteen["id"]


def files_under(folder):
    return [p for p in folder.rglob("*") if p.is_file()]


def test_an_export_holds_no_document_text_and_only_its_owner_can_read_it(cli, judged, tmp_path):
    board, canteen = judged
    out = tmp_path / "fb"
    summary = cli("eval", "export-feedback", str(out), "--json")
    assert (summary["queries"], summary["documents"]) == (2, 2)
    assert not (out / "corpus.jsonl").exists()
    for path in files_under(out):
        assert SECRET.encode() not in path.read_bytes(), path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    origin = json.loads((out / "inhouse-origin.json").read_text())
    assert origin == {"collection": "inhouse", "documents": {
        board: {"groups": ["board"], "public": False}, canteen: {"groups": [], "public": True}}}
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    assert "other accounts" in cli("eval", "export-feedback", str(shared), ok=False)


def test_an_exported_set_is_evaluated_as_a_named_reader_on_the_organisations_collection(cli, judged, tmp_path):
    board, canteen = judged
    out = tmp_path / "fb"
    cli("eval", "export-feedback", str(out), "--json")
    assert "--as USER" in cli("eval", "run", str(out), "--modes", "sparse", ok=False)

    as_nina = cli("eval", "run", str(out), "--modes", "sparse", "--as", "nina", "--json")
    assert as_nina["collection"] == "inhouse" and as_nina["queries"] == 1  # the board question is not hers
    as_bob = cli("eval", "run", str(out), "--modes", "sparse", "--as", "bob", "--json")
    assert as_bob["queries"] == 2 and as_bob["results"]["sparse"]["recall@10"] == 1.0  # the canteen is public
    assert not any(p.name.startswith("eval-") for p in (tmp_path / "data" / "qdrant").iterdir())

    from app.db.evaluation import EvalRun
    from app.services import build_services
    from app.settings import Settings

    services = build_services(Settings())
    try:
        with services.session() as session:
            stored = session.get(EvalRun, as_nina["run_id"])
            assert board not in json.dumps(stored.qrels) and canteen in json.dumps(stored.qrels)
            assert board not in json.dumps([r.rankings for r in stored.results])
            assert stored.settings["as_user"] == "nina"  # whose access the figures are
    finally:
        services.close()

    cli("docs", "delete", board, "--json")
    after = cli("eval", "run", str(out), "--modes", "sparse", "--as", "bob", "--json")
    assert after["queries"] == 1, "a deleted document's judgments no longer count"
    assert "nina can read none of the documents" in cli("eval", "run", str(out), "--modes", "sparse", "--as",
                                                        "nina", "--limit", "1", ok=False)
    assert cli("eval", "export-feedback", str(tmp_path / "fb2"), "--json")["documents"] == 1


def test_a_corpus_holding_the_organisations_documents_is_not_made_public(cli, judged, tmp_path):
    """An export written before this rule (whole documents, no access) is refused, not indexed as public."""
    board, _ = judged
    old = write_beir(tmp_path / "old-export", [CorpusDoc(board, "Board minutes", BOARD)],
                     {"q1": Q_BOARD}, {"q1": {board: 1}})
    for command in ("run", "tune"):
        refused = cli("eval", command, str(old), ok=False)
        assert "holds documents of this organisation" in refused and "--as USER" in refused
    assert not (tmp_path / "data" / "qdrant").exists() or not any(
        p.name.startswith("eval-") for p in (tmp_path / "data" / "qdrant").iterdir())
    assert not (tmp_path / "data" / "eval-cache").exists()


def test_an_older_eval_build_holding_a_deleted_document_goes_with_it(eval_services, tiny_beir):
    """Builds made before the rule may hold an organisation document; its delete drops them (W1, W2)."""
    from app.evaluation.collections import cache_dir, ensure_collection
    from app.evaluation.org_data import forget_document
    from eval.beir import load_beir

    dataset = load_beir(tiny_beir)
    built = ensure_collection(eval_services, dataset)
    cache = cache_dir(eval_services, dataset)
    assert cache.exists() and (eval_services.settings.qdrant_dir / built.name).exists()
    assert forget_document(eval_services, "no-such-document") == []
    assert forget_document(eval_services, "board") == [built.name, f"eval-cache/{cache.name}"]
    assert not cache.exists() and not (eval_services.settings.qdrant_dir / built.name).exists()
    assert ensure_collection(eval_services, dataset).reused is False  # a cache: built again on the next run
