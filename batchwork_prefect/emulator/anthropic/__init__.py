"""The Message Batches API (``/v1/messages/batches``)."""

from ._routes import Routes

__all__ = ["Routes"]
