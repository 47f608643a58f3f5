"""Reading a scope's latest results back: `load_batch_results`.

The pointer (`latest.json`) names the results of each part and each retry round; each is
checked against its digest and merged, the last round over the ones before. Where the
pointer is missing because the run that writes it has not finished, the Prefect server is
asked, and the error says which state the run is in.
"""

from __future__ import annotations

import re
from uuid import UUID

import orjson
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound
from prefect.filesystems import WritableFileSystem
from prefect.settings import PREFECT_API_URL

from batchwork_prefect.errors import (
    BatchworkError,
    ConfigurationError,
    ResultsNotReadyError,
    StoredRecordError,
)
from batchwork_prefect.models import BatchResults
from batchwork_prefect.orchestration._sync import sync
from batchwork_prefect.orchestration.persistence import (
    PREFIX,
    check_scope,
    latest_key,
    resolve_storage,
)
from batchwork_prefect.orchestration.sealing import read_results, unseal
from batchwork_prefect.outputs import OutputLike, OutputType, typed_results


def load_batch_results(
    scope: str,
    *,
    storage: WritableFileSystem | str | None = None,
    output: OutputLike | None = None,
) -> BatchResults:
    """Read back a scope's latest results.

    A typed batch's results keep `parsed` as plain JSON; with `output` (the pydantic model
    the batch was run with) each is validated into the model again, and the answers of an
    untyped batch are validated from their text.

    `scope` is the `idempotency_key`; or a flow run id (the last batch that run, or any
    flow run under it, read); or `<flow run id>/<batch name>` for one call site. `storage`
    is the block (or its "type/name") the results were written to; default: the default
    result storage. A damaged `latest.json`, or a results file that does not match its
    digest or is not a `BatchResults`, raises `StoredRecordError` naming the file; a flow
    run that has not finished raises `ResultsNotReadyError` naming its state.
    """
    block = resolve_storage(storage)
    pointer_key = latest_key(check_scope(scope))
    try:
        pointer = _read(block, pointer_key)
    except ConfigurationError:
        refuse_unfinished(scope)  # a run that has not finished says so, and in which state
        raise
    rounds: dict[int, list[BatchResults]] = {}
    for key, attempt in _results_keys(pointer, pointer_key):
        data = _read(block, key)
        try:
            blob = orjson.loads(data)["result"].encode()
        except (orjson.JSONDecodeError, TypeError, KeyError, AttributeError):
            raise StoredRecordError(
                f"{key!r} is not a Prefect result record; rerun the flow to read the results "
                "from the provider again",
                key=key,
            ) from None
        rounds.setdefault(attempt, []).append(read_results(unseal(blob, key), key))
    # a pointer lists at least one results key; each retry round over the ones before
    merged = BatchResults.of_rounds([BatchResults.concat(rounds[one]) for one in sorted(rounds)])
    return typed_results(merged, OutputType.of(output))


_RESULTS_KEY = re.compile(rf"{PREFIX}/[^\x00]+/part-[0-9]+-[0-9a-f]{{1,64}}/results\.json")


def _results_keys(data: bytes, pointer_key: str) -> list[tuple[str, int]]:
    """The results keys a `latest.json` pointer lists, each with its attempt (1 where the
    pointer predates retry rounds); `StoredRecordError` if it is damaged."""
    try:
        pointer = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        problem = f"not JSON: {exc}"
    else:
        keys = pointer.get("results") if isinstance(pointer, dict) else None
        if not isinstance(keys, list) or not keys:
            problem = 'no "results" list of results keys'
        elif not all(
            isinstance(key, str) and _RESULTS_KEY.fullmatch(key) and ".." not in key for key in keys
        ):
            problem = 'a "results" entry that is not a part\'s results.json key'
        else:
            attempts = pointer.get("attempts", [1] * len(keys))
            if (
                isinstance(attempts, list)
                and len(attempts) == len(keys)
                and all(type(one) is int and one >= 1 for one in attempts)
            ):
                return list(zip(keys, attempts, strict=True))
            problem = 'an "attempts" list that does not match its "results"'
    raise StoredRecordError(
        f"{pointer_key!r} is not a results pointer ({problem}): it was edited or damaged. "
        "Rerun the flow that wrote it (with its idempotency_key, the rerun finds the stored "
        "results and writes the pointer again) or delete the file",
        key=pointer_key,
    )


def refuse_unfinished(scope: str) -> None:
    """Raise `ResultsNotReadyError` when `scope` names a flow run that has not finished.

    Asked only where a Prefect server is configured: without one Prefect would start a
    temporary server that knows no runs. An unknown run, or one that ended, is left to the
    caller's own message.
    """
    try:
        run_id = UUID(scope.partition("/")[0])
    except ValueError:
        return  # an idempotency key
    if PREFECT_API_URL.value() is None:
        return
    try:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(run_id).state
    except ObjectNotFound:
        return
    except Exception:  # the server cannot be reached: the caller's own message stands
        return
    if state is None or state.is_final():
        return
    then = (
        "the batchwork poller (`batchwork-prefect poller`) resumes it once its batches have ended"
        if state.is_paused()
        else "wait for it to complete"
    )
    raise ResultsNotReadyError(
        f"flow run {run_id} has not finished: it is {state.name} ({state.type.value}), and "
        f"its results are stored when it completes; {then}, then load them again"
    )


def _read(block: WritableFileSystem, key: str) -> bytes:
    try:
        data: bytes = sync(block.read_path(key))
        return data
    except BatchworkError:
        raise
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise ConfigurationError(f"no persisted batch data at {key!r}: {exc}") from None
