"""Automations on a server: the project's own (installed by its CLI) and ad hoc ones."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from prefect import get_client

from harness.base import ClusterBase

ZOMBIE_AFTER_SECONDS = 45
"""`install-automations --zombie-after` for the crash tests: 1.5 heartbeat gaps."""


class Automations(ClusterBase):
    """The automation helpers of `Cluster`."""

    def install_automations(self) -> list[str]:
        """`batchwork-prefect install-automations --zombie-after 45`, run as a user would;
        returns the names it installed (checked against its output)."""
        from batchwork_prefect.orchestration.automations import automations

        command = [sys.executable, "-m", "batchwork_prefect.cli", "install-automations"]
        command += ["--zombie-after", str(ZOMBIE_AFTER_SECONDS)]
        output = subprocess.run(
            command, env=self.env(), capture_output=True, text=True, check=True, timeout=120
        ).stdout
        names = [automation.name for automation in automations()]
        assert all(name in output for name in names), output
        return names

    def uninstall_automations(self, names: Iterable[str]) -> None:
        """Delete the automations with these names."""
        with self.settings(), get_client(sync_client=True) as client:
            for name in names:
                for automation in client.read_automations_by_name(name):
                    client.delete_automation(automation.id)

    def create_automation(self, automation: Any) -> UUID:
        """Create an `AutomationCore` on the server (remembered for `delete_automations`)."""
        with self.settings(), get_client(sync_client=True) as client:
            automation_id = client.create_automation(automation)
        self.automations.append(automation_id)
        return automation_id

    def delete_automations(self, keep: int = 0) -> None:
        """Delete the automations created through `create_automation`, but the first `keep`."""
        with self.settings(), get_client(sync_client=True) as client:
            while len(self.automations) > keep:
                client.delete_automation(self.automations.pop())
