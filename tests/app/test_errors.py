"""One error root: every error the application shows a person carries an HTTP status and a code."""

from __future__ import annotations

import pytest

from app.accounts.directory import DirectoryError
from app.library.documents import DocumentNotFound
from app.errors import EXPECTED, Conflict, InhouseError, Invalid, NotFound, Unavailable, status_and_code
from app.answering.feedback import FeedbackError
from app.runtime.model_bundle import ModelFetchError
from app.services import EmbedModelMismatchError
from eval.beir import DatasetError
from inference.types import GeneratorUnavailableError, PromptTooLongError
from ingest.errors import EncryptedDocumentError
from retrieval.index import IndexError_


@pytest.mark.parametrize("error, base, status, code", [
    (DirectoryError("no user named 'x'"), Invalid, 400, "directory"),
    (DocumentNotFound("no document"), NotFound, 404, "document_not_found"),
    (FeedbackError("not yours"), Invalid, 400, "invalid_feedback"),
    (EmbedModelMismatchError("other model"), Conflict, 409, "embed_model_mismatch"),
    (ModelFetchError("offline"), Unavailable, 503, "model_fetch_failed"),
])
def test_the_applications_errors_derive_from_the_root(error, base, status, code):
    assert isinstance(error, base) and isinstance(error, InhouseError)
    assert status_and_code(error) == (status, code)


@pytest.mark.parametrize("error, status, code", [
    (EncryptedDocumentError("password"), 422, "encrypted"),  # an ingest error keeps its own code
    (DatasetError("no corpus"), 400, "invalid_dataset"),
    (PromptTooLongError("too long"), 413, "prompt_too_long"),
    (GeneratorUnavailableError("no GPU"), 503, "generator_unavailable"),
    (IndexError_("locked"), 503, "index_unavailable"),
])
def test_the_roots_of_the_packages_below_app_map_to_a_status_too(error, status, code):
    assert isinstance(error, EXPECTED)
    assert status_and_code(error) == (status, code)


def test_a_bug_is_not_an_expected_error():
    assert not isinstance(KeyError("x"), EXPECTED) and not isinstance(RuntimeError("x"), EXPECTED)
    assert status_and_code(KeyError("x")) == (500, "internal")
