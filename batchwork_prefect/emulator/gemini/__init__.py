"""Google Gemini's Batch and Files APIs under ``/gemini`` (a google-genai client takes
``base_url`` + ``/gemini``), as ``_table`` mounts them."""

import threading

from .._api import Api
from .._clock import EmulatedClock
from .._settings import Settings
from ._routes import GeminiRoutes
from ._wire import GeminiWire

_ID = r"([^/:]+)"
# google-genai 3.x calls v1 by default (older releases and the REST reference: v1beta)
_V = r"(?:v1|v1beta)"


def _handler(settings: Settings, clock: EmulatedClock, stopping: threading.Event) -> GeminiRoutes:
    return GeminiRoutes(settings, clock)


API = Api(
    wire=GeminiWire(),
    prefixes=("/gemini",),
    routes=(
        ("POST", rf"/gemini/{_V}/models/{_ID}:batchGenerateContent", "gemini.batches.create"),
        ("GET", rf"/gemini/{_V}/batches", "gemini.batches.list"),
        ("GET", rf"/gemini/{_V}/batches/{_ID}", "gemini.batches.get"),
        ("POST", rf"/gemini/{_V}/batches/{_ID}:cancel", "gemini.batches.cancel"),
        ("DELETE", rf"/gemini/{_V}/batches/{_ID}", "gemini.batches.delete"),
        ("POST", rf"/gemini/upload/{_V}/files", "gemini.files.upload"),
        ("POST", rf"/gemini/upload/{_V}/files/sessions/{_ID}", "gemini.files.upload_session"),
        ("GET", rf"/gemini/{_V}/files", "gemini.files.list"),
        ("GET", rf"/gemini/{_V}/files/{_ID}", "gemini.files.get"),
        ("GET", rf"/gemini/{_V}/files/{_ID}:download", "gemini.files.download"),
        ("GET", rf"/gemini/download/{_V}/files/{_ID}:download", "gemini.files.download"),
        ("DELETE", rf"/gemini/{_V}/files/{_ID}", "gemini.files.delete"),
    ),
    creates=frozenset({"gemini.batches.create", "gemini.files.upload_session"}),
    open_routes=frozenset({"gemini.files.upload_session"}),
    base_path="/gemini",
    handler=_handler,
)

__all__ = ["API", "GeminiRoutes"]
