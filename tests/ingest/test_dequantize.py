"""The int8 ONNX embedder can be turned into an fp32 sentence-transformers model that embeds alike.

That copy is what a GPU machine runs (torch is the fast path there) and what torch-based tools
(llama-index's HuggingFace embedding in bench/ingest.py) load; it must not be a different model.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

PASSAGES = [
    "Laptops must use full-disk encryption before they leave the office.",
    "Expense claims above 500 EUR need a director's approval within 30 days.",
    "To roll back the database, promote the replica and re-point the service.",
    "New starters receive their badge from reception on the first morning.",
    "Visitors sign in at the front desk and wear a visitor badge at all times.",
]


@pytest.fixture(scope="module")
def fp32_bge(tmp_path_factory, models_dir: Path) -> Path:
    from app.cli import app

    out = tmp_path_factory.mktemp("models") / "bge-small-en-fp32"
    result = CliRunner().invoke(app, ["models", "dequantize", str(models_dir / "bge-small-en"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_the_copy_is_a_complete_sentence_transformers_folder(fp32_bge: Path):
    assert {"config.json", "model.safetensors", "tokenizer.json", "modules.json", "1_Pooling", "2_Normalize",
            "sentence_bert_config.json"} <= {p.name for p in fp32_bge.iterdir()}
    assert not list(fp32_bge.parent.glob(".*.partial"))


def test_the_copy_embeds_like_the_onnx_model(fp32_bge: Path, shared_encoder):
    from ingest.encoders import SentenceTransformerEncoder

    torch_encoder = SentenceTransformerEncoder(fp32_bge)
    assert torch_encoder.dim == shared_encoder.dim == 384
    docs_onnx, docs_torch = shared_encoder.encode_documents(PASSAGES), torch_encoder.encode_documents(PASSAGES)
    assert np.allclose(np.linalg.norm(docs_torch, axis=1), 1.0, atol=1e-4)
    assert (docs_onnx * docs_torch).sum(axis=1).min() > 0.99
    for query in ("how do I undo a database change", "who approves large expenses", "laptop encryption"):
        ranked_onnx = np.argsort(-(docs_onnx @ shared_encoder.encode_queries([query])[0]))
        ranked_torch = np.argsort(-(docs_torch @ torch_encoder.encode_queries([query])[0]))
        assert ranked_onnx[0] == ranked_torch[0]


def test_ingest_and_search_run_on_the_copy_with_sentence_transformers(fp32_bge: Path, tmp_path, models_dir):
    from app.accounts.directory import acl_tokens, add_group, add_user, get_user
    from app.library.ingestion import IngestService
    from app.services import build_services
    from app.settings import Settings

    services = build_services(Settings(data_dir=tmp_path / "data", models_dir=models_dir,
                                       embed_model=str(fp32_bge), embed_backend="sentence-transformers"))
    try:
        with services.session() as s:
            add_group(s, "it")
            add_user(s, "ivan", groups=["it"])
        names = ["laptops", "expenses", "rollback", "starters", "visitors"]
        paths = []
        for name, passage in zip(names, PASSAGES):
            paths.append(tmp_path / f"{name}.md")
            paths[-1].write_text(f"# {name.title()}\n\n{passage}\n")
        results = IngestService(services).ingest_paths(paths, groups=["it"])
        assert [r.status for r in results] == ["ready"] * 5, [r.error for r in results]
        with services.session() as s:
            tokens = acl_tokens(s, get_user(s, "ivan"))
        for query, expected in [("is disk encryption required on laptops?", "laptops.md"),
                                ("where do new employees pick up their access card?", "starters.md"),
                                ("who has to sign off on a big reimbursement?", "expenses.md"),
                                ("how do I undo a failed database migration?", "rollback.md")]:
            hits = services.searcher.search(query, tokens, k=5, mode="dense")  # only the copy's vectors rank
            assert len(hits) == 5 and hits[0].source == expected, (query, [h.source for h in hits])
    finally:
        services.close()


def test_a_folder_that_is_not_an_onnx_bert_gives_a_clear_error(tmp_path, models_dir):
    from app.cli import app

    no_onnx = CliRunner().invoke(app, ["models", "dequantize", str(models_dir / "all-MiniLM-L6-v2"),
                                       "--out", str(tmp_path / "x")])
    assert no_onnx.exit_code == 1 and "model.onnx is missing" in no_onnx.output
    not_bert = tmp_path / "not-bert"
    shutil.copytree(models_dir / "bge-small-en", not_bert)
    (not_bert / "config.json").write_text('{"model_type": "t5"}')
    refused = CliRunner().invoke(app, ["models", "dequantize", str(not_bert), "--out", str(tmp_path / "y")])
    assert refused.exit_code == 1 and "only BERT exports" in refused.output
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
