"""Everything Prefect: credentials blocks, tasks, the run_batch flow, persistence, automations.

Rooms: `credentials` (a block per provider, resolved through one registry), `tasks` (one per
phase), `flows` (`run_batch`), `async_flows` (`arun_batch`, for async flows), `scopes` (which
run and call site a batch belongs to: `BatchScope`; cache keys), `persistence` (layout,
pointers), `sealing` (sealed records and their serializer), `submission` (the whole intent
lifecycle of a part's create), `stops` (stop signals for waits), `reporting` (logs,
artifacts, events), `requests_file`, and `automations` (crash recovery), `job_block` (a
batch as a Prefect JobBlock).
"""

from batchwork_prefect.orchestration.async_flows import arun_batch
from batchwork_prefect.orchestration.credentials import (
    CREDENTIALS_BLOCKS,
    AnthropicCredentials,
    AnyCredentials,
    GeminiCredentials,
    MistralCredentials,
    OpenAICredentials,
    TogetherCredentials,
    XAICredentials,
    credentials_block,
)
from batchwork_prefect.orchestration.flows import run_batch
from batchwork_prefect.orchestration.intents import resolve_submission
from batchwork_prefect.orchestration.job_block import MessageBatchJob, MessageBatchJobRun
from batchwork_prefect.orchestration.loading import load_batch_results
from batchwork_prefect.orchestration.scopes import BatchScope
from batchwork_prefect.orchestration.sealing import BatchworkSerializer
from batchwork_prefect.orchestration.tasks import (
    build_batch,
    cancel_part,
    load_requests,
    read_part_results,
    submit_part,
    wait_for_part,
)

__all__ = [
    "CREDENTIALS_BLOCKS",
    "AnthropicCredentials",
    "AnyCredentials",
    "BatchScope",
    "BatchworkSerializer",
    "GeminiCredentials",
    "MessageBatchJob",
    "MessageBatchJobRun",
    "MistralCredentials",
    "OpenAICredentials",
    "TogetherCredentials",
    "XAICredentials",
    "arun_batch",
    "build_batch",
    "cancel_part",
    "credentials_block",
    "load_batch_results",
    "load_requests",
    "read_part_results",
    "resolve_submission",
    "run_batch",
    "submit_part",
    "wait_for_part",
]
