"""The OpenAI Files and Batch APIs (``/v1/files``, ``/v1/batches``), as ``_table`` mounts
them."""

import threading

from .._api import Api
from .._clock import EmulatedClock
from .._settings import Settings
from ._routes import OpenAIRoutes
from ._wire import OpenAIWire


def _handler(settings: Settings, clock: EmulatedClock, stopping: threading.Event) -> OpenAIRoutes:
    return OpenAIRoutes(settings, clock)


API = Api(
    wire=OpenAIWire(),
    prefixes=("/v1/files", "/v1/batches"),
    routes=(
        ("POST", r"/v1/files", "openai.files.create"),
        ("GET", r"/v1/files/([^/]+)", "openai.files.retrieve"),
        ("GET", r"/v1/files/([^/]+)/content", "openai.files.content"),
        ("DELETE", r"/v1/files/([^/]+)", "openai.files.delete"),
        ("POST", r"/v1/batches", "openai.batches.create"),
        ("GET", r"/v1/batches", "openai.batches.list"),
        ("GET", r"/v1/batches/([^/]+)", "openai.batches.retrieve"),
        ("POST", r"/v1/batches/([^/]+)/cancel", "openai.batches.cancel"),
    ),
    creates=frozenset({"openai.files.create", "openai.batches.create"}),
    handler=_handler,
    base_path="/v1",
)

__all__ = ["API", "OpenAIRoutes"]
