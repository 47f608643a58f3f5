"""The flow runs behind the wait records, as the poller reads them, a page at a time."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterState
from prefect.client.schemas.filters import FlowRunFilterStateType as StateTypeFilter
from prefect.client.schemas.objects import FlowRun, State, StateType

from batchwork_prefect.orchestration.wait_store import PAGE
from batchwork_prefect.orchestration.waits import RunView, WaitRecord

ENDED_RUN_STATES = [
    StateType.COMPLETED,
    StateType.FAILED,
    StateType.CANCELLED,
    StateType.CANCELLING,
    StateType.CRASHED,
]


def read_runs(
    client: SyncPrefectClient, runs: Iterable[str], *, states: list[StateType] | None = None
) -> dict[str, FlowRun]:
    """The flow runs of these ids (only those in `states`, if given)."""
    wanted = [UUID(run) for run in runs]
    state = FlowRunFilterState(type=StateTypeFilter(any_=states)) if states else None
    found: dict[str, FlowRun] = {}
    for start in range(0, len(wanted), PAGE):
        page = wanted[start : start + PAGE]
        for run in client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=page), state=state),
            limit=len(page),
        ):
            found[str(run.id)] = run
    return found


def missing_runs(client: SyncPrefectClient, runs: Iterable[str]) -> list[str]:
    """The ids of no flow run (deleted): counted a page at a time, read only when a page
    comes up short."""
    wanted = sorted(runs)
    missing: list[str] = []
    for start in range(0, len(wanted), PAGE):
        page = wanted[start : start + PAGE]
        ids = FlowRunFilter(id=FlowRunFilterId(any_=[UUID(run) for run in page]))
        if client.count_flow_runs(flow_run_filter=ids) == len(page):
            continue
        found = read_runs(client, page)
        missing += [run for run in page if run not in found]
    return missing


def ended_after(view: RunView, state: State) -> bool:
    """Whether the run's state is newer than its records (older ones: a Retry wrote them)."""
    return state.timestamp.timestamp() > max(record.written for record in view.records)


def why(view: RunView, now: float) -> str:
    """Why the poller resumes the run, for its log line."""
    if any(record.error for record in view.records):
        return "a batch could not be polled (the run reports why)"
    deadline = view.deadline
    if deadline is not None and now >= deadline and not all(r.ended for r in view.records):
        return "its deadline passed (the run cancels or fails its wait)"
    return "every batch ended (" + ", ".join(_ends(view.records)) + ")"


def _ends(records: Iterable[WaitRecord]) -> list[str]:
    return [f"{record.batch_id} {record.status.value}" for record in records]
