"""`import batchwork_prefect` loads no Prefect; the Prefect names load on first use.

Each case runs in a fresh interpreter: this test process has usually imported Prefect already.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import batchwork_prefect

# An expression for the child processes: the Prefect modules they have loaded.
PREFECT_MODULES = "[m for m in sys.modules if m == 'prefect' or m.startswith('prefect.')]"


def run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        [sys.executable, *args, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed


def last_json(completed: subprocess.CompletedProcess[str]) -> object:
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_the_package_and_its_plain_names_import_no_prefect() -> None:
    completed = run_python(
        f"""
        import json, sys
        import batchwork_prefect
        from batchwork_prefect import batch, BatchJob, BatchRequest, BatchworkError
        from batchwork_prefect import verify_webhook
        print(json.dumps({PREFECT_MODULES}))
        """
    )
    assert last_json(completed) == []


def test_a_prefect_name_imports_prefect_on_first_use() -> None:
    completed = run_python(
        f"""
        import json, sys
        import batchwork_prefect
        before = {PREFECT_MODULES}
        from batchwork_prefect import run_batch
        from prefect.flows import Flow
        print(json.dumps({{
            "before": before,
            "prefect_loaded": "prefect" in sys.modules,
            "flow": isinstance(run_batch, Flow),
            "name": run_batch.name,
        }}))
        """
    )
    assert last_json(completed) == {
        "before": [],
        "prefect_loaded": True,
        "flow": True,
        "name": "run-batch",
    }


def test_the_price_data_loads_only_when_a_cost_is_read() -> None:
    completed = run_python(
        """
        import json, sys
        from batchwork_prefect import BatchResult, BatchResults, Usage
        results = BatchResults(
            batch_ids=["b"],
            model="anthropic/claude-opus-4-8",
            results=[BatchResult(custom_id="a", status="succeeded", usage=Usage(input_tokens=2))],
        )
        before = [results.usage.input_tokens, "genai_prices" in sys.modules]
        cost = results.cost
        print(json.dumps(before + [cost is not None, "genai_prices" in sys.modules]))
        """
    )
    assert last_json(completed) == [2, False, True, True]


def test_the_core_import_leaves_asyncio_and_the_webhook_client_to_first_use() -> None:
    completed = run_python(
        """
        import json, sys
        from batchwork_prefect import batch, get_batch
        modules = ("asyncio", "batchwork_prefect.core.asyncjob", "batchwork_prefect.webhooks")
        before = [m for m in modules if m in sys.modules]
        from batchwork_prefect import AsyncBatchJob, verify_webhook
        from batchwork_prefect.core import abatch
        from batchwork_prefect.core.asyncjob import AsyncBatchJob as defined, abatch as defined_a
        from batchwork_prefect.webhooks import verify_webhook as defined_v
        print(json.dumps({
            "before": before,
            "after": [m for m in modules if m in sys.modules],
            "same": [AsyncBatchJob is defined, abatch is defined_a, verify_webhook is defined_v],
        }))
        """
    )
    assert last_json(completed) == {
        "before": [],
        "after": ["asyncio", "batchwork_prefect.core.asyncjob", "batchwork_prefect.webhooks"],
        "same": [True, True, True],
    }


def test_importtime_lists_no_prefect_module() -> None:
    completed = run_python("import batchwork_prefect", "-X", "importtime")
    imported = [line.rsplit("|", 1)[-1].strip() for line in completed.stderr.splitlines()]
    assert "batchwork_prefect" in imported  # the report is the one expected
    assert [m for m in imported if m == "prefect" or m.startswith("prefect.")] == []


def test_every_public_name_resolves() -> None:
    completed = run_python(
        """
        import json
        import batchwork_prefect
        missing = [n for n in batchwork_prefect.__all__ if getattr(batchwork_prefect, n) is None]
        print(json.dumps(missing))
        """
    )
    assert last_json(completed) == []
    for name in batchwork_prefect.__all__:
        assert getattr(batchwork_prefect, name) is not None, name


def test_the_lazy_names_are_the_orchestration_objects() -> None:
    from batchwork_prefect.orchestration import (
        credentials,
        flows,
        job_block,
        loading,
        sealing,
        tasks,
    )

    assert batchwork_prefect.AnthropicCredentials is credentials.AnthropicCredentials
    assert batchwork_prefect.run_batch is flows.run_batch
    assert batchwork_prefect.BatchworkSerializer is sealing.BatchworkSerializer
    assert batchwork_prefect.load_batch_results is loading.load_batch_results
    assert batchwork_prefect.submit_part is tasks.submit_part
    assert batchwork_prefect.MessageBatchJob is job_block.MessageBatchJob


def test_dir_lists_the_public_names() -> None:
    listed = dir(batchwork_prefect)
    assert set(batchwork_prefect.__all__) <= set(listed) and listed == sorted(listed)
    assert "__version__" in listed and batchwork_prefect.__version__


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        batchwork_prefect.no_such_name  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("no AttributeError")
    assert not hasattr(batchwork_prefect, "no_such_name")


def test_block_register_finds_the_blocks() -> None:
    """`prefect block register -m batchwork_prefect` registers what inspect.getmembers finds."""
    completed = run_python(
        """
        import inspect, json
        import batchwork_prefect
        from prefect.blocks.core import Block
        found = [
            cls.get_block_type_slug()
            for _, cls in inspect.getmembers(batchwork_prefect)
            if cls is not None and Block.is_block_class(cls)
        ]
        print(json.dumps(found))
        """
    )
    from batchwork_prefect.orchestration.credentials import CREDENTIALS_BLOCKS

    every_block = [block.get_block_type_slug() for block in CREDENTIALS_BLOCKS.values()]
    assert last_json(completed) == sorted([*every_block, "message-batch-job"])


def test_prefect_finds_the_block_type_through_the_collections_entry_point() -> None:
    """What a Prefect server does at start (and Block.load of "anthropic-credentials/...")."""
    completed = run_python(
        """
        import json, sys
        from prefect.blocks.core import Block
        from prefect.plugins import load_prefect_collections
        from prefect.utilities.dispatch import get_registry_for_type

        before = "anthropic-credentials" in (get_registry_for_type(Block) or {})
        loaded = load_prefect_collections()
        print(json.dumps({
            "before": before,
            "loaded": "batchwork_prefect" in loaded,
            "after": "anthropic-credentials" in (get_registry_for_type(Block) or {}),
            "class": Block.get_block_class_from_key("anthropic-credentials").__name__,
        }))
        """
    )
    assert last_json(completed) == {
        "before": False,
        "loaded": True,
        "after": True,
        "class": "AnthropicCredentials",
    }


def test_a_flow_run_process_reads_a_batchwork_result_record(tmp_path: Path) -> None:
    """A fresh process that imports the flow, as a flow run does, knows the serializer."""
    record, expected = tmp_path / "record.json", tmp_path / "expected.json"
    run_python(
        f"""
        from prefect._internal.result_records import ResultRecord, ResultRecordMetadata
        from batchwork_prefect.models import BatchResults
        from batchwork_prefect.orchestration.sealing import BatchworkSerializer

        results = BatchResults(batch_ids=["msgbatch_1"])
        metadata = ResultRecordMetadata(serializer=BatchworkSerializer(model="BatchResults"))
        blob = ResultRecord(metadata=metadata, result=results).serialize()
        open({str(record)!r}, "wb").write(blob)
        open({str(expected)!r}, "w").write(results.model_dump_json())
        """
    )
    completed = run_python(
        f"""
        import json
        from batchwork_prefect import run_batch
        from prefect._internal.result_records import ResultRecord

        loaded = ResultRecord.deserialize(open({str(record)!r}, "rb").read())
        print(json.dumps({{
            "serializer": loaded.metadata.serializer.type,
            "type": type(loaded.result).__name__,
            "json": loaded.result.model_dump_json(),
        }}))
        """
    )
    assert last_json(completed) == {
        "serializer": "batchwork-json",
        "type": "BatchResults",
        "json": expected.read_text(),
    }


def test_a_one_shot_submit_and_read_build_no_pydantic_validator() -> None:
    # A script pays for what it loads: the models build their pydantic validators on first
    # use (defer_build), and the plain path (dict requests, plain defaults, snapshots and
    # results checked by the wire format) uses none, nor loads pydantic's plugin entry points.
    completed = run_python(
        """
        import json, sys
        from batchwork_prefect import batch, get_batch, models
        from batchwork_prefect.emulator import Emulator

        with Emulator(processing_seconds=0) as emulator:
            requests = [{"custom_id": f"r{i}", "prompt": "Capital of France? One word."}
                        for i in range(3)]
            with batch("anthropic/claude-x", requests, defaults={"max_tokens": 16},
                       api_key="k", base_url=emulator.base_url) as job:
                job.wait(poll_interval=0.01)
                texts = [result.text for result in job.collect().values()]
            with get_batch(job.id, api_key="k", base_url=emulator.base_url) as again:
                usage = [result.usage.output_tokens for result in again.results()]
        import pydantic
        from batchwork_prefect.models import batch_results, requests, results, snapshots
        built = sorted(
            name
            for module in (models, requests, snapshots, results, batch_results)
            for name, value in vars(module).items()
            if isinstance(value, type)
            and issubclass(value, pydantic.BaseModel)
            and value is not pydantic.BaseModel
            and value.__pydantic_complete__
        )
        print(json.dumps({"texts": texts, "usage": len(usage), "built": built,
                          "plugins": "importlib.metadata" in sys.modules}))
        """
    )
    assert last_json(completed) == {
        "texts": ["Paris", "Paris", "Paris"],
        "usage": 3,
        "built": [],
        "plugins": False,
    }


def test_a_provider_module_loads_on_first_use() -> None:
    completed = run_python(
        """
        import json, sys
        from batchwork_prefect import batch
        from batchwork_prefect.providers import get_format, split_model
        name = "batchwork_prefect.providers.openai"
        before = name in sys.modules
        split_model("openai/gpt-x")  # knowing the name loads nothing
        named = name in sys.modules
        get_format("openai")
        print(json.dumps([before, named, name in sys.modules]))
        """
    )
    assert last_json(completed) == [False, False, True]
