"""The OpenAI Files and Batch APIs (``/v1/files``, ``/v1/batches``)."""

from ._routes import OpenAIRoutes

__all__ = ["OpenAIRoutes"]
