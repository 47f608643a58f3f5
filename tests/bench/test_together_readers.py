"""The Together rows' readers agree: against the bench's Together batch, this project's
reader, the together SDK's and the raw floor's each read every result in the two files
once, and the same statuses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from batchwork_prefect.emulator import Emulator
from bench import together_cases
from bench.cases import Job
from bench.workloads import outcome

SIZE = 200


@pytest.fixture(scope="module")
def batch() -> Iterator[Job]:
    with Emulator(
        api_key=together_cases.API_KEY, reply_content=together_cases.reply_content
    ) as emulator:
        base_url = emulator.base_url_for("together")
        batch_id, output_bytes, error_bytes = together_cases.create_batch(base_url, SIZE)
        assert output_bytes > 0 and error_bytes > 0
        yield Job(base_url=base_url, batch_id=batch_id)


@pytest.mark.parametrize("reader", together_cases.READERS, ids=lambda case: case.key)
def test_each_reader_reads_every_result_in_the_files(batch: Job, reader: object) -> None:
    # the expired requests are in neither file: a COMPLETED batch lists what it ran
    ran = sum(1 for index in range(SIZE) if outcome(index) != "expired")
    assert reader.run(batch) == ran  # type: ignore[attr-defined]


def test_only_together_renders_its_section_and_the_rest_as_not_run() -> None:
    from dataclasses import replace

    from bench.report import render
    from bench.suite import Measured, Options, TogetherResults, not_run

    options = Options(size=100, repeats=1, only="together")
    readers = {
        case.key: Measured(
            case.label, 100, seconds=[0.5], peaks=[0], baselines=[0], fresh=[0.7], imports=[0.2]
        )
        for case in together_cases.READERS
    }
    ran = replace(not_run(options, None, 1.0), together=TogetherResults(100, readers))
    text = render(ran, "python -m bench --only together")
    assert "## 12. Together: read an ended batch" in text
    for case in together_cases.READERS:
        assert case.label in text
    assert "not run (--only together)" in text
