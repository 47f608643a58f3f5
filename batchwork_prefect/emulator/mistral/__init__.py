"""Mistral's Files and Batch APIs (``/v1/files``, ``/v1/batch/jobs``), mounted under
``/mistral`` (so their paths never collide with another API's ``/v1/files``)."""

import threading

from .._api import Api
from .._clock import EmulatedClock
from .._settings import Settings
from ._routes import MistralRoutes
from ._wire import MistralWire

BASE = "/mistral"


def _handler(settings: Settings, clock: EmulatedClock, stopping: threading.Event) -> MistralRoutes:
    return MistralRoutes(settings, clock)


API = Api(
    wire=MistralWire(),
    prefixes=(BASE,),
    routes=(
        ("POST", rf"{BASE}/v1/files", "mistral.files.create"),
        ("GET", rf"{BASE}/v1/files", "mistral.files.list"),
        ("GET", rf"{BASE}/v1/files/([^/]+)", "mistral.files.retrieve"),
        ("GET", rf"{BASE}/v1/files/([^/]+)/content", "mistral.files.content"),
        ("DELETE", rf"{BASE}/v1/files/([^/]+)", "mistral.files.delete"),
        ("POST", rf"{BASE}/v1/batch/jobs", "mistral.jobs.create"),
        ("GET", rf"{BASE}/v1/batch/jobs", "mistral.jobs.list"),
        ("GET", rf"{BASE}/v1/batch/jobs/([^/]+)", "mistral.jobs.retrieve"),
        ("POST", rf"{BASE}/v1/batch/jobs/([^/]+)/cancel", "mistral.jobs.cancel"),
        ("DELETE", rf"{BASE}/v1/batch/jobs/([^/]+)", "mistral.jobs.delete"),
    ),
    creates=frozenset({"mistral.files.create", "mistral.jobs.create"}),
    handler=_handler,
    base_path=BASE,
)

__all__ = ["API", "MistralRoutes"]
