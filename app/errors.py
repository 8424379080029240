"""One exception root for the application, whose subclasses carry an HTTP status and a code.

Every error the application means to show a person derives from
``InhouseError``: the CLI catches it and prints the message (exit code 1), and
the web layer will map ``status`` and ``code`` onto a response without a table
of special cases. Anything else that escapes is a bug and keeps its traceback.

The packages below ``app`` (``ingest``, ``retrieval``, ``inference``, ``eval``)
must not import ``app``, so their own roots cannot derive from this one. They
are few and each already says what to do in its message; ``BELOW`` gives each
its status and code, and ``EXPECTED`` is what a front end catches: this root
and those.
"""

from __future__ import annotations

from eval.beir import DatasetError
from inference.types import GeneratorError, GeneratorUnavailableError, PromptTooLongError
from ingest.encoders import ModelMissingError
from ingest.errors import IngestError
from ingest.onnx_dequantize import DequantizeError
from retrieval.index import IndexError_


class InhouseError(Exception):
    """An error whose message a person can act on."""

    status: int = 500
    code: str = "error"


class Invalid(InhouseError):
    """What was asked for is malformed or contradicts itself."""

    status, code = 400, "invalid"


class Forbidden(InhouseError):
    """The actor may not do this."""

    status, code = 403, "forbidden"


class NotFound(InhouseError):
    """What was named does not exist (or is not the actor's to see: the same answer, so no probing)."""

    status, code = 404, "not_found"


class Conflict(InhouseError):
    """The request is fine but the stored state does not allow it (e.g. another embedding model)."""

    status, code = 409, "conflict"


class TooMany(InhouseError):
    """The caller has too much work waiting already; asking again later will do."""

    status, code = 429, "too_many_requests"


class Unavailable(InhouseError):
    """A model, the index or another dependency cannot be used right now."""

    status, code = 503, "unavailable"


# The roots of the packages below app: (status, code). The most specific class wins.
BELOW: dict[type[Exception], tuple[int, str]] = {
    IngestError: (422, "ingest_error"),
    DatasetError: (400, "invalid_dataset"),
    PromptTooLongError: (413, "prompt_too_long"),
    GeneratorUnavailableError: (503, "generator_unavailable"),
    GeneratorError: (503, "generator_error"),
    ModelMissingError: (503, "model_missing"),
    DequantizeError: (400, "dequantize_failed"),
    IndexError_: (503, "index_unavailable"),
}

EXPECTED: tuple[type[Exception], ...] = (InhouseError, *BELOW)


def status_and_code(exc: Exception) -> tuple[int, str]:
    """The HTTP status and machine-readable code of an error (500 "internal" for a bug)."""
    if isinstance(exc, InhouseError):
        return exc.status, exc.code
    for kind in type(exc).__mro__:
        if kind in BELOW:
            status, code = BELOW[kind]
            return status, getattr(exc, "code", None) if kind is IngestError else code
    return 500, "internal"
