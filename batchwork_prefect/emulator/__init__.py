"""Local, server-side emulator of Anthropic's Message Batches HTTP API (and OpenAI's Batch API).

An independent implementation of the wire format (stdlib ``http.server`` + ``orjson``; it
imports nothing else from ``batchwork_prefect``), used by tests, demos and benchmarks::

    from batchwork_prefect.emulator import Emulator, Fault

    with Emulator(processing_seconds=60, time_scale=0) as emu:
        client = anthropic.Anthropic(api_key="test", base_url=emu.base_url)
        batch = client.messages.batches.create(requests=[...])
        emu.advance(60)                      # emulated time; no sleeping
        for line in client.messages.batches.results(batch.id): ...

OpenAI clients take ``emu.openai_base_url`` (``base_url`` + ``/v1``) on the same server, and
google-genai clients ``emu.base_url_for("gemini")`` (``base_url`` + ``/gemini``).

The specification (routes, options, checks, the emulated clock, per-request outcomes and
their markers, faults, test hooks, and the OpenAI and Gemini routes) is docs/emulator.md.
"""

from __future__ import annotations

from ._emulator import Emulator
from ._faults import Fault

__all__ = ["Emulator", "Fault"]
