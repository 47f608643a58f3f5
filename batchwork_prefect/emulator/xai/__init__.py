"""The xAI Batch API (REST: ``/v1/batches``), mounted under ``/xai`` by ``_table``."""

import threading

from .._api import Api
from .._clock import EmulatedClock
from .._settings import Settings
from ._routes import XAIRoutes
from ._wire import XAIWire


def _handler(settings: Settings, clock: EmulatedClock, stopping: threading.Event) -> XAIRoutes:
    return XAIRoutes(settings, clock)


_ID = r"(batch_[A-Za-z0-9_-]+)"

API = Api(
    wire=XAIWire(),
    prefixes=("/xai",),
    routes=(
        ("POST", r"/xai/v1/batches", "xai.batches.create"),
        ("GET", r"/xai/v1/batches", "xai.batches.list"),
        ("GET", rf"/xai/v1/batches/{_ID}", "xai.batches.retrieve"),
        ("POST", rf"/xai/v1/batches/{_ID}:cancel", "xai.batches.cancel"),
        ("POST", rf"/xai/v1/batches/{_ID}/requests", "xai.batches.add"),
        ("GET", rf"/xai/v1/batches/{_ID}/requests", "xai.batches.requests"),
        ("GET", rf"/xai/v1/batches/{_ID}/results", "xai.batches.results"),
    ),
    creates=frozenset({"xai.batches.create", "xai.batches.add"}),
    handler=_handler,
    base_path="/xai/v1",
)

__all__ = ["API", "XAIRoutes"]
