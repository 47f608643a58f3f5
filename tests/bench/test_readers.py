"""Every bench reader reads what users read of each result: status, text and usage.

Against the bench's own workload (thinking, two text blocks around a tool call, prompt-cache
usage; some results errored or expired): each reader must see every result, its status, the
two text blocks joined, and the usage counts, and the errored and expired results as such.
The loaders read the same batch persisted as the Prefect layer persists it.
"""

from __future__ import annotations

import importlib.util
import math
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from batchwork_prefect.emulator import Emulator
from bench import cases
from bench.persisted import SCOPE
from bench.suite import prefect_env, spawn
from bench.workloads import (
    API_KEY,
    create_batch,
    outcome,
    read_prompts,
    reply_text,
    reply_usage,
)
from bench.workloads import reply_content as content

SIZE = 100
"""Results in the batch: 93 succeeded, 5 errored, 2 expired."""

Reader = Callable[[cases.Job], int]
READERS: list[tuple[str, Reader, str]] = [
    ("project", cases.read_project, "batchwork_prefect"),
    ("project collect", cases.collect_project, "batchwork_prefect"),
    ("sdk", cases.read_sdk, "anthropic"),
    ("batchwork-ai", cases.read_batchwork_ai, "batchwork"),
    ("raw", cases.read_raw, "httpx"),
]
CACHE_COUNTS = ("cache_creation_input_tokens", "cache_read_input_tokens")
LOADERS: list[tuple[str, Reader]] = [
    ("project", cases.load_project),
    ("raw", cases.load_raw),
]


@pytest.fixture(scope="module")
def batch() -> Iterator[cases.Job]:
    """The bench's read batch of SIZE results, ended, on a running emulator."""
    with Emulator(api_key=API_KEY, reply_content=content, reply_usage=reply_usage) as emulator:
        yield cases.Job(base_url=emulator.base_url, batch_id=create_batch(emulator.base_url, SIZE))


@pytest.fixture(scope="module")
def persisted(batch: cases.Job, tmp_path_factory: pytest.TempPathFactory) -> cases.Job:
    """The same batch persisted as a `run_batch` flow run persists it (in a child process)."""
    folder = tmp_path_factory.mktemp("persisted")
    spec = {"case": "persist", **vars(batch), "storage": str(folder / "storage")}
    del spec["prompts"], spec["body"]
    written = spawn(spec, env=prefect_env(str(folder / "prefect-home")))
    assert written["count"] == SIZE
    return cases.Job(storage=spec["storage"], scope=SCOPE, record=written["record"])


def _expected() -> tuple[Counter[str], list[str], list[tuple[int, ...]]]:
    """The statuses, the texts (sorted) and the usage counts (output tokens, then the cache
    counts; sorted) the batch must give."""
    statuses: Counter[str] = Counter()
    texts, counts = [], []
    for index, prompt in enumerate(read_prompts(SIZE)):
        statuses[outcome(index)] += 1
        if outcome(index) == "succeeded":
            params = {"messages": [{"role": "user", "content": prompt}]}
            texts.append(reply_text(params))
            blocks = content(params)
            chars = len(blocks[0]["thinking"]) + len(reply_text(params))
            chars += len(orjson.dumps(blocks[2]["input"]))
            usage = reply_usage(params)
            counts.append((math.ceil(chars / 4), *(usage[name] for name in CACHE_COUNTS)))
    return statuses, sorted(texts), sorted(counts)


def _read_with(reader: Reader, job: cases.Job, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    seen: list[tuple[object, object, object]] = []
    monkeypatch.setattr(cases, "_consume", lambda *fields: seen.append(fields))
    assert reader(job) == SIZE
    assert len(seen) == SIZE
    return seen


def _check(seen: list[Any], *, cache_counts: bool = True) -> None:
    """What `seen` must hold; `cache_counts`: whether the reader's usage has them."""
    statuses, texts, counts = _expected()
    status_of = [str(getattr(status, "value", status)) for status, _, _ in seen]
    assert Counter(status_of) == statuses
    succeeded = [
        fields for fields, status in zip(seen, status_of, strict=True) if status == "succeeded"
    ]
    assert sorted(text for _, text, _ in succeeded) == texts
    names = ("output_tokens", *CACHE_COUNTS) if cache_counts else ("output_tokens",)
    expected = sorted(count[: len(names)] for count in counts)
    assert sorted(_counts(usage, names) for _, _, usage in succeeded) == expected
    for (_, text, usage), status in zip(seen, status_of, strict=True):
        if status != "succeeded":
            assert not text and not usage, status


def _counts(usage: object, names: tuple[str, ...]) -> tuple[int, ...]:
    if isinstance(usage, dict):
        return tuple(usage[name] for name in names)
    return tuple(getattr(usage, name) for name in names)


@pytest.mark.parametrize(("name", "reader", "module"), READERS, ids=[r[0] for r in READERS])
def test_each_reader_consumes_status_text_and_usage(
    name: str,
    reader: Reader,
    module: str,
    batch: cases.Job,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install -e '.[bench]')")
    # batchwork-ai's usage holds input, output and total tokens only, no cache counts
    _check(_read_with(reader, batch, monkeypatch), cache_counts=name != "batchwork-ai")


@pytest.mark.parametrize(("name", "loader"), LOADERS, ids=[r[0] for r in LOADERS])
def test_each_loader_consumes_status_text_and_usage_of_the_persisted_results(
    name: str, loader: Reader, persisted: cases.Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Path(persisted.record).is_file()
    _check(_read_with(loader, persisted, monkeypatch))


def test_the_workload_has_thinking_text_and_tool_use_blocks() -> None:
    params = {"messages": [{"role": "user", "content": read_prompts(1)[0]}]}
    blocks = content(params)
    assert [block["type"] for block in blocks] == ["thinking", "text", "tool_use", "text"]
    assert blocks[1]["text"] + blocks[3]["text"] == reply_text(params)
    assert blocks[2]["id"].startswith("toolu_") and isinstance(blocks[2]["input"], dict)
    assert len(blocks[0]["signature"]) == 200
    assert content(params) == blocks  # deterministic
    assert all(value > 0 for value in reply_usage(params).values())
