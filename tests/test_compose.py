"""docker-compose.gpu.yml and the Dockerfile: checked here, since no Docker engine runs on this machine.

The file is parsed and checked for what a GPU deployment needs (the GPU
reservation, health checks, the wiring between services); every INHOUSE_*
variable it sets must be a real setting, so a typo cannot silently fall back
to a default. Where a compose client is installed, `config` validates it
against the Compose schema too.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from app.settings import Settings

REPO = Path(__file__).resolve().parent.parent
COMPOSE = REPO / "docker-compose.gpu.yml"
DOCKERFILE = REPO / "Dockerfile"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def resolved(value: str) -> str:
    """${VAR:-default} → default, as compose resolves it when VAR is unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))


def test_the_three_services_are_there(compose):
    assert set(compose["services"]) == {"app", "qdrant", "postgres"}
    assert compose["services"]["qdrant"]["image"].startswith("qdrant/qdrant:v1.")
    assert compose["services"]["postgres"]["image"].startswith("postgres:")


def test_the_app_gets_a_gpu_through_the_nvidia_runtime(compose):
    app = compose["services"]["app"]
    assert app["runtime"] == "nvidia"
    [device] = app["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"] and device["count"] >= 1
    assert "gpu" in app["build"]["args"]["EXTRAS"].split(",")
    assert "postgres" in app["build"]["args"]["EXTRAS"].split(",")
    assert app["environment"]["INHOUSE_GENERATOR_BACKEND"] == "vllm"
    assert int(app["shm_size"].rstrip("gb")) >= 1


def test_every_inhouse_variable_is_a_real_setting_with_a_valid_value(compose):
    env = compose["services"]["app"]["environment"]
    names = [k for k in env if k.startswith("INHOUSE_")]
    assert names
    for name in names:
        assert name[len("INHOUSE_"):].lower() in Settings.model_fields, f"{name} is not a setting"
    values = {k[len("INHOUSE_"):].lower(): resolved(v) for k, v in env.items() if k.startswith("INHOUSE_")}
    settings = Settings(**values)  # validates choices and ranges as the app will at start
    assert settings.index_backend == "server" and settings.vllm_quantization == "awq_marlin"
    assert settings.database_url.startswith("postgresql+psycopg://")


def test_the_app_points_at_the_other_services(compose):
    services = compose["services"]
    env = {k: resolved(v) for k, v in services["app"]["environment"].items()}
    qdrant = urlparse(env["INHOUSE_QDRANT_URL"])
    assert qdrant.hostname == "qdrant" and qdrant.port == 6333
    db = urlparse(env["INHOUSE_DATABASE_URL"])
    pg = {k: resolved(v) for k, v in services["postgres"]["environment"].items()}
    assert db.hostname == "postgres" and db.port == 5432
    assert (db.username, db.password, db.path.lstrip("/")) == (
        pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"], pg["POSTGRES_DB"]
    )
    assert services["app"]["depends_on"] == {
        "qdrant": {"condition": "service_healthy"}, "postgres": {"condition": "service_healthy"}
    }


def test_every_service_has_a_health_check_and_data_survives_restarts(compose):
    for name, service in compose["services"].items():
        check = service["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert service["restart"] == "unless-stopped"
    app_check = " ".join(compose["services"]["app"]["healthcheck"]["test"])
    assert "/healthz" in app_check and ":8000" in app_check
    assert "pg_isready" in " ".join(compose["services"]["postgres"]["healthcheck"]["test"])
    named = {v.split(":")[0] for s in compose["services"].values() for v in s.get("volumes", [])
             if not v.startswith(("$", ".", "/"))}
    assert named == set(compose["volumes"]) == {"data", "qdrant", "postgres"}
    models = [v for v in compose["services"]["app"]["volumes"] if ":/models" in v]
    assert models and models[0].endswith(":ro")  # models are read, never written


def test_the_dockerfile_builds_what_compose_asks_for():
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG EXTRAS=", text, re.M)
    assert 'pip install --no-cache-dir ".[${EXTRAS}]"' in text
    assert "EXPOSE 8000" in text and "HEALTHCHECK" in text and "/healthz" in text
    assert 'CMD ["inhouse", "serve", "--host", "0.0.0.0", "--port", "8000"]' in text
    for env in ("INHOUSE_DATA_DIR=/data", "INHOUSE_MODELS_DIR=/models", "HF_HUB_OFFLINE=1"):
        assert env in text
    copied = set(re.findall(r"^COPY (\w+) \./\1$", text, re.M))
    packages = {"app", "ingest", "retrieval", "inference", "web", "eval"}
    assert packages <= copied  # every package setuptools installs


def compose_client() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


@pytest.mark.skipif(compose_client() is None, reason="no docker compose client installed")
def test_compose_itself_accepts_the_file():
    proc = subprocess.run([*compose_client(), "-f", str(COMPOSE), "config"], capture_output=True, text=True,
                          cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stderr
    rendered = yaml.safe_load(proc.stdout)
    assert rendered["services"]["app"]["environment"]["INHOUSE_QDRANT_URL"] == "http://qdrant:6333"
