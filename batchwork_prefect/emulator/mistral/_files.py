"""In-memory Mistral file store: uploaded inputs, generated output and error files."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .._ids import IdFactory


@dataclass(frozen=True, slots=True)
class StoredFile:
    """One file and the fields of its file object."""

    id: str
    content: bytes
    filename: str
    purpose: str
    sample_type: str
    source: str
    created_at: int
    expires_at: int | None
    visibility: str

    def render(self) -> dict[str, object]:
        """The file object (``UploadFileOut``)."""
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.content),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "sample_type": self.sample_type,
            "source": self.source,
            "num_lines": self.content.count(b"\n") + (not self.content.endswith(b"\n")),
            "mimetype": "application/jsonl" if self.filename.endswith(".jsonl") else None,
            "signature": None,
            "expires_at": self.expires_at,
            "visibility": self.visibility,
        }


class FileStore:
    """Thread-safe id -> file map with seeded UUID ids, oldest first."""

    def __init__(self, seed: int, salt: str = "") -> None:
        self._ids = IdFactory(seed, "mistral-files", salt)
        self._lock = threading.Lock()
        self._by_id: dict[str, StoredFile] = {}

    def add(
        self,
        content: bytes,
        filename: str,
        purpose: str,
        created_at: int,
        *,
        sample_type: str,
        source: str = "upload",
        expires_at: int | None = None,
        visibility: str = "workspace",
    ) -> StoredFile:
        """Store a new file."""
        stored = StoredFile(
            uuid_of(self._ids),
            content,
            filename,
            purpose,
            sample_type,
            source,
            created_at,
            expires_at,
            visibility,
        )
        with self._lock:
            self._by_id[stored.id] = stored
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


def uuid_of(ids: IdFactory) -> str:
    """The next seeded id as a version-4 UUID (Mistral's ids are UUIDs)."""
    digits = ids.make_hex("")
    variant = "89ab"[int(digits[16], 16) % 4]
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{variant}{digits[17:20]}-{digits[20:32]}"
