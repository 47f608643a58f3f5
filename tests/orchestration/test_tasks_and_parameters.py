"""Task functions called directly, and the flow's parameter form for the Prefect UI."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from prefect import flow
from prefect.logging import disable_run_logger
from prefect.utilities.callables import parameter_schema
from pydantic import ValidationError

from batchwork_prefect import (
    AnthropicCredentials,
    BatchScope,
    InvalidBatchError,
    build_batch,
    read_part_results,
    run_batch,
    submit_part,
    wait_for_part,
)
from batchwork_prefect.emulator import Emulator
from batchwork_prefect.errors import ConfigurationError
from batchwork_prefect.orchestration.persistence import (
    batch_scope,
    intent_key,
    part_ref,
    results_key,
    submit_key,
)
from tests.support import API_KEY


def test_build_batch_fn_validates_and_digests() -> None:
    with disable_run_logger():
        built = build_batch.fn("anthropic/claude-x", [{"custom_id": "a", "prompt": "x"}])
        again = build_batch.fn("anthropic/claude-x", [{"custom_id": "a", "prompt": "x"}])
        other = build_batch.fn("anthropic/claude-x", [{"custom_id": "a", "prompt": "y"}])
        assert built.digest == again.digest != other.digest
        with pytest.raises(InvalidBatchError):
            build_batch.fn("anthropic/claude-x", [])


def test_scope_and_keys() -> None:
    assert batch_scope(None, "run-1") == "run-1/default"
    assert batch_scope(None, "run-1", "call-2") == "run-1/call-2"
    assert batch_scope("2026-11-25", "run-1", "call-2") == "2026-11-25"
    digest, part_digest = "d" * 64, "p" * 64
    assert (
        submit_key("k", (digest, 2, part_digest))
        == f"batchwork/k/{digest}/part-2-pppppppppppppppp/submit.json"
    )
    assert (
        results_key("k", (digest, 0, None))
        == f"batchwork/k/{digest}/part-0-dddddddddddddddd/results.json"
    )
    assert intent_key("k", (digest, 1, part_digest)).endswith(
        "/part-1-pppppppppppppppp/intent.json"
    )


@pytest.mark.parametrize(
    "key", ["", "../escape", "a/b", "a..b", "-lead", "x" * 129, "a b", "abc\n", "abc\n\n"]
)
def test_unsafe_idempotency_keys_are_refused(key: str) -> None:
    with pytest.raises(ConfigurationError, match="idempotency_key"):
        batch_scope(key, "run-1")


def test_no_scope_without_key_or_flow_run() -> None:
    with pytest.raises(ConfigurationError):
        batch_scope(None, None)


def _property(schema: dict[str, Any], name: str) -> dict[str, Any]:
    prop: dict[str, Any] = schema["properties"][name]
    return prop


def test_flow_parameters_render_as_a_typed_form() -> None:
    schema = parameter_schema(run_batch).model_dump()
    requests = _property(schema, "requests")
    [listed] = [option for option in requests["anyOf"] if option.get("type") == "array"]
    assert listed["items"]["$ref"].endswith("BatchRequest")
    assert _property(schema, "requests_path")["description"]
    assert "prompt" in schema["definitions"]["BatchRequest"]["properties"]
    credentials = _property(schema, "credentials")
    refs = [option.get("$ref", "") for option in credentials["anyOf"]]
    assert any(ref.endswith("AnthropicCredentials") for ref in refs)
    block = schema["definitions"]["AnthropicCredentials"]
    assert block["block_type_slug"] == "anthropic-credentials"
    assert "api_key" in block["secret_fields"]
    assert any(ref.endswith("OpenAICredentials") for ref in refs)
    openai_block = schema["definitions"]["OpenAICredentials"]
    assert openai_block["block_type_slug"] == "openai-credentials"
    assert "api_key" in openai_block["secret_fields"]
    for field in ("base_url", "organization", "project", "headers"):
        assert openai_block["properties"][field]["description"]
    poll = _property(schema, "poll_interval")
    assert poll["exclusiveMinimum"] == 0 and poll["description"]
    assert _property(schema, "max_requests_per_batch")["anyOf"][0]["minimum"] == 1
    for name in (
        "model",
        "idempotency_key",
        "max_wait_seconds",
        "result_storage",
        "max_requests_per_batch",
        "max_crash_resumes",
    ):
        assert _property(schema, name)["description"]


def test_every_parameter_and_request_field_is_described() -> None:
    schema = parameter_schema(run_batch).model_dump()
    undescribed = [
        name for name, prop in schema["properties"].items() if not prop.get("description")
    ]
    assert undescribed == []
    fields = schema["definitions"]["BatchRequest"]["properties"]
    assert [name for name, prop in fields.items() if not prop.get("description")] == []


def _block_slugs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["block_type_slug"]} if "block_type_slug" in node else set()
        return found.union(*(_block_slugs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_block_slugs(value) for value in node))
    return set()


def test_the_form_offers_only_block_types_the_server_knows() -> None:
    from prefect.client.orchestration import get_client

    from batchwork_prefect import AnthropicCredentials

    schema = parameter_schema(run_batch).model_dump()
    storage = _property(schema, "result_storage")
    offered = _block_slugs({"storage": storage, "definitions": schema["definitions"]})
    assert {"local-file-system", "remote-file-system"} <= offered
    assert "writablefilesystem" not in offered
    with get_client(sync_client=True) as client:
        AnthropicCredentials.register_type_and_schema()
        for slug in _block_slugs(schema):
            assert client.read_block_type_by_slug(slug).slug == slug


def test_another_saved_storage_block_is_passed_on_by_name() -> None:
    from prefect.filesystems import SMB

    block = SMB(share_path="/batches", smb_host="files.example")
    parameters = {"model": "anthropic/claude-x", "requests": [{"prompt": "x"}]}
    with pytest.raises(ConfigurationError, match="save the SMB block first"):
        run_batch.validate_parameters({**parameters, "result_storage": block})
    block.save("batch-share", overwrite=True)
    validated = run_batch.validate_parameters({**parameters, "result_storage": block})
    assert validated["result_storage"] == "smb/batch-share"


CAPITALS = [
    {"custom_id": "fr", "prompt": "Capital of France? One word."},
    {"custom_id": "jp", "prompt": "Capital of Japan? One word."},
]


@flow(name="tasks-in-my-flow", persist_result=False)
def tasks_in_my_flow(base_url: str, key: str | None = None) -> tuple[dict[str, str], BatchScope]:
    """The tasks of one batch in a user's own flow, sharing one scope."""
    credentials = AnthropicCredentials(api_key=API_KEY, base_url=base_url)
    built = build_batch("anthropic/claude-x", CAPITALS)
    scope = BatchScope.here(idempotency_key=key)
    handle = submit_part(built, 0, scope, credentials)
    wait_for_part(handle, scope, credentials, poll_interval=0.05)
    return read_part_results(handle, scope, credentials).texts(), scope


def test_the_tasks_in_your_own_flow_resume_under_their_scope(
    emulator: Emulator, prefect_home: Path
) -> None:
    key = f"own-flow-{uuid.uuid4().hex[:8]}"
    first, scope = tasks_in_my_flow(emulator.base_url, key)
    again, _ = tasks_in_my_flow(emulator.base_url, key)
    assert first == again == {"fr": "Paris", "jp": "Tokyo"}
    assert emulator.calls["create"] == 1 and emulator.calls["results"] == 1
    assert scope.name == key and scope.root_run == scope.run is not None
    with disable_run_logger():
        built = build_batch.fn("anthropic/claude-x", CAPITALS)
    stored = prefect_home / "storage" / results_key(key, part_ref(built, 0))
    assert stored.is_file()


def test_a_scope_without_a_key_is_its_flow_run_s_and_stays_json() -> None:
    @flow(persist_result=False)
    def where() -> BatchScope:
        return BatchScope.here(batch_name="nightly")

    state = where(return_state=True)
    scope = state.result()
    assert scope.name == f"{state.state_details.flow_run_id}/nightly"
    assert BatchScope.model_validate_json(scope.model_dump_json()) == scope
    with pytest.raises(ValidationError):
        scope.name = "elsewhere"  # type: ignore[misc]  # frozen: worked out once
    with pytest.raises(ConfigurationError, match="idempotency_key"):
        BatchScope.here()  # outside any flow run, no key: nowhere to keep the records
    with pytest.raises(ConfigurationError, match="batch_name"):
        BatchScope.here("a-key", batch_name="../up")
