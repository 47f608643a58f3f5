"""The capital-cities example: two questions, one batch, answers by custom_id.

`python flows/capital_cities.py` uses the saved credentials block `anthropic` (the one the
deployments use; `batchwork-prefect save-credentials`) when the Prefect API has it, and the
`ANTHROPIC_API_KEY` environment variable otherwise.
"""

from __future__ import annotations

from typing import Annotated

from prefect import flow, get_run_logger
from pydantic import Field

from batchwork_prefect import AnthropicCredentials, BatchRequest, BatchResults, run_batch
from batchwork_prefect.core.polling import DEFAULT_POLL_INTERVAL
from batchwork_prefect.orchestration.credentials import AnyCredentials
from batchwork_prefect.orchestration.temporary_server import temporary_server_settings

REQUESTS = [
    BatchRequest(custom_id="fr", prompt="Capital of France? One word."),
    BatchRequest(custom_id="jp", prompt="Capital of Japan? One word."),
]

SAVED_CREDENTIALS = "anthropic"
"""The credentials block name the deployments in prefect.yaml pass."""


@flow(name="capital-cities", persist_result=False)
def capital_cities(
    model: str = "anthropic/claude-opus-4-8",
    credentials: AnyCredentials | str | None = None,
    idempotency_key: str | None = None,
    poll_interval: Annotated[float, Field(gt=0, le=3600)] = DEFAULT_POLL_INTERVAL,
) -> dict[str, str | None]:
    """Ask for the capitals of France and Japan in one batch and return the answers.

    Args:
        model: The model as 'provider/model', e.g. anthropic/claude-opus-4-8.
        credentials: The provider's credentials block (e.g. AnthropicCredentials) or its
            saved name (e.g. anthropic); empty: the provider's env var (ANTHROPIC_API_KEY)
            where the flow runs.
        idempotency_key: Makes the batch durable across flow runs (e.g. a date); without
            it a retry of this flow run still resumes its batch.
        poll_interval: Seconds between the first polls of the batch; later polls spread out.

    Returns:
        The answers by custom_id: {"fr": "Paris", "jp": "Tokyo"} (None for a request
        that did not succeed).

    Examples:
        Run it with the saved credentials block `anthropic`:
        ```python
        from flows.capital_cities import capital_cities

        capital_cities(credentials="anthropic")  # {"fr": "Paris", "jp": "Tokyo"}
        ```
    """
    results: BatchResults = run_batch(
        model=model,
        requests=REQUESTS,
        defaults={"max_tokens": 64},
        credentials=credentials,
        idempotency_key=idempotency_key,
        poll_interval=poll_interval,
    )
    answers = results.texts()
    for custom_id, answer in answers.items():
        get_run_logger().info("%s: %s", custom_id, answer)
    return answers


def saved_credentials(name: str = SAVED_CREDENTIALS) -> str | None:
    """`name` when the Prefect API has a credentials block of that name, else None."""
    try:
        AnthropicCredentials.load(name)
    except ValueError:  # no such block (or its type is not registered)
        return None
    return name


if __name__ == "__main__":
    # Without PREFECT_API_URL this starts Prefect's temporary server: see the function.
    with temporary_server_settings():
        print(capital_cities(credentials=saved_credentials()))
