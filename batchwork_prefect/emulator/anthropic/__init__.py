"""The Message Batches API (``/v1/messages/batches``), as ``_table`` mounts it."""

from .._api import Api
from ._routes import Routes
from ._wire import AnthropicWire

BATCHES = r"/v1/messages/batches"

API = Api(
    wire=AnthropicWire(),
    prefixes=(BATCHES,),
    routes=(
        ("POST", BATCHES, "create"),
        ("GET", BATCHES, "list"),
        ("GET", BATCHES + r"/([^/]+)", "retrieve"),
        ("DELETE", BATCHES + r"/([^/]+)", "delete"),
        ("POST", BATCHES + r"/([^/]+)/cancel", "cancel"),
        ("GET", BATCHES + r"/([^/]+)/results", "results"),
    ),
    creates=frozenset({"create"}),
    handler=Routes,
)

__all__ = ["API", "Routes"]
