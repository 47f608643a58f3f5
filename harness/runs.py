"""Flow runs on a server: starting them, waiting for their states, reading events and subflows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from prefect import get_client
from prefect.client.schemas.objects import FlowRun, State, StateType
from prefect.deployments import run_deployment

from harness.base import ClusterBase
from harness.waiting import Timeout, wait_until


class FlowRuns(ClusterBase):
    """The flow-run helpers of `Cluster`."""

    def run_deployment(
        self,
        name: str,
        queue: str | None,
        parameters: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> FlowRun:
        """Create a flow run of deployment `flow/deployment` on `queue` (None: the
        deployment's); return at once."""
        with self.settings():
            run = run_deployment(
                name,
                parameters=dict(parameters or {}),
                timeout=0,
                work_queue_name=queue,
                as_subflow=False,
                _sync=True,  # type: ignore[call-arg]  # async_dispatch: sync even in a loop
                **kwargs,
            )
        assert isinstance(run, FlowRun)
        return run

    def read_flow_run(self, flow_run_id: UUID | str) -> FlowRun:
        with self.settings(), get_client(sync_client=True) as client:
            return client.read_flow_run(UUID(str(flow_run_id)))

    def read_states(self, flow_run_id: UUID | str) -> list[State]:
        """The flow run's state history, oldest first."""
        with self.settings(), get_client(sync_client=True) as client:
            states = client.read_flow_run_states(UUID(str(flow_run_id)))
        return sorted(states, key=lambda state: state.timestamp)

    def state_names(self, flow_run_id: UUID | str) -> list[str]:
        return [str(state.name) for state in self.read_states(flow_run_id)]

    def history(self, flow_run_id: UUID | str) -> list[tuple[str | None, str | None]]:
        """The run's (name, message) states, oldest first: what `automatic_resumes` reads."""
        return [(state.name, state.message) for state in self.read_states(flow_run_id)]

    def wait_for_state(
        self,
        flow_run_id: UUID | str,
        state_type: StateType | Iterable[StateType] | None = None,
        name: str | None = None,
        *,
        timeout: float = 120.0,
        interval: float = 0.5,
        fail_on_final: bool = True,
        crash_is_final: bool = True,
    ) -> FlowRun:
        """Poll until the run is in a state of `state_type` (and `name`); return the run.

        With `fail_on_final`, a final state that is not the wanted one fails at once (with
        the state history and the worker logs) instead of waiting for the deadline; but
        Crashed is waited through when not `crash_is_final` (an automation resumes it).
        """
        types = (
            set()
            if state_type is None
            else {state_type}
            if isinstance(state_type, StateType)
            else set(state_type)
        )
        last: list[FlowRun] = []

        def reached() -> FlowRun | None:
            run = self.read_flow_run(flow_run_id)
            last[:] = [run]
            state = run.state
            if state is None:
                return None
            if (not types or state.type in types) and (name is None or state.name == name):
                return run
            resumable = not crash_is_final and state.type == StateType.CRASHED
            if fail_on_final and state.is_final() and not resumable:
                raise AssertionError(self._describe(run, types, name))
            return None

        try:
            return wait_until(reached, timeout, interval=interval)
        except Timeout as exc:
            raise Timeout(
                self._describe(last[0] if last else None, types, name, timeout=timeout)
            ) from exc

    def wait_for_history(
        self,
        flow_run_id: UUID | str,
        name: str,
        *,
        after: Any = None,
        timeout: float = 120.0,
        interval: float = 0.5,
    ) -> State:
        """Poll until a state named `name` (newer than `after`, a datetime) is in the run's
        history; return it. For states an automation replaces at once (Crashed)."""

        def found() -> State | None:
            for state in self.read_states(flow_run_id):
                if state.name == name and (after is None or state.timestamp > after):
                    return state
            return None

        try:
            return wait_until(found, timeout, interval=interval)
        except Timeout as exc:
            raise Timeout(
                f"no {name!r} state in {timeout:.0f} s; history: "
                f"{self.state_names(flow_run_id)}\n{self.worker_logs()}"
            ) from exc

    def subflow_runs(self, flow_run_id: UUID | str) -> list[FlowRun]:
        """The flow runs whose parent task run belongs to `flow_run_id` (its subflows)."""
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

        filter_ = FlowRunFilter(
            parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[UUID(str(flow_run_id))])
        )
        with self.settings(), get_client(sync_client=True) as client:
            return client.read_flow_runs(flow_run_filter=filter_)

    def _describe(
        self,
        run: FlowRun | None,
        types: set[StateType],
        name: str | None,
        timeout: float | None = None,
    ) -> str:
        wanted = f"{sorted(t.value for t in types) or 'any'} {name or ''}".strip()
        head = f"timed out after {timeout:.0f} s" if timeout else "final state"
        if run is None:
            return f"{head}: flow run never read; wanted {wanted}"
        message = run.state.message if run.state else None
        return (
            f"{head}: flow run {run.id} is {run.state_type} {run.state_name!r} "
            f"({message!r}); wanted {wanted}\n"
            f"history: {self.state_names(run.id)}\n{self.worker_logs()}"
        )

    def force_state(self, flow_run_id: UUID | str, state: State) -> None:
        """`set_flow_run_state(..., force=True)`; fail unless the server accepted it."""
        with self.settings(), get_client(sync_client=True) as client:
            result = client.set_flow_run_state(UUID(str(flow_run_id)), state, force=True)
        if result.status.value != "ACCEPT":
            raise AssertionError(f"state {state.name} not accepted: {result.details}")

    def retry_from_ui(self, flow_run_id: UUID | str) -> None:
        """What the UI's Retry button does: force the run to Scheduled/AwaitingRetry."""
        self.force_state(
            flow_run_id,
            State(type=StateType.SCHEDULED, name="AwaitingRetry", message="Retry from the UI"),
        )

    def read_events(self, flow_run_id: UUID | str, names: Iterable[str] | None = None) -> list[Any]:
        """Events about the flow run (resource `prefect.flow-run.<id>`), oldest first."""
        from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

        filter_ = EventFilter(
            resource=EventResourceFilter(id=[f"prefect.flow-run.{flow_run_id}"]),
            event=EventNameFilter(name=list(names)) if names else None,
        )
        with self.settings(), get_client(sync_client=True) as client:
            page = client.read_events(filter=filter_, limit=50)  # the server caps at 50
            events = list(page.events)
            while page.next_page:
                page = client.read_events_page(str(page.next_page))
                events.extend(page.events)
        return sorted(events, key=lambda event: event.occurred)

    def worker_finished(self, flow_run_id: UUID | str) -> bool:
        """Whether a worker has finished with the run's process: it has reported how the
        process ended (a crash report included) and emitted `executed-flow-run`."""
        from prefect.events.filters import EventFilter, EventNameFilter, EventRelatedFilter

        filter_ = EventFilter(
            related=EventRelatedFilter(id=[f"prefect.flow-run.{flow_run_id}"]),
            event=EventNameFilter(name=["prefect.worker.executed-flow-run"]),
        )
        with self.settings(), get_client(sync_client=True) as client:
            return bool(client.read_events(filter=filter_, limit=50).events)
