"""What each API says its own way: error bodies, request ids, auth, unknown routes.

Each API's folder has one ``Wire``; ``_table`` mounts them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from ._errors import ApiError
from ._ids import IdFactory


class Wire(ABC):
    """One API's conventions."""

    name: str
    """The API's name: in ``Emulator.submissions(api=...)`` and the handlers' keys."""
    request_id_header: str

    @abstractmethod
    def error_type_for(self, status: int) -> str:
        """``error.type`` for an HTTP status."""

    @abstractmethod
    def error_body(self, error: ApiError, request_id: str) -> bytes:
        """The JSON error body of this API."""

    @abstractmethod
    def authorize(self, headers: dict[str, str], api_key: str | None) -> None:
        """Raise the API's error for a refused request (a wrong key, a missing header)."""

    @abstractmethod
    def new_request_id(self, ids: IdFactory) -> str:
        """A request id in this API's form."""

    @abstractmethod
    def unknown_route(self, method: str, path: str) -> ApiError:
        """The error for a path of this API that no route serves."""

    def fault_code(self, status: int) -> str | None:
        """``error.code`` of an injected fault's error with this status."""
        return None


def bearer(value: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if that is its form."""
    if value is None or not value.lower().startswith("bearer "):
        return None
    return value[7:].strip()
