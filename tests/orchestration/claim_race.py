"""One of two processes that submit the same part at the same moment (see test_claims).

`python -m tests.orchestration.claim_race <base_url> <storage dir> <run id> <barrier dir>`
submits the capital-cities part under the idempotency key "race" into a local folder whose
intent reads take half a second (slow shared storage), after both processes are ready,
and prints the batch id it ended up with.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from prefect.filesystems import LocalFileSystem

from batchwork_prefect.core import build_parts
from batchwork_prefect.orchestration.submission import PartSubmission
from batchwork_prefect.providers.anthropic import AnthropicProvider

API_KEY = "sk-ant-test-secret-0123456789"
REQUESTS = [
    {"custom_id": "fr", "prompt": "Capital of France? One word."},
    {"custom_id": "jp", "prompt": "Capital of Japan? One word."},
]
INTENT_READ_DELAY = 0.5


class SlowStorage(LocalFileSystem):
    """A local folder whose intent reads are as slow as a far-away bucket's."""

    _block_type_slug = "slow-local-file-system"  # never stands in for LocalFileSystem

    def read_path(self, path: str) -> Any:
        if path.endswith("intent.json"):
            time.sleep(INTENT_READ_DELAY)
        return super().read_path(path)


def main(base_url: str, storage_dir: str, run_id: str, barrier: str) -> None:
    provider = AnthropicProvider(api_key=API_KEY, base_url=base_url)
    built = build_parts(provider, "claude-opus-4-8", REQUESTS)
    ready = Path(barrier)
    (ready / run_id).touch()
    while len(list(ready.iterdir())) < 2:  # start together: both processes are ready
        time.sleep(0.01)
    submission = PartSubmission(
        provider,
        built,
        0,
        scope="race",
        storage=SlowStorage(basepath=storage_dir),
        flow_run_id=run_id,
    )
    print(submission.run().id)


if __name__ == "__main__":
    main(*sys.argv[1:5])
