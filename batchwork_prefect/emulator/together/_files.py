"""Together's files: uploaded inputs (in one request, or announced then PUT to their
upload URL and preprocessed, as the together SDK does) and generated output/error files."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

from .._ids import IdFactory

PURPOSES = (
    "fine-tune",
    "eval",
    "eval-sample",
    "eval-output",
    "eval-summary",
    "batch-generated",
    "batch-api",
)
FILE_TYPES = ("jsonl", "parquet", "csv")


@dataclass(frozen=True, slots=True)
class StoredFile:
    """One file and the fields of its ``FileResponse``; ``content`` is None until PUT."""

    id: str
    content: bytes | None
    filename: str
    purpose: str
    file_type: str
    created_at: int

    def render(self) -> dict[str, object]:
        """The ``FileResponse`` object."""
        return {
            "id": self.id,
            "object": "file",
            "created_at": self.created_at,
            "filename": self.filename,
            "bytes": len(self.content or b""),
            "purpose": self.purpose,
            "Processed": self.content is not None,
            "FileType": self.file_type,
        }


class FileStore:
    """Thread-safe id -> file map with seeded ``file-<uuid>`` ids."""

    def __init__(self, seed: int, salt: str = "") -> None:
        self._ids = IdFactory(seed, "together-files", salt)
        self._lock = threading.Lock()
        self._by_id: dict[str, StoredFile] = {}

    def add(
        self, content: bytes | None, filename: str, purpose: str, file_type: str, created: int
    ) -> StoredFile:
        """Store a new file (``content`` None: announced, its bytes still to come)."""
        stored = StoredFile(
            "file-" + uuid_of(self._ids.make_hex("")),
            content,
            filename,
            purpose,
            file_type,
            created,
        )
        with self._lock:
            self._by_id[stored.id] = stored
        return stored

    def fill(self, file_id: str, content: bytes) -> StoredFile | None:
        """Give an announced file its bytes; None if unknown."""
        with self._lock:
            stored = self._by_id.get(file_id)
            if stored is None:
                return None
            stored = self._by_id[file_id] = replace(stored, content=content)
            return stored

    def get(self, file_id: str) -> StoredFile | None:
        """The file, or ``None`` if unknown or deleted."""
        with self._lock:
            return self._by_id.get(file_id)

    def all(self) -> list[StoredFile]:
        """Every file, oldest first."""
        with self._lock:
            return list(self._by_id.values())

    def delete(self, file_id: str) -> bool:
        """Forget a file; ``False`` if it was not stored."""
        with self._lock:
            return self._by_id.pop(file_id, None) is not None


def uuid_of(hex32: str) -> str:
    """32 hex digits in the 8-4-4-4-12 form of a UUID."""
    h = hex32
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
