"""The one streaming sha256 of a file: stored originals, model wheels and data sets are all named by it."""

from __future__ import annotations

import hashlib
from pathlib import Path

BLOCK = 1 << 20  # 1 MiB reads: a large PDF never sits in memory whole


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()
