"""In-memory OpenAI file store: uploaded input files and generated output/error files."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .._ids import IdFactory

FILE_EXPIRY_SECONDS = 30 * 86_400


@dataclass(frozen=True, slots=True)
class StoredFile:
    """One file and the fields of its ``file`` object."""

    id: str
    content: bytes
    filename: str
    purpose: str
    created_at: int
    expires_at: int | None

    def render(self) -> dict[str, object]:
        """The ``file`` object."""
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.content),
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "status_details": None,
        }


class FileStore:
    """Thread-safe id -> file map with seeded ``file-...`` ids."""

    def __init__(self, seed: int, salt: str = "") -> None:
        self._ids = IdFactory(seed, "files", salt)
        self._lock = threading.Lock()
        self._by_id: dict[str, StoredFile] = {}

    def add(self, content: bytes, filename: str, purpose: str, created_at: int) -> StoredFile:
        """Store a new file; ``batch`` and ``batch_output`` files expire after 30 days."""
        expires = created_at + FILE_EXPIRY_SECONDS if purpose.startswith("batch") else None
        stored = StoredFile(
            self._ids.make_base62("file-"), content, filename, purpose, created_at, expires
        )
        with self._lock:
            self._by_id[stored.id] = stored
        return stored

    def get(self, file_id: str) -> StoredFile | None:
        """The file, or ``None`` if unknown or deleted."""
        with self._lock:
            return self._by_id.get(file_id)

    def delete(self, file_id: str) -> bool:
        """Forget a file; ``False`` if it was not stored."""
        with self._lock:
            return self._by_id.pop(file_id, None) is not None
