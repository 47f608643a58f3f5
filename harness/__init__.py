"""The harness the tests and the bench share: a real `prefect server start`, process
workers and pollers, flow runs and their states, processes found in /proc and SIGKILLed.

It lives outside the package (nothing installed imports it). How Prefect behaves under
it, and so how crash tests are written: docs/crash-findings.md. Its names load on first
use, so `import harness.processes` or the bench's parent process imports no Prefect.
"""

from __future__ import annotations

import importlib
from typing import Any

_MODULES = {
    "harness.automations": ["ZOMBIE_AFTER_SECONDS"],
    "harness.base": ["POOL", "QUEUES"],
    "harness.lifecycle": ["Cluster", "emulators", "running_cluster", "start_cluster"],
    "harness.pollers": ["PollerProcess"],
    "harness.ports": ["free_port"],
    "harness.processes": [
        "WORKER_MARK",
        "ProcInfo",
        "all_processes",
        "cpu_seconds",
        "descendants",
        "find_processes",
        "flow_run_processes",
        "kill_tree",
        "marked_processes",
        "proc_environ",
        "proc_info",
        "process_tree",
        "spawn",
        "stop_process_group",
        "surviving",
    ],
    "harness.server": [
        "BIN",
        "PREFECT",
        "PROACTIVE_GRANULARITY_SECONDS",
        "REPO_ROOT",
        "PrefectServer",
        "ServerExited",
        "api_healthy",
        "clean_env",
        "prefect_env",
        "server_env",
        "start_server",
    ],
    "harness.waiting": ["Timeout", "tail", "wait_until"],
    "harness.workers": ["MIN_HEARTBEAT_FREQUENCY", "Worker", "kill_flow_run", "kill_worker_tree"],
}
_WHERE = {name: module for module, names in _MODULES.items() for name in names}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
