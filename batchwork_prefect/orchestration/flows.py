"""The `run_batch` flow: build → submit → wait → read, per part, durable across reruns."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from contextvars import ContextVar
from typing import Annotated, Any, ParamSpec, TypeVar

from prefect import Flow, tags
from prefect.blocks.system import Secret
from prefect.context import FlowRunContext, TagsContext
from prefect.filesystems import LocalFileSystem, RemoteFileSystem, WritableFileSystem
from prefect.logging import get_run_logger
from prefect.utilities.annotations import quote
from pydantic import BaseModel, BeforeValidator, Field

from batchwork_prefect.core.polling import DEFAULT_MAX_POLL_INTERVAL, DEFAULT_POLL_INTERVAL
from batchwork_prefect.errors import ConfigurationError
from batchwork_prefect.models import BatchRequest, BatchResults
from batchwork_prefect.orchestration import heartbeats
from batchwork_prefect.orchestration._sync import sync
from batchwork_prefect.orchestration.automations import refuse_crash_loop
from batchwork_prefect.orchestration.checks import check_run, check_storage_form, refuse_raw_key
from batchwork_prefect.orchestration.credentials import AnyCredentials
from batchwork_prefect.orchestration.intents import stored_parts
from batchwork_prefect.orchestration.release import (
    WaitMode,
    check_releasable,
)
from batchwork_prefect.orchestration.rounds import (
    RoundOptions,
    check_left,
    record_rounds,
    run_rounds,
)
from batchwork_prefect.orchestration.scopes import BatchScope, call_site
from batchwork_prefect.orchestration.tasks import (
    build_batch,
    load_requests,
)
from batchwork_prefect.outputs import OutputType
from batchwork_prefect.providers import BatchLimits, get_format, split_model
from batchwork_prefect.webhooks import deliver_webhook, webhook_id_for

DEFAULT_MAX_ATTEMPTS = 3
"""A request is sent at most three times: two retry rounds for what failed in passing."""
DEFAULT_MAX_WAIT = 25 * 3600.0
"""Anthropic ends every batch within 24 hours; an hour more leaves room for finishing."""


P = ParamSpec("P")
R = TypeVar("R")


_CALLER_TAGS: ContextVar[set[str] | None] = ContextVar("batchwork_caller_tags", default=None)


class TaggedFlow(Flow[P, R]):
    """A flow whose runs as a subflow carry the tags of the flow run that calls them.

    Prefect gives a subflow run only the tags of the `tags()` context, not its parent's own
    (a deployment's `batchwork`), so automations and event filters on those tags would not
    see it. Only the subflow run gets them: its task runs keep the caller's tags, so tag
    concurrency limits count them as before.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # before Prefect creates the run, which stores the parameters as given
        _refuse_unfit(_given(self.fn, args, kwargs))
        context = FlowRunContext.get()
        parent = context.flow_run if context is not None else None
        if parent is None or not parent.tags:
            return super().__call__(*args, **kwargs)
        token = _CALLER_TAGS.set(set(TagsContext.get().current_tags))
        try:
            with tags(*parent.tags):
                return super().__call__(*args, **kwargs)
        finally:
            _CALLER_TAGS.reset(token)

    def validate_parameters(self, parameters: dict[str, Any]) -> dict[str, Any]:
        # a run created elsewhere (a deployment, the API) is refused before its code runs
        _refuse_unfit(parameters)
        return super().validate_parameters(parameters)

    def with_options(self, *args: Any, **kwargs: Any) -> TaggedFlow[P, R]:
        copy = super().with_options(*args, **kwargs)
        copy.__class__ = TaggedFlow  # with_options makes a plain Flow (prefect pinned: 3.9)
        return copy  # type: ignore[return-value]


def _given(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The parameters of a call by name (Prefect's own options left out)."""
    named = {key: value for key, value in kwargs.items() if key not in _PREFECT_OPTIONS}
    try:
        return dict(inspect.signature(fn).bind_partial(*args, **named).arguments)
    except TypeError:
        return named  # Prefect reports the bad call itself


_PREFECT_OPTIONS = frozenset({"return_state", "wait_for"})


def _refuse_unfit(parameters: dict[str, Any]) -> None:
    """Refuse what must not be stored as a parameter, or cannot be one at all."""
    refuse_raw_key(parameters.get("credentials"))
    OutputType.of(parameters.get("output"))  # a bad output: InvalidBatchError, naming the fix
    if "result_storage" in parameters:
        check_storage_form(parameters["result_storage"], refs=True)


def _by_name(storage: Any) -> Any:
    """Another saved storage block (S3Bucket, GcsBucket, ...) is passed on as 'type/name'.

    The run form offers the two file-system blocks every Prefect server knows; the abstract
    WritableFileSystem type would refer the form to a block type the server does not have.
    """
    if not isinstance(storage, WritableFileSystem) or isinstance(
        storage, LocalFileSystem | RemoteFileSystem
    ):
        return storage
    name = storage._block_document_name
    if not name:
        raise ConfigurationError(
            f"save the {type(storage).__name__} block first (block.save('NAME')) and pass it, "
            "or its 'type/name', as result_storage: a run can only name a saved block"
        )
    return f"{storage.get_block_type_slug()}/{name}"


def _caller_tags() -> AbstractContextManager[Any]:
    """The tags of the code that called this subflow, for the task runs it creates."""
    caller = _CALLER_TAGS.get()
    return TagsContext(current_tags=caller) if caller is not None else nullcontext()


def tagged_flow(**options: Any) -> Callable[[Callable[P, R]], TaggedFlow[P, R]]:
    """`@flow(**options)` making a `TaggedFlow`: for flows that call `run_batch` with their
    own `credentials` parameter, which must be refused before Prefect stores it."""

    def decorate(fn: Callable[P, R]) -> TaggedFlow[P, R]:
        return TaggedFlow(fn, **options)

    return decorate


@tagged_flow(name="run-batch", persist_result=False, validate_parameters=True)
def run_batch(
    model: str,
    requests: list[BatchRequest] | None = None,
    defaults: dict[str, Any] | None = None,
    credentials: AnyCredentials | str | None = None,
    idempotency_key: str | None = None,
    poll_interval: Annotated[float, Field(gt=0, le=3600)] = DEFAULT_POLL_INTERVAL,
    max_poll_interval: Annotated[float, Field(gt=0, le=3600)] = DEFAULT_MAX_POLL_INTERVAL,
    max_wait_seconds: Annotated[float | None, Field(ge=0)] = DEFAULT_MAX_WAIT,
    cancel_on_timeout: bool = True,
    result_storage: Annotated[
        LocalFileSystem | RemoteFileSystem | str | None, BeforeValidator(_by_name)
    ] = None,
    webhook_url: str | None = None,
    webhook_secret_block: str | None = None,
    max_requests_per_batch: Annotated[int | None, Field(ge=1)] = None,
    max_crash_resumes: Annotated[int, Field(ge=0)] = 3,
    requests_path: str | None = None,
    batch_name: str | None = None,
    wait: WaitMode = "in_process",
    max_attempts: Annotated[int, Field(ge=1, le=10)] = DEFAULT_MAX_ATTEMPTS,
    allow_failed: Annotated[float | None, Field(ge=0)] = None,
    output: type[BaseModel] | dict[str, Any] | None = None,
) -> BatchResults:
    """Run a message batch end to end and return its normalized results.

    Requests past the provider's limits are split into parts (one provider batch each) that
    are submitted, awaited and read as mapped tasks. Every part's submit and read persist
    their results, so a retry of this flow run (from the UI, or after a crash) resumes the
    same provider batches, and a run whose results were read returns them from storage
    without calling the provider. With `idempotency_key` the same holds across flow runs.

    Called inside another flow (as a subflow, or as `run_batch.fn`), the batch belongs to
    the outermost flow run and to its call site: `batch_name`, else the n-th `run_batch`
    call of that run. A Retry of the pipeline run then resumes the same batches, and
    `load_batch_results(<pipeline run id>)` finds the last one.

    Args:
        model: The model as 'provider/model', e.g. anthropic/claude-opus-4-8 or
            openai/gpt-4o-mini.
        requests: The requests; each has a prompt or messages and an optional custom_id.
            Give these or requests_path.
        defaults: Messages API fields merged under every request (max_tokens, system, ...).
        credentials: The provider's credentials block (AnthropicCredentials,
            OpenAICredentials) or its saved name; empty: the provider's env vars on the
            worker (ANTHROPIC_API_KEY; OPENAI_API_KEY, OPENAI_BASE_URL, ...). Never a dict
            with the api_key: the run's parameters would keep it, so it is refused.
        idempotency_key: Makes the batch durable across flow runs (e.g. a date partition);
            without it a batch is durable within its outermost flow run (retries of that
            run, or of a pipeline that calls this flow, resume it).
        poll_interval: Seconds between the first polls; later polls spread out.
        max_poll_interval: The longest sleep between two polls, in seconds.
        max_wait_seconds: Stop waiting after this many seconds (empty: wait indefinitely).
        cancel_on_timeout: Cancel the provider batch when max_wait_seconds runs out.
        result_storage: Where results are persisted: a saved local-file-system or
            remote-file-system block (s3://... for workers on several machines), or any
            storage block's 'type/name' (e.g. s3-bucket/results); default: the local Prefect
            storage path.
        webhook_url: POST a signed 'batch ended' webhook (Standard Webhooks) here.
        webhook_secret_block: Name of the Secret block that holds the webhook secret.
        max_requests_per_batch: Split into provider batches of at most this many requests
            (empty: the provider's limit).
        max_crash_resumes: How many times the crash-resume automations may restart this run
            before it is refused (a Retry from the UI always runs).
        requests_path: A JSONL file of requests (one object per line) that the worker reads,
            local or an fsspec URL such as s3://bucket/key: for batches whose requests exceed
            the Prefect API's 512 KiB parameter limit.
        batch_name: A name for this call site, unique within the outermost flow run
            (letters, digits, '.', '_', '=', '-'); default: call-1, call-2, ... in call
            order. Give one when run_batch is called concurrently or conditionally.
        wait: 'in_process' polls in this run's process until the batches end; 'release'
            suspends the run while they run (its process exits, its work-pool slot is
            free) and the batchwork poller (`batchwork-prefect poller`) resumes it when
            they have ended. Release needs a deployment's own flow run (not a subflow) and
            credentials given by a saved block's name or the poller's env vars.
        max_attempts: How many times a request may be sent in all: after each round, the
            requests that failed for a passing reason (expired, overloaded, a fault on the
            provider's side) are sent again as the next round; 1 sends each request once.
        allow_failed: Fail the run (after persisting its results) when more requests than
            this are left failing after the last round: below 1 a fraction of the requests
            (0.01: 1%), from 1 up a count (0: any failure); empty: never fail, only warn.
        output: Makes the batch typed: a pydantic model class (in-process calls), or a
            JSON schema (a deployment's form, `-p output=...`). Every request asks for
            answers of that type in the provider's structured-output form (a request's own
            output_config.format / response_format is refused); each answer is validated
            into `result.parsed`, and one that does not validate is errored
            (`invalid_output`) and sent again in the next retry round.

    Returns:
        The `BatchResults`, one result per request (the last attempt's):
        `results["fr"].text`, `.texts()`, `.counts`, `.usage`, `.cost`,
        `results["fr"].attempts`.

    Raises:
        IncompleteResultsError: more requests left failing than `allow_failed` allows.

    Examples:
        ```python
        results = run_batch(
            model="anthropic/claude-opus-4-8",
            requests=[{"custom_id": "fr", "prompt": "Capital of France? One word."}],
            credentials="anthropic",
            idempotency_key="2026-11-25",
        )
        results["fr"].text
        ```
    """
    with _caller_tags():  # the subflow run got its parent's tags; its tasks keep the caller's
        refuse_crash_loop(max_crash_resumes)
        release = wait == "release"
        typed = OutputType.of(output)  # a bad output fails here, before anything is sent
        if release and typed is not None and typed.model is not None:
            raise ConfigurationError(
                "wait='release' resumes the run from its stored parameters, which cannot "
                "hold a model class: pass output=<Model>.model_json_schema() (parsed answers "
                "are then dicts; load_batch_results(..., output=<Model>) gives instances), "
                "or wait in process"
            )
        poller_credentials = check_releasable(credentials) if release else None
        # worked out once, here, and passed to every task of the batch
        scope = BatchScope.here(idempotency_key, batch_name or call_site())
        if (requests is None) == (requests_path is None):
            raise ConfigurationError("give exactly one of requests and requests_path")
        endpoint, storage = check_run(
            model, credentials, result_storage, webhook_url, webhook_secret_block
        )
        listed = requests if requests is not None else load_requests(str(requests_path))
        # quote(): Prefect would otherwise walk every request, and every encoded one, for
        # futures to resolve and inputs to record (about a third of a second per 1,000)
        built = build_batch(
            model,
            quote(listed),
            defaults,
            limits=part_limits(model, max_requests_per_batch),
            output=typed,
        )
        storage_options: dict[str, Any] = (
            {"result_storage": result_storage} if result_storage else {}
        )
        # records another endpoint made are refused; what comes from storage is said
        for line in stored_parts(storage, scope.name, built, endpoint):
            get_run_logger().info(line)
        limits = part_limits(model, max_requests_per_batch) or get_format(built.provider).limits
        options = RoundOptions(
            credentials=credentials,
            storage_options=storage_options,
            poll_interval=poll_interval,
            max_poll_interval=max(max_poll_interval, poll_interval),
            max_wait_seconds=max_wait_seconds,
            cancel_on_timeout=cancel_on_timeout,
            release=release,
            poller_credentials=poller_credentials,
            storage=storage,
            scope=scope,
        )
        rounds, results = run_rounds(built, limits, max_attempts, options)
        record_rounds(built, rounds, results, options)
        if webhook_url:
            _send_webhook(webhook_url, webhook_secret_block, built.digest, results, scope.name)
        check_left(rounds, results, allow_failed)
        return results


run_batch.fn.__batchwork_run_batch__ = True  # type: ignore[attr-defined]  # see scopes.call_site
heartbeats.install()  # its runs end without the heartbeat thread's join: see heartbeats


def part_limits(model: str, max_requests: int | None) -> BatchLimits | None:
    """The limits of each part: the provider's, with at most `max_requests` requests."""
    if max_requests is None:
        return None
    provider_limits = get_format(split_model(model)[0]).limits
    return BatchLimits(
        max_requests=min(max_requests, provider_limits.max_requests),
        max_bytes=provider_limits.max_bytes,
    )


def _send_webhook(
    url: str,
    secret_block: str | None,
    digest: str,
    results: BatchResults,
    scope: str,
) -> None:
    if not secret_block:
        raise ConfigurationError("webhook_url needs webhook_secret_block (a Secret block name)")
    secret = str(sync(Secret.load(secret_block)).get())
    payload = {
        "type": "batch.ended",
        "batch_ids": results.batch_ids,
        "digest": digest,
        "scope": scope,
        "counts": {status.value: number for status, number in results.counts.items()},
        "usage": results.usage.model_dump(),
    }
    deliver_webhook(url, payload, secret, webhook_id=webhook_id_for(scope, digest))
