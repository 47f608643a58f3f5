"""Local, server-side emulator of Anthropic's Message Batches HTTP API.

An independent implementation of the wire format (stdlib ``http.server`` + ``orjson``; it
imports nothing else from ``batchwork_prefect``), used by tests, demos and benchmarks::

    from batchwork_prefect.emulator import Emulator, Fault

    with Emulator(processing_seconds=60, time_scale=0) as emu:
        client = anthropic.Anthropic(api_key="test", base_url=emu.base_url)
        batch = client.messages.batches.create(requests=[...])
        emu.advance(60)                      # emulated time; no sleeping
        for line in client.messages.batches.results(batch.id): ...

Routes
    ``POST /v1/messages/batches`` (create), ``GET /v1/messages/batches`` (list: ``limit``
    1-1000, default 20, ``before_id``/``after_id``, newest first), ``GET``/``DELETE
    /v1/messages/batches/{id}`` (retrieve/delete), ``POST .../{id}/cancel``,
    ``GET .../{id}/results`` (JSONL). ``?beta=true`` is ignored. Unknown paths -> 404.
    Every response carries ``request-id: req_...``; errors are
    ``{"type":"error","error":{"type","message"},"request_id"}``.

Checks
    ``anthropic-version`` header required (400). With ``api_key`` set, ``x-api-key`` (or
    ``authorization: Bearer``) must match (401 ``invalid x-api-key``). Create-time 400s use the
    real API's messages for envelope problems (bad JSON, ``requests`` missing/empty/over
    100,000, ``custom_id`` missing/too long/bad pattern/duplicate, ``params`` missing or not an
    object); bodies over 256 MB get 413 and the connection is closed.

Timeline (emulated clock; ``time_scale`` emulated s per real s, ``advance()`` jumps)
    * A batch is ``in_progress`` until ``created + processing_seconds``, then ``ended``. The
      create response always shows the fresh batch (``in_progress``, all ``processing``).
    * ``gradual_counts=False`` (documented API): counters stay all-``processing`` until ended.
      ``True``: a proportional share of the completable requests is done at each instant.
    * Cancel (only before ``ended``; repeated cancels while ``canceling`` are no-ops; after
      ``ended`` -> 400) -> ``canceling`` for ``cancel_seconds`` -> ``ended``. Progress is
      tracked internally in both modes (a proportional share of each group, in request
      order); requests not done at cancel time become ``canceled``.
    * 24 h after creation an unfinished batch ends; unfinished requests become ``expired``.
    * 29 days after creation ``archived_at`` is set and results return 404.
    * ``request_counts`` always sum to the number of requests. ``retry-after: N`` is added to
      in-progress retrieves when ``poll_retry_after=N``.

Per-request outcomes (deterministic, decided from ``params`` at create time)
    * Deferred validation -> ``errored`` line, inner ``invalid_request_error`` with
      ``details.error_visibility`` and ``request_id: null``: ``model`` missing, ``messages``
      missing/empty (``messages: Field required``), ``max_tokens`` missing/non-int/< 1,
      ``stream: true`` (``"stream=True" is not supported in the Message Batches API``); a
      ``model`` not starting with ``claude`` -> ``not_found_error`` ``model: <name>``.
    * Markers in any user message text (string or ``text`` blocks):
      ``[[emulate:errored]]`` -> ``errored`` with inner ``api_error`` (and a ``req_`` id);
      ``[[emulate:errored:overloaded_error]]`` picks the inner type;
      ``[[emulate:expired]]`` -> ``expired``; ``[[emulate:canceled]]`` -> ``canceled``.
    * Otherwise ``succeeded`` with a full Messages response: reply from a small canned table
      (``Capital of France? One word.`` -> ``Paris``, ``... Japan ...`` -> ``Tokyo``, also
      Italy/Germany/Spain) else ``Emulated reply to: <first 60 chars of last user text>``;
      override with ``reply_text=callable(params) -> str``. ``system`` is ignored for the
      reply. Tokens: ``ceil(chars / 4)``, at least 1 (input counts system + all messages).
    * Results: ``application/x-jsonl``, compact, ``\\n``-terminated lines, no blank lines,
      shuffled deterministically by ``seed``; built once per batch and cached.

Faults (``emu.add_fault(Fault(route=..., ...))``; FIFO per route, each used ``times`` times)
    A status fault answers instead of the real handler (before auth): standard JSON error for
    the status or raw ``body``, plus optional ``retry-after``/``retry-after-ms``/
    ``x-should-retry`` headers. A faulted create stores nothing unless ``after_create=True``
    (stored, then answered with the fault). ``truncate_after_bytes`` sends a real 200 response
    with its full ``content-length`` but hangs up after that many bytes.
    ``create_delay_seconds`` stores the batch, then holds the response (released by ``stop()``).
    ``hold_after_bytes`` (any route; not combinable with ``truncate_after_bytes``, ``status``,
    ``body``, retry headers or ``after_create``) runs the real handler (a create is stored),
    sends the headers and that many body bytes, then parks until ``release()`` or ``stop()``
    and sends the rest; write errors from a vanished client are swallowed.

Test hooks: ``calls`` (Counter per route, counted for every request), ``batches_created``,
``requests_received`` (last 1000 ``(route, headers)``), ``advance()``, ``reset_calls()``,
``held``/``wait_held(count, timeout)``/``release()`` (held responses), ``settings``
(mutable knobs), ``serve_forever()`` (blocking, for the CLI).
"""

from __future__ import annotations

from ._emulator import Emulator
from ._faults import Fault

__all__ = ["Emulator", "Fault"]
