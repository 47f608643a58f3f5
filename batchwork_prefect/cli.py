"""The `batchwork-prefect` command: demo, emulator, save-credentials, install-automations,
resolve-submission and poller.

Prefect and the emulator are imported inside the commands, so `--help` and `--version` stay
quick.
"""

from __future__ import annotations

import errno
import math
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, NoReturn
from urllib.parse import urlsplit

import typer

if TYPE_CHECKING:
    from prefect.filesystems import WritableFileSystem

app = typer.Typer(help="Run LLM message batches as durable Prefect flows.", no_args_is_help=True)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("batchwork-prefect")
        except PackageNotFoundError:  # a source tree that is not installed
            from batchwork_prefect import __version__ as number
        typer.echo(f"batchwork-prefect {number}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Run LLM message batches as durable Prefect flows."""


EMULATOR_KEY = "emulator"
"""The API key saved for a loopback emulator URL when no key is set (the emulator takes any)."""


_SERVER_NEEDED = (
    "PREFECT_API_URL is not set: start a server (`prefect server start`) and "
    "`export PREFECT_API_URL=http://127.0.0.1:4200/api`, or use Prefect Cloud "
    "(`prefect cloud login`)"
)
_BLOCK_NAME = re.compile(r"[a-z0-9-]+")


def _fail(message: str, code: int = 1) -> NoReturn:
    """Print `error: <message>` on stderr, one line, and exit with `code`."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _api_url() -> str | None:
    """The Prefect API the commands talk to (profile or environment), or None."""
    from prefect.settings import PREFECT_API_URL

    value = PREFECT_API_URL.value()
    return str(value) if value else None


def _require_server() -> None:
    """Refuse to go on without a Prefect server: Prefect would start a throwaway one."""
    if _api_url() is None:
        _fail(_SERVER_NEEDED)


@contextmanager
def _prefect_api() -> Iterator[None]:
    """Turn a failed call to the Prefect API into one line that says what to check."""
    import httpx

    try:
        yield
    except httpx.HTTPError as exc:
        _fail(
            f"the Prefect API at {_api_url()} failed: {exc}; check that the server runs "
            "and that PREFECT_API_URL points at it"
        )


def _is_loopback_http(url: str) -> bool:
    """Whether `url` is plain http on this machine (the emulator)."""
    from batchwork_prefect._http.origins import is_loopback

    parts = urlsplit(url)
    return parts.scheme == "http" and bool(parts.hostname) and is_loopback(parts.hostname or "")


@app.command()
def demo(
    processing_seconds: Annotated[
        float, typer.Option(help="How long the emulated batch takes.", min=0)
    ] = 1.0,
) -> None:
    """Run the two capital-city requests through run_batch against the built-in emulator."""
    from batchwork_prefect.demo import run_demo

    run_demo(processing_seconds=processing_seconds, echo=typer.echo)


FAULT_SYNTAX = "ROUTE[:STATUS][:TIMES][:OPTION]..."
"""The shape of an `emulator --fault` value."""


def _non_negative(convert: Callable[[str], float]) -> Callable[[str], float]:
    """`convert`, refusing negative, infinite and NaN numbers."""

    def checked(value: str) -> float:
        number = convert(value)
        if not (math.isfinite(number) and number >= 0):
            raise ValueError(value)
        return number

    return checked


def _boolean(value: str) -> bool:
    """true/yes/1 or false/no/0."""
    if value.lower() in ("true", "yes", "1"):
        return True
    if value.lower() in ("false", "no", "0"):
        return False
    raise ValueError(value)


_ROUTES = (
    "create",
    "list",
    "retrieve",
    "cancel",
    "delete",
    "results",
    "openai.files.create",
    "openai.files.retrieve",
    "openai.files.content",
    "openai.files.delete",
    "openai.batches.create",
    "openai.batches.list",
    "openai.batches.retrieve",
    "openai.batches.cancel",
)
_FAULT_OPTIONS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "retry-after": ("retry_after", _non_negative(float)),
    "retry-after-ms": ("retry_after_ms", _non_negative(float)),
    "should-retry": ("should_retry", _boolean),
    "truncate-after": ("truncate_after_bytes", _non_negative(int)),
}


def _fault_fields(text: str) -> dict[str, Any]:
    """The `Fault` fields an `--fault` value stands for; `typer.BadParameter` if malformed."""

    def bad(problem: str) -> typer.BadParameter:
        return typer.BadParameter(
            f"{text!r}: {problem} (expected {FAULT_SYNTAX}, see --help)", param_hint="'--fault'"
        )

    head, has_body, body = text.partition(":body=")
    route, *tokens = head.split(":")
    if route not in _ROUTES:
        raise bad(f"unknown route {route!r}; choose one of {', '.join(_ROUTES)}")
    fields: dict[str, Any] = {"route": route}
    if has_body:
        fields["body"] = body.encode()
    numbers: list[int] = []
    for token in tokens:
        option, has_value, value = token.partition("=")
        if not has_value:
            if token == "after-create":
                fields["after_create"] = True
            elif re.fullmatch("[0-9]+", token) and len(numbers) < 2:
                numbers.append(int(token))
            else:
                raise bad(f"{token!r} is neither STATUS, TIMES nor an OPTION")
        elif option not in _FAULT_OPTIONS:
            raise bad(f"unknown option {option!r}; choose one of {', '.join(_FAULT_OPTIONS)}")
        else:
            field, convert = _FAULT_OPTIONS[option]
            try:
                fields[field] = convert(value)
            except ValueError:
                raise bad(f"{option}={value!r} is not valid") from None
    if numbers:
        fields["status"] = numbers[0]
    if len(numbers) == 2:
        fields["times"] = numbers[1]
    return _checked_fault_fields(fields, bad)


def _checked_fault_fields(
    fields: dict[str, Any], bad: Callable[[str], typer.BadParameter]
) -> dict[str, Any]:
    """`fields` once they make sense together (said in the flags' words)."""
    if not 100 <= fields.get("status", 500) <= 599:
        raise bad("STATUS must be an HTTP status code (100-599)")
    if fields.get("times", 1) < 1:
        raise bad("TIMES must be at least 1")
    creates = ("create", "openai.files.create", "openai.batches.create")
    if fields.get("after_create") and fields["route"] not in creates:
        raise bad(f"after-create only applies to the routes {', '.join(creates)}")
    if "truncate_after_bytes" in fields:
        if fields.pop("status", 200) != 200:
            raise bad("truncate-after sends the real response: leave out STATUS or give 200")
        shaped = {"retry_after", "retry_after_ms", "should_retry", "body", "after_create"}
        if shaped & fields.keys():
            raise bad("truncate-after cannot be combined with retry headers, body or after-create")
    return fields


@app.command()
def emulator(
    port: Annotated[
        int, typer.Option(help="Port to listen on (0 picks a free one).", min=0, max=65535)
    ] = 8787,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    processing_seconds: Annotated[
        float, typer.Option(help="Emulated seconds from create to end.", min=0)
    ] = 5.0,
    gradual_counts: Annotated[
        bool, typer.Option(help="Move request counts while the batch runs.")
    ] = False,
    api_key: Annotated[
        str | None, typer.Option(help="Require this x-api-key.", envvar="EMULATOR_API_KEY")
    ] = None,
    time_scale: Annotated[
        float,
        typer.Option(help="Emulated seconds per real second (0 freezes the clock).", min=0),
    ] = 1.0,
    cancel_seconds: Annotated[
        float, typer.Option(help="Emulated seconds a canceled batch stays 'canceling'.", min=0)
    ] = 0.0,
    poll_retry_after: Annotated[
        int | None,
        typer.Option(help="Send 'retry-after: N' on retrieves of unfinished batches.", min=0),
    ] = None,
    create_delay_seconds: Annotated[
        float,
        typer.Option(help="Real seconds a create waits, batch stored, before it answers.", min=0),
    ] = 0.0,
    results_origin: Annotated[
        str | None,
        typer.Option(help="Origin put in results_url instead of the emulator's own."),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            help="Seed of the ids and of the order of results lines "
            "(default: ids of its own, the order of seed 0)."
        ),
    ] = None,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            help=f"Queue a fault, {FAULT_SYNTAX}; repeatable (see above).", metavar="FAULT"
        ),
    ] = None,
) -> None:
    """Serve the Anthropic Message Batches emulator until interrupted (Ctrl-C).

    --fault ROUTE[:STATUS][:TIMES][:OPTION]... answers the next TIMES (default 1) requests
    on ROUTE (create, list, retrieve, cancel, delete, results) with HTTP STATUS (default 500)
    instead of the real answer. OPTIONs: retry-after=SECONDS, retry-after-ms=MS,
    should-retry=true|false (x-should-retry header), after-create (create,
    openai.files.create and openai.batches.create only: store the object, then answer with
    the fault), truncate-after=BYTES (send the real response but
    hang up after BYTES body bytes; no STATUS, or 200), body=TEXT (the raw error body; last,
    as it may hold colons). Faults on one route are used in the order given.

    Example: --fault retrieve:529:2:retry-after=3 --fault results:truncate-after=100
    """
    faults = [_fault_fields(text) for text in fault or []]

    from batchwork_prefect.emulator import Emulator, Fault

    server = Emulator(
        host=host,
        port=port,
        api_key=api_key,
        processing_seconds=processing_seconds,
        gradual_counts=gradual_counts,
        cancel_seconds=cancel_seconds,
        poll_retry_after=poll_retry_after,
        time_scale=time_scale,
        create_delay_seconds=create_delay_seconds,
        results_origin=results_origin,
        seed=seed,
    )
    for text, fields in zip(fault or [], faults, strict=True):
        try:
            server.add_fault(Fault(**fields))
        except ValueError as exc:
            raise typer.BadParameter(f"{text!r}: {exc}", param_hint="'--fault'") from None
    try:
        server.start()
    except OSError as exc:
        _fail(_listen_problem(host, port, exc), 2)
    typer.echo(f"Anthropic batches emulator on {server.base_url} (Ctrl-C to stop)")
    for text in fault or []:
        typer.echo(f"queued fault {text}")
    server.serve_forever()


def _listen_problem(host: str, port: int, exc: OSError) -> str:
    """Why the emulator cannot listen on `host:port`, and what to do instead."""
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use: choose another --port, "
            "or --port 0 for a free one"
        )
    reason = exc.strerror or str(exc)
    return (
        f"cannot listen on {host}:{port} ({reason}): check --host, or choose another --port "
        "(--port 0 for a free one)"
    )


@app.command("save-credentials")
def save_credentials_command(
    name: Annotated[
        str | None,
        typer.Argument(
            help="Block name (lowercase letters, digits, dashes); default: the provider's name.",
            metavar="NAME",
        ),
    ] = None,
    provider: Annotated[
        str, typer.Option(help="The provider whose block this is: anthropic or openai.")
    ] = "anthropic",
    base_url: Annotated[
        str | None,
        typer.Option(
            help="The API base URL, e.g. the emulator's http://127.0.0.1:8787 (openai: with "
            "/v1, http://127.0.0.1:8787/v1) (default: the provider's own)."
        ),
    ] = None,
    api_key_env: Annotated[
        str | None,
        typer.Option(
            help="Environment variable holding the API key (default: the provider's own, "
            "ANTHROPIC_API_KEY or OPENAI_API_KEY).",
            metavar="VAR",
        ),
    ] = None,
    organization: Annotated[
        str | None,
        typer.Option(help="openai only: the organization id sent as OpenAI-Organization."),
    ] = None,
    project: Annotated[
        str | None,
        typer.Option(help="openai only: the project id sent as OpenAI-Project."),
    ] = None,
) -> None:
    """Save a credentials block for a provider (replacing one of the same name).

    The API key comes from the provider's environment variable (or --api-key-env), else a
    hidden prompt; a loopback http --base-url (the emulator) gets the placeholder "emulator"
    unless --api-key-env names a key. The key is never printed. Needs PREFECT_API_URL.
    """
    from batchwork_prefect._http.auth import check_headers
    from batchwork_prefect._http.origins import check_base_url
    from batchwork_prefect.errors import ConfigurationError
    from batchwork_prefect.orchestration.credentials import credentials_block

    try:
        block_type = credentials_block(provider)
    except ConfigurationError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--provider'") from None
    block_name = provider if name is None else name
    if not block_name.strip():  # '' must not fall back to, and replace, the default block
        raise typer.BadParameter(
            "the block name is empty: give a name (e.g. anthropic-prod), or leave NAME out "
            f"for the provider's default, {provider}",
            param_hint="'NAME'",
        )
    if not _BLOCK_NAME.fullmatch(block_name):
        raise typer.BadParameter(
            f"{block_name!r} is not a block name: use lowercase letters, digits and dashes "
            "(e.g. anthropic-prod)",
            param_hint="'NAME'",
        )
    scoped = {"organization": organization, "project": project}
    given = {field: value for field, value in scoped.items() if value is not None}
    unknown = sorted(set(given) - set(block_type.model_fields))
    if unknown:
        raise typer.BadParameter(
            f"{provider} credentials have no {unknown[0]}: leave out --{unknown[0]}",
            param_hint=f"'--{unknown[0]}'",
        )
    for field, value in given.items():
        try:  # sent as a header on every request: refuse now what would fail each run
            check_headers({f"openai-{field}": value})
        except ConfigurationError:
            raise typer.BadParameter(
                f"{value!r} cannot be sent as an HTTP header: use printable ASCII only",
                param_hint=f"'--{field}'",
            ) from None
    if base_url is not None:
        try:  # as every run would check it; the message never shows a password
            check_base_url(base_url)
        except ConfigurationError as exc:
            raise typer.BadParameter(
                f"{exc} (e.g. http://127.0.0.1:8787 for the emulator)", param_hint="'--base-url'"
            ) from None
    _require_server()
    key = os.environ.get(api_key_env or block_type.api_key_env) or None
    if key is None and api_key_env is not None:
        _fail(f"{api_key_env} is not set: export it, or leave out --api-key-env to be prompted", 2)
    if api_key_env is None and base_url is not None and _is_loopback_http(base_url):
        key = EMULATOR_KEY  # a real key from the environment never goes to a local emulator
    if key is None:
        key = str(typer.prompt(f"{provider} API key", hide_input=True))
    block = block_type(api_key=key, base_url=base_url, **given)
    with _prefect_api():
        block.save(block_name, overwrite=True)
    where = f"base_url {base_url}" if base_url else "the provider's default base_url"
    typer.echo(f"saved {block_type.get_block_type_slug()}/{block_name} ({where})")


@app.command("install-automations")
def install_automations_command(
    tag: Annotated[
        str, typer.Option(help="Flow runs with this tag are watched (prefect.yaml's tag).")
    ] = "batchwork",
    zombie_after: Annotated[
        float,
        typer.Option(
            help="Seconds without a heartbeat after which a running flow run counts as crashed; "
            "keep it well above PREFECT_FLOWS_HEARTBEAT_FREQUENCY.",
            min=1,
        ),
    ] = 300.0,
    resume_within: Annotated[
        float,
        typer.Option(
            help="Seconds after a flow run starts during which a crash is resumed (default "
            "3 days); keep it above the longest batch wait.",
            min=1,
        ),
    ] = 3 * 24 * 3600.0,
    resume_after: Annotated[
        float,
        typer.Option(
            help="Seconds a crashed run stays still before it is resumed, so the worker's "
            "own late crash report lands first (at least 10).",
            min=10,
        ),
    ] = 30.0,
) -> None:
    """Install the automations that resume crashed batchwork flow runs (idempotent).

    Needs PREFECT_API_URL: the automations live on that server.
    """
    _require_server()
    from datetime import timedelta

    from batchwork_prefect.orchestration.automations import install_automations

    windows = (
        timedelta(seconds=zombie_after),
        timedelta(seconds=resume_within),
        timedelta(seconds=resume_after),
    )
    with _prefect_api():
        names = install_automations(tag, *windows)
    for name in names:
        typer.echo(f"installed automation {name!r}")


@app.command("resolve-submission")
def resolve_submission_command(
    intent_key: Annotated[
        str, typer.Argument(help="The intent's key, from the error message.", metavar="INTENT_KEY")
    ],
    adopt: Annotated[
        str | None,
        typer.Option(help="The provider batch id that is this part's batch.", metavar="BATCH_ID"),
    ] = None,
    resubmit: Annotated[
        bool,
        typer.Option(
            "--resubmit", help="No batch was made for this part: create it on the next run."
        ),
    ] = False,
    storage: Annotated[
        str | None,
        typer.Option(
            help="The run's result_storage block as 'type/name', e.g. s3-bucket/results "
            "(needs PREFECT_API_URL; default: the default result storage).",
            metavar="TYPE/NAME",
        ),
    ] = None,
    credentials: Annotated[
        str | None,
        typer.Option(
            help="The saved credentials block the batch is checked with (needs "
            "PREFECT_API_URL; default: the block named after the provider, e.g. anthropic, "
            "or without PREFECT_API_URL the provider's env vars).",
            metavar="NAME",
        ),
    ] = None,
    provider: Annotated[
        str | None,
        typer.Option(
            help="The batch's provider (anthropic or openai), where the intent was rebuilt "
            "from its key (default: told by the batch id's prefix)."
        ),
    ] = None,
) -> None:
    """Settle a submit whose answer was lost and could not be matched: adopt a batch or resubmit.

    Give exactly one of --adopt BATCH_ID or --resubmit. An adopted id is checked at the
    provider first (it exists and holds the part's request count). An intent that already
    records a batch can be settled again only when the provider does not know that batch.
    """
    if (adopt is None) == (not resubmit):
        raise typer.BadParameter(
            "give exactly one of --adopt BATCH_ID or --resubmit",
            param_hint="'--adopt' / '--resubmit'",
        )
    if adopt is not None and not adopt.strip():
        raise typer.BadParameter("the batch id is empty", param_hint="'--adopt'")
    if storage is not None:
        block_type, slash, block_name = storage.partition("/")
        if not (block_type and slash and block_name) or "/" in block_name:
            raise typer.BadParameter(
                f"{storage!r} is not 'type/name' (e.g. local-file-system/results; "
                "`prefect block ls` lists them)",
                param_hint="'--storage'",
            )
        _require_server()
    if credentials is not None:
        _require_server()

    from batchwork_prefect.errors import BatchworkError
    from batchwork_prefect.orchestration.adoption import CredentialsFor
    from batchwork_prefect.orchestration.intents import resolve_submission

    where = storage if storage is not None else _default_storage()
    checked_with: CredentialsFor = credentials
    if credentials is None and _api_url() is not None:
        checked_with = _named_after  # the block save-credentials names after the provider
    try:
        with _prefect_api():
            settled = resolve_submission(
                intent_key,
                adopt=adopt,
                resubmit=resubmit,
                storage=where,
                credentials=checked_with,
                provider=provider,
            )
    except BatchworkError as exc:
        _fail(_in_flags(str(exc)))
    except ValueError as exc:  # Prefect's answer for a block that does not load
        if storage is None:
            raise
        _fail(f"--storage {storage}: {exc}; `prefect block ls` lists the saved blocks")
    outcome = f"adopts {settled.batch_id}" if settled.batch_id else "will create the part anew"
    typer.echo(f"{intent_key}: the next run {outcome}; rerun the flow run now")


def _named_after(provider: str) -> str:
    return provider


def _default_storage() -> WritableFileSystem | None:
    """The default result storage, read without a Prefect server when none is configured.

    With PREFECT_API_URL set, None (Prefect resolves it, server default included). Without
    it, the local storage path, unless PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK names a block,
    which needs the server.
    """
    if _api_url() is not None:
        return None
    from prefect.filesystems import LocalFileSystem
    from prefect.settings import get_current_settings

    results = get_current_settings().results
    if results.default_storage_block is not None:
        _fail(
            f"the default result storage is a block ({results.default_storage_block}); "
            + _SERVER_NEEDED
        )
    return LocalFileSystem(basepath=str(results.local_storage_path))


_LIBRARY_WORDS = (
    ("adopt=<batch id>", "--adopt BATCH_ID"),
    ("resubmit=True", "--resubmit"),
    ("provider='anthropic' or provider='openai'", "--provider anthropic or --provider openai"),
    ("leave out provider", "leave out --provider"),
    ("credentials=<block name>", "--credentials NAME"),
)


def _in_flags(message: str) -> str:
    """A library message with its Python parameters said as this command's flags."""
    for python, flag in _LIBRARY_WORDS:
        message = message.replace(python, flag)
    return message


poller_app = typer.Typer(
    help="The managed poller of release-mode runs (run_batch(..., wait='release')).",
    no_args_is_help=False,
)
app.add_typer(poller_app, name="poller")


@poller_app.callback(invoke_without_command=True)
def poller_command(
    ctx: typer.Context,
    scan_seconds: Annotated[
        float,
        typer.Option(help="Seconds between two reads of the wait records (new runs join).", min=1),
    ] = 10.0,
    max_polls_per_second: Annotated[
        float, typer.Option(help="Polls of the providers per second, at most.", min=0.1)
    ] = 20.0,
    concurrency: Annotated[int, typer.Option(help="Polls in flight at once.", min=1)] = 4,
    once: Annotated[
        bool, typer.Option("--once", help="Do one step (read, poll what is due, resume), exit.")
    ] = False,
) -> None:
    """Watch the batches of released runs, resume each run when its batches have ended.

    Run it beside the workers, as a service or a deployment's long-running flow; needs
    PREFECT_API_URL, and the provider env vars if runs use them instead of a saved block.
    Stateless: restart it at will, or run two.
    """
    if ctx.invoked_subcommand is not None:
        return
    _require_server()
    import logging
    import signal
    import threading

    from prefect import get_client

    from batchwork_prefect.orchestration.poller import logger
    from batchwork_prefect.orchestration.poller_flow import serve

    # Prefect's logging setup owns the root logger: the poller's lines get their own handler
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with _prefect_api(), get_client(sync_client=True) as client:
        report = serve(
            client,
            scan_seconds=scan_seconds,
            max_polls_per_second=max_polls_per_second,
            concurrency=concurrency,
            once=once,
            stop=stop,
        )
    if report is not None:
        typer.echo(
            f"polled {report.polled}, resumed {report.resumed} run(s), "
            f"dropped {report.dropped}; {report.pending} batch(es) pending"
        )


@poller_app.command("status")
def poller_status_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
) -> None:
    """Show what the poller waits for: every pending batch, its next poll, the oldest wait."""
    _require_server()
    import json
    import time

    from prefect import get_client

    from batchwork_prefect.orchestration.poller_status import status_rows
    from batchwork_prefect.orchestration.wait_store import WaitStore

    with _prefect_api(), get_client(sync_client=True) as client:
        snapshot = WaitStore(client).snapshot()
    all_rows = status_rows(snapshot, time.time())
    if as_json:
        typer.echo(json.dumps(all_rows, indent=2))
        return
    rows = [row for row in all_rows if row["unreadable"] is None]
    unreadable = [row for row in all_rows if row["unreadable"] is not None]
    if not rows:
        typer.echo("no released runs are waiting")
    else:
        runs = len({row["run"] for row in rows})
        oldest = max(row["waiting_for"] for row in rows)
        soonest = min(row["next_poll_in"] for row in rows)
        typer.echo(
            f"{len(rows)} batch(es) of {runs} run(s) waiting; oldest wait {_duration(oldest)}; "
            f"next poll in {_duration(max(soonest, 0))}"
        )
        typer.echo(f"{'run':36}  part  {'batch':28}  {'status':11}  polls  next poll  waiting")
    noted: set[str] = set()
    for row in rows:
        typer.echo(
            f"{row['run']:36}  {row['part']:4}  {row['batch_id'][:28]:28}  {row['status']:11}  "
            f"{row['polls']:5}  {_duration(max(row['next_poll_in'], 0)):>9}  "
            f"{_duration(row['waiting_for'])}"
            + (f"  error: {row['error']}" if row["error"] else "")
        )
        if row["note"] and row["run"] not in noted:  # once per run, under its first part
            noted.add(row["run"])
            typer.echo(f"  note: {row['note']}")
    if unreadable:
        typer.echo(f"{len(unreadable)} wait record(s) cannot be read (the poller skips them):")
    for row in unreadable:
        typer.echo(f"  {row['variable']}: {row['unreadable']}")


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def main() -> None:
    """Entry point of the `batchwork-prefect` script."""
    app()


if __name__ == "__main__":
    main()
