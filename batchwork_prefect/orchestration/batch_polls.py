"""One poll of a waiting batch, for the poller, and the provider clients it polls with.

The clients are kept per thread, provider and credentials. A saved block's key can be
rotated while the poller runs: a client made earlier whose key is refused (401, 403, or
Gemini's 400 API_KEY_INVALID) is dropped, the block loaded again, and the batch asked once
more; only the reloaded key's refusal is definite (and resumes the run to report it).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable

from batchwork_prefect.core.polling import is_transient_poll_error
from batchwork_prefect.errors import BatchworkError, ConfigurationError, ProviderError
from batchwork_prefect.models import BatchSnapshot
from batchwork_prefect.orchestration.credentials import connect
from batchwork_prefect.orchestration.waits import WaitRecord, after_failed_poll, after_poll
from batchwork_prefect.providers import BatchProvider

logger = logging.getLogger("batchwork.poller")

AUTH_STATUSES = (401, 403)
KEY_REFUSED_TYPES = ("API_KEY_INVALID",)
"""Error types that refuse the key under another status (Google answers a bad key with 400)."""

_Key = tuple[str, str | None]


class Clients:
    """Connected providers, one per thread, provider and credentials."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._all: list[BatchProvider] = []
        self._lock = threading.Lock()

    def retrieve(self, record: WaitRecord) -> BatchSnapshot:
        """The batch now; a refused key of a client made earlier is reloaded and tried once."""
        provider, cached = self._get(record)
        try:
            return provider.retrieve(record.batch_id)
        except ProviderError as exc:
            refused = exc.status_code in AUTH_STATUSES or exc.error_type in KEY_REFUSED_TYPES
            if not cached or record.credentials is None or not refused:
                raise
        logger.info(
            "the key of block %r was refused; loading the block again and polling %s again",
            record.credentials,
            record.batch_id,
        )
        self._drop(record)
        provider, _ = self._get(record)
        return provider.retrieve(record.batch_id)

    def cancel(self, record: WaitRecord) -> None:
        self._get(record)[0].cancel(record.batch_id)

    def close(self) -> None:
        with self._lock:
            for provider in self._all:
                provider.close()
            self._all.clear()

    def _get(self, record: WaitRecord) -> tuple[BatchProvider, bool]:
        """This thread's client, and whether it was made before this call."""
        providers = self._mine()
        key = (record.provider, record.credentials)
        provider = providers.get(key)
        if provider is not None:
            return provider, True
        provider = providers[key] = connect(record.provider, record.credentials)
        with self._lock:
            self._all.append(provider)
        return provider, False

    def _drop(self, record: WaitRecord) -> None:
        provider = self._mine().pop((record.provider, record.credentials), None)
        if provider is None:
            return
        with self._lock:
            if provider in self._all:
                self._all.remove(provider)
        provider.close()

    def _mine(self) -> dict[_Key, BatchProvider]:
        providers: dict[_Key, BatchProvider] | None = getattr(self._local, "providers", None)
        if providers is None:
            providers = self._local.providers = {}
        return providers


def poll(record: WaitRecord, clients: Clients, clock: Callable[[], float]) -> WaitRecord:
    """The record after one poll of its batch (its status, or the failure, scheduled)."""
    try:
        snapshot = clients.retrieve(record)
    except ConfigurationError as exc:
        # the poller's own set-up (a block it cannot load, env vars it lacks): the run
        # would poll fine and suspend again, so it is not resumed; retried with backoff
        logger.error("cannot poll %s from this poller: %s", record.batch_id, exc)
        return after_failed_poll(
            record, str(exc)[:500], clock(), transient=True, random_fraction=0.0
        )
    except BatchworkError as exc:
        transient = is_transient_poll_error(exc)
        logger.warning(
            "polling %s failed%s: %s",
            record.batch_id,
            "; retrying with backoff" if transient else "; resuming its run to report it",
            exc,
        )
        retry_after = getattr(exc, "retry_after", None)
        return after_failed_poll(
            record,
            str(exc)[:500],
            clock(),
            transient=transient,
            retry_after=retry_after if isinstance(retry_after, float) else None,
            random_fraction=random.random(),
        )
    updated = after_poll(
        record,
        snapshot.status,
        clock(),
        retry_after=snapshot.retry_after,
        random_fraction=random.random(),
    )
    counts = snapshot.request_counts
    if snapshot.status is not record.status or updated.ended:
        logger.info(
            "batch %s of run %s is %s (%d/%d finished)",
            record.batch_id,
            record.run,
            snapshot.status.value,
            counts.finished,
            counts.total,
        )
    return updated
