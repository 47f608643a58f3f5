"""Stop signals: how a flow run tells its own `wait_for_part` tasks to stop waiting.

A cancelled run cancels its batches; a run failing for another reason (a sibling part could
not be submitted) leaves them running, for a rerun to resume.
"""

from __future__ import annotations

import threading

from batchwork_prefect.errors import WaitStopped


class StopSignal:
    """Set once a flow run's waits must stop; says whether their batches are cancelled."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.cancel_batches = False

    def sleep(self, seconds: float) -> None:
        """Sleep, unless the signal is set first: then raise `WaitStopped`."""
        if self.event.wait(seconds):
            reason = "the flow run is being cancelled" if self.cancel_batches else "the run failed"
            raise WaitStopped(reason, cancel_batches=self.cancel_batches)


_STOPS: dict[str, StopSignal] = {}
_STOPS_LOCK = threading.Lock()


def stop_signal(flow_run_id: object) -> StopSignal:
    """The stop signal of a flow run (its id; None: outside any flow run)."""
    with _STOPS_LOCK:
        return _STOPS.setdefault(_key(flow_run_id), StopSignal())


def stop_waiting(flow_run_id: object, *, cancel_batches: bool) -> None:
    """Make every `wait_for_part` of the flow run stop; with `cancel_batches`, cancel too."""
    with _STOPS_LOCK:
        signal = _STOPS.setdefault(_key(flow_run_id), StopSignal())
    signal.cancel_batches = cancel_batches
    signal.event.set()


def forget_stop_signal(flow_run_id: object) -> None:
    """Drop the flow run's stop signal once its waits are over."""
    with _STOPS_LOCK:
        _STOPS.pop(_key(flow_run_id), None)


def _key(flow_run_id: object) -> str:
    return str(flow_run_id or "")  # a UUID or its text: the same run
