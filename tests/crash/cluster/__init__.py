"""The crash tests' harness: a real `prefect server start`, process workers, SIGKILL.

How Prefect behaves under it, and so how crash tests are written: docs/crash-findings.md.
"""

from __future__ import annotations

from tests.crash.cluster.automations import ZOMBIE_AFTER_SECONDS
from tests.crash.cluster.base import POOL, QUEUES
from tests.crash.cluster.lifecycle import Cluster, emulators, running_cluster, start_cluster
from tests.crash.cluster.server import (
    PREFECT,
    PROACTIVE_GRANULARITY_SECONDS,
    REPO_ROOT,
    PrefectServer,
    ServerExited,
    clean_env,
    server_env,
    start_server,
)
from tests.crash.cluster.workers import (
    MIN_HEARTBEAT_FREQUENCY,
    Worker,
    kill_flow_run,
    kill_worker_tree,
)
from tests.support.ports import free_port
from tests.support.processes import (
    WORKER_MARK,
    ProcInfo,
    all_processes,
    descendants,
    flow_run_processes,
    marked_processes,
    proc_environ,
    proc_info,
    stop_process_group,
    surviving,
)
from tests.support.waiting import Timeout, tail, wait_until

__all__ = [
    "MIN_HEARTBEAT_FREQUENCY",
    "POOL",
    "PREFECT",
    "PROACTIVE_GRANULARITY_SECONDS",
    "QUEUES",
    "REPO_ROOT",
    "WORKER_MARK",
    "ZOMBIE_AFTER_SECONDS",
    "Cluster",
    "PrefectServer",
    "ProcInfo",
    "ServerExited",
    "Timeout",
    "Worker",
    "all_processes",
    "clean_env",
    "descendants",
    "emulators",
    "flow_run_processes",
    "free_port",
    "kill_flow_run",
    "kill_worker_tree",
    "marked_processes",
    "proc_environ",
    "proc_info",
    "running_cluster",
    "server_env",
    "start_cluster",
    "start_server",
    "stop_process_group",
    "surviving",
    "tail",
    "wait_until",
]
