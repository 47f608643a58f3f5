"""Mutable emulator configuration, read by the routes at request time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Settings:
    """Behaviour knobs; see ``Emulator`` for their meaning.

    ``processing_seconds`` (and ``finalizing_seconds``) are captured per batch at create time
    and ``cancel_seconds`` at cancel time, so changing them affects only later
    batches/cancels.
    """

    api_key: str | None = None
    processing_seconds: float = 0.0
    gradual_counts: bool = False
    cancel_seconds: float = 0.0
    finalizing_seconds: float = 0.0
    poll_retry_after: int | None = None
    create_delay_seconds: float = 0.0
    results_origin: str | None = None
    seed: int = 0
    id_salt: str = ""  # mixed into the ids' seed: Emulator() draws one when given no seed
    reply_text: Callable[[dict[str, Any]], str] | None = None
    reply_content: Callable[[dict[str, Any]], list[dict[str, Any]]] | None = None
    reply_usage: Callable[[dict[str, Any]], dict[str, Any]] | None = None
