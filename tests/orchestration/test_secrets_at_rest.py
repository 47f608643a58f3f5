"""Nothing Prefect keeps (results, state, logs, artifacts, events) contains the API key."""

from __future__ import annotations

from pathlib import Path

from prefect.settings import PREFECT_API_DATABASE_CONNECTION_URL

from batchwork_prefect import AnthropicCredentials, run_batch
from batchwork_prefect.emulator import Emulator
from tests.support import API_KEY


def test_api_key_is_nowhere_under_the_prefect_home(emulator: Emulator, prefect_home: Path) -> None:
    credentials = AnthropicCredentials(api_key=API_KEY, base_url=emulator.base_url)
    credentials.save("at-rest-creds", overwrite=True)
    run_batch(
        model="anthropic/claude-x",
        requests=[{"prompt": "hi"}],
        credentials=credentials,
        idempotency_key="at-rest",
        poll_interval=0.05,
    )
    run_batch(
        model="anthropic/claude-x",
        requests=[{"prompt": "hi again"}],
        credentials="at-rest-creds",
        poll_interval=0.05,
    )
    places = [path for path in prefect_home.rglob("*") if path.is_file()]
    database = PREFECT_API_DATABASE_CONNECTION_URL.value() or ""
    if database.startswith("sqlite"):
        places.append(Path(database.split("///", 1)[1]))
    assert any(path.name == "results.json" for path in places)
    needle = API_KEY.encode()
    leaked = [str(path) for path in places if path.exists() and needle in path.read_bytes()]
    assert leaked == []
