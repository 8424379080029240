"""Why a file could not be ingested, in words a content owner can act on."""


class IngestError(Exception):
    """A per-file problem: recorded on the document; the rest of the batch goes on."""

    code = "ingest_error"


class EmptyFileError(IngestError):
    code = "empty_file"


class UnsupportedTypeError(IngestError):
    code = "unsupported_type"


class FileTooLargeError(IngestError):
    code = "too_large"


class EncryptedDocumentError(IngestError):
    code = "encrypted"


class CorruptDocumentError(IngestError):
    code = "corrupt"


class SuspiciousArchiveError(IngestError):
    code = "zip_bomb"


class NoTextError(IngestError):
    code = "no_text"


class PathOutsideRootError(IngestError):
    code = "outside_root"


class DiskFullError(IngestError):
    """Not room enough on a disk the index or the data directory lives on; nothing of the batch was written."""

    code = "disk_full"
