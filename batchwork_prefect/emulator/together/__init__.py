"""Together's Files and Batches APIs (``/together/v1/files``, ``/together/v1/batches``),
as ``_table`` mounts them: a Together client's base URL is the emulator's + ``/together``."""

import threading

from .._api import Api
from .._clock import EmulatedClock
from .._settings import Settings
from ._routes import TogetherRoutes
from ._wire import TogetherWire


def _handler(settings: Settings, clock: EmulatedClock, stopping: threading.Event) -> TogetherRoutes:
    return TogetherRoutes(settings, clock)


_ID = r"([^/]+)"
API = Api(
    wire=TogetherWire(),
    prefixes=("/together",),
    routes=(
        ("POST", r"/together/v1/files/upload", "together.files.upload"),
        ("POST", r"/together/v1/files", "together.files.create"),
        ("PUT", rf"/together/uploads/{_ID}", "together.files.put"),
        ("POST", rf"/together/v1/files/{_ID}/preprocess", "together.files.preprocess"),
        ("GET", r"/together/v1/files", "together.files.list"),
        ("GET", rf"/together/v1/files/{_ID}", "together.files.retrieve"),
        ("GET", rf"/together/v1/files/{_ID}/content", "together.files.content"),
        ("DELETE", rf"/together/v1/files/{_ID}", "together.files.delete"),
        ("POST", r"/together/v1/batches", "together.batches.create"),
        ("GET", r"/together/v1/batches", "together.batches.list"),
        ("GET", rf"/together/v1/batches/{_ID}", "together.batches.retrieve"),
        ("POST", rf"/together/v1/batches/{_ID}/cancel", "together.batches.cancel"),
    ),
    creates=frozenset(
        {"together.files.upload", "together.files.create", "together.batches.create"}
    ),
    handler=_handler,
    base_path="/together",
)

__all__ = ["API", "TogetherRoutes"]
