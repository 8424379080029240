from __future__ import annotations

import pytest

from tests.retrieval.worlds import HashEncoder


@pytest.fixture(scope="session")
def hash_encoder():
    return HashEncoder(8)


@pytest.fixture
def index_of(any_backend_services):
    """A fresh, empty collection on the parametrised backend (edge or server)."""
    opened = []

    def make(name: str = "t"):
        index = any_backend_services.open_index(name)
        opened.append(index)
        return index

    yield make
    for index in opened:
        index.close()
