"""`inhouse eval gate` as a CI script uses it: set a baseline, then a run that keeps its scores
passes (exit 0) and one whose recall@10 and nDCG@10 dropped fails (exit 3), printing both."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from app.cli import app
from eval.beir import write_beir, CorpusDoc
from tests.eval.conftest import CORPUS, QUERIES


def test_the_gate_passes_a_run_as_good_as_the_baseline_and_fails_a_worse_one(tmp_path, models_dir, monkeypatch):
    monkeypatch.setenv("INHOUSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("INHOUSE_MODELS_DIR", str(models_dir))
    monkeypatch.setenv("INHOUSE_CHUNK_SIZE", "64")
    runner = CliRunner()

    def invoke(*args: str, code: int = 0):
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, result.output
        return json.loads(result.stdout) if "--json" in args else " ".join(result.output.split())

    corpus = [CorpusDoc(i, t, x) for i, t, x in CORPUS]
    queries = {q: text for q, text, _, _ in QUERIES}
    good = {q: judged for q, _, judged, _ in QUERIES if judged}
    # Same corpus and queries under the same data set name; half the judgments now name a document no
    # search finds for that query, as a worse chunking or model would look to the gate.
    bad = {q: ({"canteen": 1} if n % 2 == 0 and q != "q7" else judged) for n, (q, judged) in enumerate(good.items())}
    base_dir = write_beir(tmp_path / "before" / "handbook", corpus, queries, good)
    worse_dir = write_beir(tmp_path / "after" / "handbook", corpus, queries, bad)

    base = invoke("eval", "run", str(base_dir), "--modes", "sparse", "--k", "1,10", "--json")
    refused = invoke("eval", "gate", str(base["run_id"]), code=1)
    assert "no baseline" in refused and "--set-baseline" in refused
    saved = invoke("eval", "gate", "--set-baseline", str(base["run_id"]), "--json")
    assert saved == {"dataset": "handbook", "baseline_run_id": base["run_id"], "set_by": "operator"}

    same = invoke("eval", "run", str(base_dir), "--modes", "sparse,dense", "--k", "1,10", "--json")
    passed = invoke("eval", "gate", str(same["run_id"]), "--json")
    assert passed["passed"] and passed["baseline_run_id"] == base["run_id"] and passed["same_data"]
    assert {(r["mode"], r["metric"]) for r in passed["rows"]} == {("sparse", "recall@10"), ("sparse", "ndcg@10")}

    worse = invoke("eval", "run", str(worse_dir), "--modes", "sparse", "--k", "1,10", "--json")
    failed = invoke("eval", "gate", str(worse["run_id"]), "--tolerance", "0.02", "--json", code=3)
    assert not failed["passed"] and not failed["same_data"]
    by_metric = {r["metric"]: r for r in failed["rows"]}
    for metric in ("recall@10", "ndcg@10"):
        row = by_metric[metric]
        assert not row["ok"] and row["value"] < row["baseline"] - 0.02
        assert row["delta"] == round(row["value"] - row["baseline"], 4)
    text = invoke("eval", "gate", str(worse["run_id"]), "--tolerance", "1", code=0)
    assert "passed" in text and "recall@10" in text and "ndcg@10" in text, "a wide tolerance lets it through"
    shown = invoke("eval", "gate", str(worse["run_id"]), code=3)
    assert "FAIL" in shown and "failed" in shown
