"""The two table artifacts of a read batch: its summary and a preview of its first results.

The summary names the model, each part's provider batch per round, the wait (the provider
batches' creation to the last one's end), counts by status, tokens, cost, where the results
are stored and the line of Python that loads them. The preview shows the first results in
the requests' order, each beside the start of its prompt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from prefect.artifacts import create_table_artifact
from prefect.filesystems import LocalFileSystem, RemoteFileSystem, WritableFileSystem

from batchwork_prefect.core import BuiltBatch
from batchwork_prefect.core.retries import left_failing
from batchwork_prefect.core.table_csv import csv_cell
from batchwork_prefect.models import BatchResult, BatchResults, BatchSnapshot, PartHandle
from batchwork_prefect.orchestration._sync import sync
from batchwork_prefect.orchestration.artifact_keys import artifact_key
from batchwork_prefect.orchestration.persistence import latest_key
from batchwork_prefect.orchestration.reporting import cost_line
from batchwork_prefect.outputs import plain_parsed

PREVIEW_ROWS = 20
"""How many results the preview artifact shows."""
PREVIEW_CHARS = 120
"""How many characters of a result's text (or error) the preview shows."""
PROMPT_CHARS = 60
"""How many characters of a request's prompt (its last user message) the preview shows."""
FIRST_ERRORS = 5
"""How many errors the summary lists."""


@dataclass(frozen=True)
class RoundShown:
    """One round as the summary shows it: its parts' handles, their ended snapshots (where
    this process saw them) and the round's own results."""

    handles: Sequence[PartHandle]
    results: BatchResults
    snapshots: Sequence[BatchSnapshot] = field(default_factory=tuple)


def publish_summary(
    built: BuiltBatch,
    rounds: Sequence[RoundShown],
    results: BatchResults,
    scope: str,
    storage: WritableFileSystem,
    storage_given: object = None,
) -> None:
    """The summary and preview table artifacts of a batch whose rounds were all read."""
    rows = summary_rows(built, rounds, results, scope, storage, storage_given)
    digest = built.digest[:16]
    sync(
        create_table_artifact(
            rows,
            key=artifact_key("summary", scope),
            description=f"Batch {scope} (digest {digest}): {len(results)} requests, "
            f"{len(rounds[0].handles) if rounds else 0} part(s)",
        )
    )
    shown = min(PREVIEW_ROWS, len(results))
    sync(
        create_table_artifact(
            preview_rows(results, prompt_starts(built, PREVIEW_ROWS), order=_first_ids(built)),
            key=artifact_key("preview", scope),
            description=f"The first {shown} of {len(results)} results of batch {scope}, "
            "in the requests' order",
        )
    )


def summary_rows(
    built: BuiltBatch,
    rounds: Sequence[RoundShown],
    results: BatchResults,
    scope: str,
    storage: WritableFileSystem,
    storage_given: object = None,
) -> list[dict[str, Any]]:
    """The summary's rows: `field` and `value`, in the glossary's words (batch, part, digest)."""
    usage = results.usage
    rows: list[dict[str, Any]] = [
        {"field": "model", "value": results.model or f"{built.provider}/{built.model}"},
        {"field": "batch scope", "value": scope},
        {"field": "batch digest", "value": built.digest},
        {"field": "requests", "value": len(results)},
    ]
    for one in rounds:
        for handle in one.handles:
            rows.append(
                {
                    "field": f"part {handle.part + 1}/{handle.parts}, round {handle.attempt}",
                    "value": f"provider batch {handle.batch_id}",
                }
            )
    rows.append({"field": "wait", "value": wait_line(rounds)})
    rows.extend({"field": s.value, "value": n} for s, n in results.counts.items())
    rows.extend(round_rows([one.results for one in rounds], results))
    rows += [
        {"field": "input tokens", "value": usage.input_tokens},
        {"field": "output tokens", "value": usage.output_tokens},
        {"field": "cache read tokens", "value": usage.cache_read_input_tokens},
        {"field": "cache creation tokens", "value": usage.cache_creation_input_tokens},
        {"field": "cost", "value": cost_line(results)},
        {"field": "results stored at", "value": stored_at(storage, scope)},
        {"field": "load them with", "value": load_line(scope, storage, storage_given)},
    ]
    for result in results.by_status("errored")[:FIRST_ERRORS]:
        if result.error is not None:
            rows.append(
                {
                    "field": f"error {result.custom_id}",
                    "value": f"{result.error.type}: {result.error.message}"[:300],
                }
            )
    return rows


def wait_line(rounds: Sequence[RoundShown]) -> str:
    """From the first provider batch's creation to the last one's end, or why not known."""
    snapshots = [snapshot for one in rounds for snapshot in one.snapshots]
    handles = [handle for one in rounds for handle in one.handles]
    starts: list[datetime] = [s.created_at for s in snapshots if s.created_at is not None]
    starts += [handle.submitted_at for handle in handles]
    ends = [s.ended_at for s in snapshots if s.ended_at is not None]
    if not starts or not ends or len(ends) < len(handles):
        return "not known (the parts' ends were read in an earlier run)"
    start, end = min(starts), max(ends)
    seconds = max(0, round((end - start).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    shown = (
        f"{hours}h {rest // 60:02d}m {rest % 60:02d}s"
        if hours
        else f"{rest // 60}m {rest % 60:02d}s"
    )
    return f"{shown} ({start:%Y-%m-%d %H:%M:%S} to {end:%Y-%m-%d %H:%M:%S} UTC)"


def stored_at(storage: WritableFileSystem, scope: str) -> str:
    """Where the scope's `latest.json` is: a path, a URL, or the block and the key."""
    key = latest_key(scope)
    if isinstance(storage, LocalFileSystem | RemoteFileSystem) and storage.basepath:
        return f"{str(storage.basepath).rstrip('/')}/{key}"
    return f"{_block_ref(storage) or type(storage).__name__} {key}"


def load_line(scope: str, storage: WritableFileSystem, storage_given: object = None) -> str:
    """The one line of Python that loads the results (`storage=` unless the default)."""
    if storage_given is None:
        return f'load_batch_results("{scope}")'
    ref = storage_given if isinstance(storage_given, str) else _block_ref(storage)
    where = f'"{ref}"' if ref else "<the result_storage block>"
    return f'load_batch_results("{scope}", storage={where})'


def _block_ref(storage: WritableFileSystem) -> str | None:
    name = getattr(storage, "_block_document_name", None)
    return f"{storage.get_block_type_slug()}/{name}" if name else None


def round_rows(rounds: Sequence[BatchResults], results: BatchResults) -> list[dict[str, Any]]:
    """A row per round after the first (what it sent and how that ended), and what is left
    failing after the last, by reason; none for a batch read in one round with no failure."""
    rows: list[dict[str, Any]] = []
    if len(rounds) > 1:
        for attempt, one in enumerate(rounds, start=1):
            counted = ", ".join(f"{n} {s.value}" for s, n in one.counts.items() if n)
            rows.append({"field": f"round {attempt}", "value": f"{len(one)} sent: {counted}"})
            rows.append({"field": f"round {attempt} cost", "value": cost_line(one)})
        added = [one.cost for one in rounds[1:]]
        priced = [cost for cost in added if cost is not None]
        if priced and len(priced) == len(added):  # every retry round priced
            total = sum(priced[1:], start=priced[0])
            rows.append({"field": "cost of the retries", "value": total.describe()})
    reasons: dict[str, int] = {}
    for why in left_failing(results.results).values():
        reasons[why] = reasons.get(why, 0) + 1
    if reasons:
        named = ", ".join(f"{why}: {n}" for why, n in sorted(reasons.items()))
        rows.append({"field": "left failing", "value": f"{sum(reasons.values())} ({named})"})
    return rows


def _first_ids(built: BuiltBatch, limit: int = PREVIEW_ROWS) -> list[str]:
    """The first custom_ids in the requests' order (the parts hold them in order)."""
    ids: list[str] = []
    for part in built.parts:
        ids.extend(part.custom_ids[: limit - len(ids)])
        if len(ids) >= limit:
            break
    return ids


def prompt_starts(built: BuiltBatch, limit: int = PREVIEW_ROWS) -> dict[str, str]:
    """The start of the last user message of the first `limit` requests, by custom_id: only
    those requests are decoded, so a batch of 100,000 costs no more than one of 20."""
    starts: dict[str, str] = {}
    for part in built.parts:
        for custom_id, encoded in zip(part.custom_ids, part.encoded, strict=True):
            if len(starts) >= limit:
                return starts
            starts[custom_id] = _cut(_last_user_text(encoded), PROMPT_CHARS)
    return starts


def _last_user_text(encoded: bytes) -> str:
    """The text of the last user message of an encoded request (Anthropic's `params`, the
    OpenAI-style `body`); empty where it has none."""
    try:
        request = orjson.loads(encoded)
        body = request.get("params") or request.get("body") or {}
        messages = body.get("messages") or []
    except (orjson.JSONDecodeError, AttributeError):
        return ""
    for message in reversed(messages):
        if isinstance(message, Mapping) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(
                    block["text"]
                    for block in content
                    if isinstance(block, Mapping) and isinstance(block.get("text"), str)
                )
    return ""


def preview_rows(
    results: BatchResults,
    prompts: Mapping[str, str] | None = None,
    *,
    order: Sequence[str] | None = None,
    limit: int = PREVIEW_ROWS,
) -> list[dict[str, str]]:
    """custom_id, status, the start of the prompt (with `prompts`) and the first characters
    of the text (or the error) of the first results, in `order` (default: the results');
    in a typed batch, the parsed fields as columns (then the error) instead of the text."""
    if order is None:
        shown = results.values()[:limit]
    else:
        found = (results.get(custom_id) for custom_id in order[:limit])
        shown = [result for result in found if result is not None]
    parsed = [_parsed_fields(result.parsed) for result in shown]
    columns = list(dict.fromkeys(name for fields in parsed if fields for name in fields))
    return [
        _row(result, fields, columns, prompts) for result, fields in zip(shown, parsed, strict=True)
    ]


def _row(
    result: BatchResult,
    fields: dict[str, Any] | None,
    columns: list[str],
    prompts: Mapping[str, str] | None,
) -> dict[str, str]:
    error = result.error
    problem = "" if error is None else f"{error.type}: {error.message}"
    row = {"custom_id": result.custom_id, "status": result.status.value}
    if prompts is not None:
        row["prompt"] = prompts.get(result.custom_id, "")
    if not columns:
        row["text or error"] = _cut(problem if error is not None else result.text or "")
        return row
    for name in columns:
        value = (fields or {}).get(name)
        column = name if name not in _PREVIEW_OWN else f"parsed.{name}"
        row[column] = "" if value is None else _cut(csv_cell(value))
    row["error"] = _cut(problem)
    return row


_PREVIEW_OWN = frozenset({"custom_id", "status", "prompt", "error"})


def _parsed_fields(parsed: Any) -> dict[str, Any] | None:
    """A parsed answer as `{field: value}`: an object's fields, else one `parsed` field."""
    if parsed is None:
        return None
    parsed = plain_parsed(parsed)
    return parsed if isinstance(parsed, dict) else {"parsed": parsed}


def _cut(shown: str, limit: int = PREVIEW_CHARS) -> str:
    shown = " ".join(shown.split())  # one line in a table cell
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"
