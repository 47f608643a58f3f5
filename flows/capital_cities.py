"""The capital-cities example: two questions, one batch, answers by custom_id."""

from __future__ import annotations

from prefect import flow

from batchwork_prefect import AnthropicCredentials, BatchRequest, run_batch

REQUESTS = [
    BatchRequest(custom_id="fr", prompt="Capital of France? One word."),
    BatchRequest(custom_id="jp", prompt="Capital of Japan? One word."),
]


@flow(name="capital-cities", persist_result=False)
def capital_cities(
    model: str = "anthropic/claude-opus-4-8",
    credentials: AnthropicCredentials | str | None = None,
    idempotency_key: str | None = None,
    poll_interval: float = 30.0,
) -> dict[str, str | None]:
    """Ask for two capitals in one batch and return `{custom_id: answer}`."""
    results = run_batch(
        model=model,
        requests=REQUESTS,
        defaults={"max_tokens": 64},
        credentials=credentials,
        idempotency_key=idempotency_key,
        poll_interval=poll_interval,
    )
    return results.texts()


if __name__ == "__main__":
    print(capital_cities())
