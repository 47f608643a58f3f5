"""Artifact keys a person can read: made of names, ending in a short digest of the scope.

    batchwork-<kind>-<label>-<8 hex of sha256(scope)>[-part-<n>]

The label is `<deployment or flow name>-<idempotency key>` for a keyed batch (the deployment
of the outermost flow run, else its flow's name; just the key outside any flow run), and
`<flow run name>-<call site>` (e.g. `crimson-otter-call-1`) for a batch scoped to its run.
The label is lowercased, other characters as `-`, and cut to 80 characters; the digest
keeps two scopes apart whatever their labels, and a rerun of a scope keeps its key.
"""

from __future__ import annotations

import hashlib
import re
import threading
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext

from batchwork_prefect.orchestration.scopes import root_run_id

_KEY_UNSAFE = re.compile(r"[^a-z0-9]+")
LABEL_CHARS = 80

_LABELS: dict[tuple[str, str | None], str] = {}
_LABELS_LOCK = threading.Lock()


def artifact_key(
    kind: str, scope: str | None, part: int | None = None, *, label: str | None = None
) -> str | None:
    """The key of a batch's artifact (None: no scope); `label` default: `scope_label`."""
    if scope is None:
        return None
    shown = _KEY_UNSAFE.sub("-", (label or scope_label(scope)).lower()).strip("-")
    shown = shown[:LABEL_CHARS].rstrip("-")
    digest = hashlib.sha256(scope.encode()).hexdigest()[:8]
    suffix = f"-part-{part}" if part is not None else ""  # from 0, as in the storage layout
    return f"batchwork-{kind}-{shown + '-' if shown else ''}{digest}{suffix}"


def scope_label(scope: str) -> str:
    """The readable part of a scope's artifact keys, read from the server once per process;
    the scope itself where the server does not know the run."""
    run_id, slash, site = scope.partition("/")
    root = None if slash else root_run_id()
    with _LABELS_LOCK:
        known = _LABELS.get((scope, root))
    if known is not None:
        return known
    try:
        if slash:
            label = f"{_run_name(UUID(run_id))}-{site}"
        else:
            label = scope if root is None else f"{flow_or_deployment_name(UUID(root))}-{scope}"
    except Exception:  # an unknown run, an unreachable server: the scope is still a label
        label = scope.replace("/", "-")
    with _LABELS_LOCK:
        _LABELS[(scope, root)] = label
    return label


def _run_name(run_id: UUID) -> str:
    context = FlowRunContext.get()
    if context is not None and context.flow_run is not None and context.flow_run.id == run_id:
        return context.flow_run.name  # the run this code runs in: no call to the server
    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id).name


def flow_or_deployment_name(run_id: UUID) -> str:
    """The deployment of a flow run, else its flow's name."""
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
        if run.deployment_id is not None:
            return client.read_deployment(run.deployment_id).name
        return client.read_flow(run.flow_id).name
