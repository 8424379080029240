"""Shared fixtures: a fresh data directory per test, real models loaded once per session."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MODELS_DIR = Path(os.environ.get("INHOUSE_TEST_MODELS_DIR", REPO / "data" / "models"))
SAMPLES = REPO / "samples"

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def pytest_sessionstart(session) -> None:
    if not (MODELS_DIR / "bge-small-en" / "model.onnx").exists():
        raise pytest.UsageError(
            f"models missing in {MODELS_DIR}: run `make models` (or `inhouse models fetch`) first"
        )


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return MODELS_DIR


@pytest.fixture(scope="session")
def shared_encoder(models_dir: Path):
    from ingest.encoders import load_encoder

    return load_encoder(models_dir / "bge-small-en", "onnx")


@pytest.fixture(scope="session")
def shared_bm25():
    from ingest.sparse import Bm25Encoder

    return Bm25Encoder()


@pytest.fixture
def make_settings(tmp_path: Path, models_dir: Path):
    from app.settings import Settings

    def make(**overrides):
        values = {"data_dir": tmp_path / "data", "models_dir": models_dir, **overrides}
        return Settings(**values)

    return make


PARTS = ("encoder", "bm25", "index", "cross_encoder", "generator")


@pytest.fixture
def make_services(make_settings, shared_encoder, shared_bm25):
    """Services on a temporary data dir, sharing the session's loaded encoders.

    Keyword arguments named like a part (encoder=, bm25=, index=, cross_encoder=,
    generator=) go to the constructor; the rest are settings. The shared bge encoder
    is given only when the settings do not ask for another embedding model, so
    services that say "all-MiniLM" never hold bge.
    """
    from app.services import build_services

    built = []

    def make(**overrides):
        parts = {k: overrides.pop(k) for k in PARTS if k in overrides}
        if not any(k.startswith("embed_") for k in overrides):
            parts.setdefault("encoder", shared_encoder)
        parts.setdefault("bm25", shared_bm25)
        services = build_services(make_settings(**overrides), **parts)
        built.append(services)
        return services

    yield make
    for services in built:
        services.close()


@pytest.fixture
def services(make_services):
    return make_services()


@pytest.fixture(params=["edge", "server"])
def any_backend_services(request, make_services):
    """The same test on Qdrant Edge and on qdrant-client (local mode standing in for a server)."""
    return make_services(index_backend=request.param)


@pytest.fixture(scope="session")
def manifest() -> dict:
    return json.loads((SAMPLES / "manifest.json").read_text())


@pytest.fixture(scope="session")
def sample_corpus(tmp_path_factory, models_dir, shared_encoder, shared_bm25):
    """The bundled sample corpus ingested once per test session (read-only for tests)."""
    from app.accounts.actor import Actor
    from app.library.manifest import load_manifest
    from app.services import build_services
    from app.settings import Settings

    settings = Settings(data_dir=tmp_path_factory.mktemp("samples") / "data", models_dir=models_dir)
    services = build_services(settings, encoder=shared_encoder, bm25=shared_bm25)
    results = load_manifest(services, Actor.operator(), SAMPLES / "manifest.json")
    yield services, results
    services.close()


@pytest.fixture(scope="session")
def sample_questions() -> list[dict]:
    return [json.loads(line) for line in (SAMPLES / "questions.jsonl").read_text().splitlines() if line.strip()]


def _postgres_binaries() -> Path | None:
    for candidate in [*sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True), Path("/usr/local/bin")]:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    return None


@pytest.fixture
def postgres_url(tmp_path):
    """A throwaway PostgreSQL cluster (Debian's `postgresql` package, installed by `make system-deps`)."""
    bin_dir = _postgres_binaries()
    if bin_dir is None or shutil.which("runuser") is None:
        pytest.skip("PostgreSQL server binaries are not installed")
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="inhouse-pg-"))  # pytest's tmp is root-only; postgres must reach it
    os.chmod(base, 0o777)
    data = base / "pg"
    data.mkdir()
    user = "postgres" if os.geteuid() == 0 else None
    run = (lambda *a: subprocess.run(["runuser", "-u", user, "--", *a], check=True, capture_output=True)) if user \
        else (lambda *a: subprocess.run(list(a), check=True, capture_output=True))
    if user:
        shutil.chown(data, user)
    run(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "inhouse")
    port = 54329
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-o",
        f"-p {port} -k {data} -c listen_addresses=''", "-w", "start")
    try:
        yield f"postgresql+psycopg://inhouse@/postgres?host={data}&port={port}"
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop")
        shutil.rmtree(base, ignore_errors=True)
