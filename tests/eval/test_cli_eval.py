"""The eval commands as operators and scripts use them: one JSON document on stdout with --json."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from app.cli import app


@pytest.fixture
def cli(tmp_path, models_dir, monkeypatch):
    monkeypatch.setenv("INHOUSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("INHOUSE_MODELS_DIR", str(models_dir))
    monkeypatch.setenv("INHOUSE_CHUNK_SIZE", "64")

    runner = CliRunner()

    def invoke(*args: str, ok: bool = True) -> dict | str:
        result = runner.invoke(app, list(args))
        assert result.exit_code == (0 if ok else 1), result.output
        if "--json" in args and result.exit_code == 0:
            return json.loads(result.stdout)
        return " ".join(result.output.split())  # rich wraps long messages

    return invoke


def test_run_prints_the_documented_json_and_compare_tests_the_difference(cli, tiny_beir):
    first = cli("eval", "run", str(tiny_beir), "--modes", "dense,sparse", "--json")
    assert set(first) >= {"run_id", "results"}
    for mode in ("dense", "sparse"):
        assert {"ndcg@10", "recall@10", "recall@100", "mrr@10", "latency_p50_ms", "latency_p95_ms"} <= set(
            first["results"][mode])
    second = cli("eval", "run", str(tiny_beir), "--modes", "hybrid", "--k", "1,10", "--limit", "5", "--json")
    assert second["run_id"] == first["run_id"] + 1 and second["queries"] == 5
    cmp = cli("eval", "compare", f"{first['run_id']}:dense", f"{first['run_id']}:sparse", str(second["run_id"]),
              "--json")
    assert cmp["baseline"] == f"{first['run_id']}:dense" and cmp["queries"] == 5, "only shared queries"
    sparse = cmp["results"][1]
    assert {"ndcg@10", "ndcg@10 Δ", "ndcg@10 p"} <= set(sparse) and 0 <= sparse["ndcg@10 p"] <= 1
    listed = cli("eval", "list", "--json")
    assert [r["run_id"] for r in listed["runs"]] == [second["run_id"], first["run_id"]]


def test_plot_writes_a_png(cli, tiny_beir, tmp_path):
    run = cli("eval", "run", str(tiny_beir), "--modes", "dense,sparse", "--json")
    out = tmp_path / "plots" / "runs.png"
    cli("eval", "plot", str(run["run_id"]), "--out", str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000


def test_tune_stores_the_profile_that_the_default_search_then_follows(cli, tiny_beir, make_services):
    """On the tiny set every mode scores nDCG@10 = 1.0, so this compares profiles, never scores."""
    from dataclasses import replace

    from app.db.evaluation import EvalRun, SearchProfileChange
    from retrieval.profile import SearchProfile

    tuned = cli("eval", "tune", str(tiny_beir), "--json")
    assert tuned["saved"] and tuned["split"] == {
        "rule": "queries ordered by sha256 of their id; first half tunes, second half reports", "tune": 6,
        "held_out": 6}
    assert set(tuned["held_out"]) == {"dense", "sparse", "hybrid", "hybrid+rerank", "tuned"}
    services = make_services()  # the same data directory the commands use
    assert services.search_profile(tuned["collection"]) == SearchProfile.from_dict(tuned["profile"])
    with services.session() as session:  # saving is on record, as applying from the browser is
        [change] = session.query(SearchProfileChange).filter_by(collection=tuned["collection"]).all()
        assert (change.changed_by, change.run_id, change.after) == ("operator", tuned["run_id"], tuned["profile"])

    # A stored profile no mode has (sparse, 7 candidates, no merging): the default run must search with it.
    odd = replace(SearchProfile.for_mode("sparse"), candidates=7, merge_adjacent=False, dedupe_threshold=0.5)
    services.save_search_profile(odd, tuned["collection"])
    run = cli("eval", "run", str(tiny_beir), "--modes", "default,hybrid", "--json")
    assert run["collection"] == tuned["collection"]
    with services.session() as session:
        searched = {r.mode: SearchProfile.from_dict(r.profile) for r in session.get(EvalRun, run["run_id"]).results}
    assert searched["default"] == odd
    assert searched["hybrid"] == SearchProfile(), "a named mode measures the code's defaults, whatever is stored"


def test_the_default_search_follows_the_stored_profile(cli, tmp_path, make_services):
    from retrieval.profile import SearchProfile

    cli("users", "add", "ann")
    leave = tmp_path / "leave.md"
    leave.write_text("# Leave\n\nEmployees get 25 days of paid leave a year. Contractors get none.\n")
    cli("ingest", str(leave), "--public")

    def stages(*extra: str) -> set[str]:
        hits = cli("search", "paid leave", "--as", "ann", "--json", *extra)["hits"]
        assert hits
        return {name for h in hits for name in h["ranks"]} | {name for h in hits for name in h["scores"]}

    assert {"dense", "sparse"} <= stages()  # no profile stored: hybrid
    make_services().save_search_profile(SearchProfile.for_mode("sparse"))
    assert stages() <= {"sparse", "fused"} and "dense" not in stages()
    assert "dense" in stages("--mode", "dense")  # an explicit mode still wins


def test_bad_input_is_refused_with_a_message(cli, tmp_path, tiny_beir):
    assert "not a BEIR data set" in cli("eval", "run", str(tmp_path), ok=False)
    assert "unknown mode" in cli("eval", "run", str(tiny_beir), "--modes", "fuzzy", ok=False)
    assert "no stored run" in cli("eval", "compare", "41", "42", ok=False)
    assert "--as USER" in cli("eval", "run", str(tiny_beir), "--collection", "inhouse", ok=False)


def test_export_feedback_with_no_judgments_writes_an_empty_beir_folder(cli, tmp_path):
    """(With judgments, through the CLI: tests/eval/test_org_data_eval.py.)"""
    out = tmp_path / "fb"
    summary = cli("eval", "export-feedback", str(out), "--json")
    assert summary["queries"] == 0 and (out / "qrels" / "test.tsv").exists()
