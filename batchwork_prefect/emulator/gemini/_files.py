"""The Files API's store: uploaded files, resumable upload sessions, generated results.

A file is ``files/<12 lower-case letters and digits>``; a batch's responses file is
``files/batch-<batch id>``. Uploaded and generated files expire 48 h after creation.
"""

from __future__ import annotations

import base64
import hashlib
import random
import string
import threading
from dataclasses import dataclass, field

from .._clock import EmulatedClock, rfc3339

ALPHABET = string.ascii_lowercase + string.digits
EXPIRE_SECONDS = 48 * 3600.0


class LowerIds:
    """Seeded, thread-safe lower-case alphanumeric ids (Google's batch and file ids)."""

    def __init__(self, seed: int, stream: str, salt: str = "") -> None:
        self._rng = random.Random(f"{seed}:{stream}{salt}")
        self._lock = threading.Lock()

    def make(self, length: int) -> str:
        """The next id of ``length`` characters."""
        with self._lock:
            return "".join(self._rng.choices(ALPHABET, k=length))


@dataclass(frozen=True, slots=True)
class StoredFile:
    """One file's bytes and the fields of its ``File`` resource."""

    name: str
    content: bytes
    display_name: str
    mime_type: str
    created: float
    generated: bool

    def render(self, clock: EmulatedClock, origin: str) -> dict[str, object]:
        """The ``File`` resource (``sizeBytes`` is int64, so a string)."""
        created = rfc3339(clock.to_datetime(self.created))
        digest = base64.b64encode(hashlib.sha256(self.content).hexdigest().encode()).decode()
        resource: dict[str, object] = {
            "name": self.name,
            "mimeType": self.mime_type,
            "sizeBytes": str(len(self.content)),
            "createTime": created,
            "updateTime": created,
            "expirationTime": rfc3339(clock.to_datetime(self.created + EXPIRE_SECONDS)),
            "sha256Hash": digest,
            "uri": f"{origin}/gemini/v1beta/{self.name}",
            "state": "ACTIVE",
            "source": "GENERATED" if self.generated else "UPLOADED",
        }
        if self.display_name:
            resource["displayName"] = self.display_name
        if self.generated:
            resource["downloadUri"] = (
                f"{origin}/gemini/download/v1beta/{self.name}:download?alt=media"
            )
        return resource


@dataclass
class Session:
    """A resumable upload under way: what its start declared and the bytes so far."""

    display_name: str
    mime_type: str
    size: int
    received: bytearray = field(default_factory=bytearray)


class FileStore:
    """Thread-safe name -> file map and upload-id -> session map."""

    def __init__(self, seed: int, salt: str = "") -> None:
        self._ids = LowerIds(seed, "gemini-files", salt)
        self._uploads = LowerIds(seed, "gemini-uploads", salt)
        self._lock = threading.Lock()
        self._files: dict[str, StoredFile] = {}
        self._sessions: dict[str, Session] = {}

    def start(self, session: Session) -> str:
        """Open an upload session; returns its upload id."""
        upload_id = self._uploads.make(40)
        with self._lock:
            self._sessions[upload_id] = session
        return upload_id

    def session(self, upload_id: str) -> Session | None:
        """The open session, if any."""
        with self._lock:
            return self._sessions.get(upload_id)

    def finish(self, upload_id: str, created: float) -> StoredFile:
        """Close a session into a stored file."""
        with self._lock:
            session = self._sessions.pop(upload_id)
        stored = StoredFile(
            "files/" + self._ids.make(12),
            bytes(session.received),
            session.display_name,
            session.mime_type,
            created,
            generated=False,
        )
        self.put(stored)
        return stored

    def put(self, stored: StoredFile) -> None:
        """Store ``stored`` under its name."""
        with self._lock:
            self._files[stored.name] = stored

    def get(self, name: str) -> StoredFile | None:
        """The file called ``name`` (``files/...``), if any."""
        with self._lock:
            return self._files.get(name)

    def page(self, size: int, after: str | None) -> tuple[list[StoredFile], str | None]:
        """Up to ``size`` files, newest first, after the file named ``after``; and the
        name to continue from when more are left."""
        with self._lock:
            names = list(reversed(self._files))
        start = names.index(after) + 1 if after in names else 0
        chosen = names[start : start + size]
        more = start + size < len(names)
        with self._lock:
            files = [self._files[name] for name in chosen if name in self._files]
        return files, chosen[-1] if more and chosen else None

    def delete(self, name: str) -> bool:
        """Forget a file; ``False`` if it was not stored."""
        with self._lock:
            return self._files.pop(name, None) is not None
