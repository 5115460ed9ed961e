"""The file store: bytes kept outside the database, addressed by their SHA-256.

Today a folder (`INCIDENT_STORAGE`, default `instance/incidents/`), laid out as
`ab/cd/abcd…` so no directory grows too large. Object storage later keeps the same
interface: put bytes, get a checksum; read by checksum. Content addressing makes a
write idempotent (the same photo uploaded twice is stored once) and lets anyone check
a file against the checksum in the database.

A blob is written (atomically: a temporary file, then a rename) before the database
transaction that refers to it commits; if that commit fails, the blob stays behind
unreferenced, which is harmless and can be swept. Blobs are never deleted on a
rollback: another row may already refer to the same bytes.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

_SHA256 = re.compile(r"[0-9a-f]{64}")


def checksum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def blob_path(root: str | Path, sha256: str) -> Path:
    if not _SHA256.fullmatch(sha256):
        raise ValueError("not a SHA-256 hex digest")
    return Path(root) / sha256[:2] / sha256[2:4] / sha256


def put_blob(root: str | Path, data: bytes) -> str:
    """Store `data` (once) and return its SHA-256."""
    sha256 = checksum(data)
    path = blob_path(root, sha256)
    if path.exists():
        return sha256
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return sha256


def read_blob(root: str | Path, sha256: str) -> bytes:
    return blob_path(root, sha256).read_bytes()
