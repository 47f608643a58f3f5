"""The wait records, the poller's schedules and its resume logs on a Prefect server (I/O).

Three kinds of Prefect Variable, each with one writer (see `waits` for why):

- `batchwork-wait-<run>-<part>`: the run's record (`WaitRecord`), written by the run;
- `batchwork-poll-<run>-<part>`: the poller's schedule of that part (`Schedule`);
- `batchwork-resumed-<run>`: the poller's last resume of the run (`resumes.ResumeLog`).

The poller deletes a run's records only once the run has ended or is gone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import VariableFilter, VariableFilterName
from pydantic import BaseModel, ValidationError

from batchwork_prefect.orchestration.resumes import RESUMES_PREFIX, ResumeLog, resumes_name
from batchwork_prefect.orchestration.waits import (
    PREFIX,
    SCHEDULE_PREFIX,
    Schedule,
    WaitRecord,
    merged,
    record_name,
    schedule_name,
    schedule_of,
)

PAGE = 200  # the server's default page size
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Unreadable:
    """A variable named as a wait record whose value is not one (edited by hand, say)."""

    name: str
    reason: str


@dataclass
class Snapshot:
    """What the server holds: the records (merged with their schedules), and the rest."""

    records: list[WaitRecord] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)
    resumes: dict[str, ResumeLog] = field(default_factory=dict)
    stale: list[str] = field(default_factory=list)  # the poller's variables of no record


class WaitStore:
    """The wait records on a Prefect server, through a sync client."""

    def __init__(self, client: SyncPrefectClient) -> None:
        self._client = client

    # reading

    def snapshot(self, run: str | None = None) -> Snapshot:
        """Every record (or `run`'s), merged with the poller's schedules, and the logs."""
        tail = "%" if run is None else f"{run}-%"
        snapshot = Snapshot()
        records: list[WaitRecord] = []
        for name, value in self._read(PREFIX + tail):
            record = _parse(WaitRecord, value)
            if isinstance(record, str):
                snapshot.unreadable.append(Unreadable(name, record))
            elif record.name != name:
                snapshot.unreadable.append(Unreadable(name, f"it holds {record.name}'s record"))
            else:
                records.append(record)
        schedules: dict[str, Schedule] = {}
        for name, value in self._read(SCHEDULE_PREFIX + tail):
            schedule = _parse(Schedule, value)
            if isinstance(schedule, Schedule) and schedule.name == name:
                schedules[name] = schedule
            else:
                snapshot.stale.append(name)  # the poller's own: rewritten at the next poll
        logs = self._read(RESUMES_PREFIX + ("%" if run is None else run))
        for name, value in logs:
            log = _parse(ResumeLog, value)
            if isinstance(log, ResumeLog) and log.name == name:
                snapshot.resumes[log.run] = log
            else:
                snapshot.stale.append(name)
        snapshot.records = [
            merged(record, schedules.pop(schedule_name(record.run, record.part), None))
            for record in records
        ]
        runs = {record.run for record in records}
        snapshot.stale += sorted(schedules)  # of records gone
        snapshot.stale += [log.name for log in snapshot.resumes.values() if log.run not in runs]
        snapshot.resumes = {run: log for run, log in snapshot.resumes.items() if run in runs}
        return snapshot

    def read_all(self) -> list[WaitRecord]:
        """Every wait record, as the poller sees it (unreadable ones are in `snapshot`)."""
        return self.snapshot().records

    def read_run(self, run: str) -> list[WaitRecord]:
        return [record for record in self.snapshot(run).records if record.run == run]

    def names(self) -> list[str]:
        """Every variable of the three kinds, readable or not."""
        prefixes = (PREFIX, SCHEDULE_PREFIX, RESUMES_PREFIX)
        return [name for prefix in prefixes for name, _ in self._read(prefix + "%")]

    def _read(self, pattern: str) -> Iterator[tuple[str, object]]:
        offset = 0
        while True:
            response = self._client.request(
                "POST",
                "/variables/filter",
                json={
                    "variables": VariableFilter(name=VariableFilterName(like_=pattern)).model_dump(
                        mode="json", exclude_unset=True
                    ),
                    "limit": PAGE,
                    "offset": offset,
                },
            )
            page: list[dict[str, Any]] = response.json()
            for variable in page:
                yield str(variable.get("name")), variable.get("value")
            if len(page) < PAGE:
                return
            offset += PAGE

    # writing: the run

    def put(self, record: WaitRecord) -> None:
        """Create or replace the record: the run, before it suspends (its only writer)."""
        self._put(record.name, record.model_dump(mode="json"))

    def delete_run(self, run: str, parts: int) -> None:
        """The run's records, deleted by the run once it no longer waits."""
        self.delete(record_name(run, part) for part in range(parts))

    # writing: the poller

    def put_schedule(self, record: WaitRecord) -> None:
        """The poller's schedule of the record's batch, under the record's suspension."""
        schedule = schedule_of(record)
        self._put(schedule.name, schedule.model_dump(mode="json"))

    def put_resumes(self, log: ResumeLog) -> None:
        self._put(log.name, log.model_dump(mode="json"))

    def forget_run(self, run: str, parts: int) -> None:
        """Every variable of a run that has ended or is gone (the poller's clean-up)."""
        names = [resumes_name(run)]
        for part in range(parts):
            names += [record_name(run, part), schedule_name(run, part)]
        self.delete(names)

    def delete(self, names: Iterable[str]) -> None:
        """Delete variables by name; missing ones are fine."""
        for name in names:
            try:
                self._client.request("DELETE", "/variables/name/{name}", path_params={"name": name})
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code != 404:
                    raise

    def _put(self, name: str, value: dict[str, Any]) -> None:
        if self._update(name, value):
            return
        try:
            self._client.request("POST", "/variables/", json={"name": name, "value": value})
        except httpx.HTTPStatusError as exc:
            # the same writer's earlier attempt (or a twin poller) created it meanwhile
            if exc.response.status_code != 409 or not self._update(name, value):
                raise

    def _update(self, name: str, value: dict[str, Any]) -> bool:
        try:
            self._client.request(
                "PATCH", "/variables/name/{name}", path_params={"name": name}, json={"value": value}
            )
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code == 404:
                return False
            raise
        return True


def _parse(model: type[M], value: object) -> M | str:
    """The value as `model`, or why it is not one (a short reason, no values echoed)."""
    if not isinstance(value, dict):
        return f"its value is {type(value).__name__}, not a JSON object"
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        fields = sorted({".".join(map(str, error["loc"])) or "value" for error in exc.errors()})
        return ", ".join(fields[:5]) + " missing or invalid"
