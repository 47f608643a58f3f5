"""The Mistral read row's readers agree: this project's, the mistralai SDK's and the raw
floor's each read every result of the bench's job once, with the same statuses and texts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from batchwork_prefect.emulator import Emulator
from bench import mistral_cases
from bench.cases import Case, Job

SIZE = 200
"""Results in the job: 190 succeeded, 10 errored."""


@pytest.fixture(scope="module")
def job() -> Iterator[Job]:
    with Emulator(api_key=mistral_cases.API_KEY, reply_content=mistral_cases.reply_content) as emu:
        base_url = emu.base_url_for("mistral")
        yield Job(base_url=base_url, batch_id=mistral_cases.create_job(base_url, SIZE))


def _read(reader: Case, job: Job) -> dict[object, tuple[object, object]]:
    seen: dict[object, tuple[object, object]] = {}
    original = mistral_cases._consume

    def record(custom_id: object, status: object, text: object, usage: object) -> None:
        assert custom_id not in seen
        seen[custom_id] = (str(status), text)
        original(custom_id, status, text, usage)

    mistral_cases._consume = record  # type: ignore[assignment]
    try:
        assert reader.run(job) == SIZE
    finally:
        mistral_cases._consume = original  # type: ignore[assignment]
    return seen


def test_the_readers_agree(job: Job) -> None:
    read = {case.key: _read(case, job) for case in mistral_cases.READERS}
    assert read["project"] == read["sdk"] == read["raw"]
    statuses = [status for status, _ in read["raw"].values()]
    assert statuses.count("succeeded") == 190 and statuses.count("errored") == 10
