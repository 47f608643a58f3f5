"""Handlers of OpenAI's file and batch routes (auth and faults are handled by ``_app``)."""

from __future__ import annotations

import threading

from .._clock import EmulatedClock
from .._errors import ApiError, openai_error
from .._ids import IdFactory
from .._responses import Query, Request, Response, json_response
from .._settings import Settings
from .._state import begin_cancel, end_time, plan_batch
from .._store import Store
from .._submissions import Submissions
from ._batch import TERMINAL, OpenAIBatch, OpenAIView, Outputs, observe, render
from ._files import FileStore, StoredFile
from ._input import check_input
from ._outcomes import plan_openai
from ._params import check_create, check_upload
from ._results import ReplyHooks, build_files

BINARY_TYPE = "application/octet-stream"
DEFAULT_LIST_LIMIT = 20
MAX_LIST_LIMIT = 100


class OpenAIRoutes:
    """Business logic of the emulated OpenAI Files and Batch APIs, one method per route."""

    def __init__(self, settings: Settings, clock: EmulatedClock) -> None:
        self.settings = settings
        self.clock = clock
        self.files = FileStore(settings.seed, settings.id_salt)
        self.batches: Store[OpenAIBatch] = Store()
        self.submissions = Submissions()
        self.origin = ""  # OpenAI's objects name no URL of it
        self._ids = IdFactory(settings.seed, "openai-batches", settings.id_salt)
        self._lock = threading.Lock()
        self._created = 0

    @property
    def batches_created(self) -> int:
        """Batches stored by creates so far."""
        with self._lock:
            return self._created

    def handle(
        self, name: str, resource_id: str | None, request: Request, query: Query
    ) -> Response:
        """Answer route ``name`` (one of the ``openai.*`` names)."""
        if request.oversize:
            raise openai_error(413, "Request exceeds the maximum allowed number of bytes.")
        if name == "openai.files.create":
            return self.upload(request)
        if name == "openai.batches.create":
            return self.create(request)
        if name == "openai.batches.list":
            return self.list_batches(query)
        assert resource_id is not None
        handler = {
            "openai.files.retrieve": self.retrieve_file,
            "openai.files.content": self.file_content,
            "openai.files.delete": self.delete_file,
            "openai.batches.retrieve": self.retrieve,
            "openai.batches.cancel": self.cancel,
        }[name]
        return handler(resource_id)

    # files -----------------------------------------------------------------------------

    def upload(self, request: Request) -> Response:
        """``POST /v1/files`` (multipart form: ``file``, ``purpose``)."""
        upload = check_upload(request.headers.get("content-type", ""), request.body)
        stored = self.files.add(upload.content, upload.filename, upload.purpose, self._unix())
        return json_response(200, stored.render())

    def retrieve_file(self, file_id: str) -> Response:
        """``GET /v1/files/{id}``."""
        return json_response(200, self._file(file_id).render())

    def file_content(self, file_id: str) -> Response:
        """``GET /v1/files/{id}/content``: the file's bytes."""
        return Response(200, self._file(file_id).content, BINARY_TYPE)

    def delete_file(self, file_id: str) -> Response:
        """``DELETE /v1/files/{id}``."""
        if not self.files.delete(file_id):
            raise _no_file(file_id)
        return json_response(200, {"id": file_id, "object": "file", "deleted": True})

    # batches ---------------------------------------------------------------------------

    def create(self, request: Request) -> Response:
        """``POST /v1/batches``: validates the input file now; answers ``validating``."""
        params = check_create(request.body)
        source = self.files.get(params.input_file_id)
        if source is None:
            raise _no_file(params.input_file_id, "input_file_id")
        if source.purpose != "batch":
            raise openai_error(
                400,
                f"The input file {source.id} has purpose '{source.purpose}'; a batch needs a"
                " file uploaded with purpose 'batch'.",
                code="invalid_value",
                param="input_file_id",
            )
        checked = check_input(source.content, params.endpoint)
        now = self.clock.now()
        core = plan_batch(
            self._ids.make_hex("batch_"),
            now,
            self.clock.to_datetime(now),
            self.settings.processing_seconds,
            checked.entries,
            plan_openai,
            # a file that failed validation has no entries, so its batch counts nothing
            self.submissions.record([custom_id for custom_id, _ in checked.entries]),
        )
        batch = OpenAIBatch(
            core=core,
            endpoint=params.endpoint,
            input_file_id=params.input_file_id,
            completion_window=params.completion_window,
            metadata=params.metadata,
            model=checked.model,
            errors=checked.errors,
            finalizing_seconds=self.settings.finalizing_seconds,
        )
        self.batches.add(batch)
        with self._lock:
            self._created += 1
        seen = observe(batch, now, gradual=False, moment="fresh")
        return json_response(200, self._render(batch, seen))

    def retrieve(self, batch_id: str) -> Response:
        """``GET /v1/batches/{id}``."""
        batch = self._batch(batch_id)
        return json_response(200, self._render(batch, self._observe(batch)))

    def list_batches(self, query: Query) -> Response:
        """``GET /v1/batches?limit=&after=``: newest first."""
        limit = _limit(query)
        after = query.get("after", [None])[-1]
        page = self.batches.page(limit, before_id=None, after_id=after)
        items = [self._render(batch, self._observe(batch)) for batch in page.batches]
        return json_response(
            200,
            {
                "object": "list",
                "data": items,
                "first_id": items[0]["id"] if items else None,
                "last_id": items[-1]["id"] if items else None,
                "has_more": page.has_more,
            },
        )

    def cancel(self, batch_id: str) -> Response:
        """``POST /v1/batches/{id}/cancel``: ``cancelling`` now, ``cancelled`` later."""
        batch = self._batch(batch_id)
        now = self.clock.now()
        status = self._observe(batch, now).status
        if status in TERMINAL or status == "finalizing":
            raise openai_error(409, f"Cannot cancel a batch with status '{status}'.")
        begin_cancel(batch.core, now, self.settings.cancel_seconds)
        seen = observe(batch, now, gradual=self.settings.gradual_counts, moment="cancel")
        return json_response(200, self._render(batch, seen))

    # helpers ---------------------------------------------------------------------------

    def _observe(self, batch: OpenAIBatch, now: float | None = None) -> OpenAIView:
        at = self.clock.now() if now is None else now
        return observe(batch, at, gradual=self.settings.gradual_counts)

    def _render(self, batch: OpenAIBatch, seen: OpenAIView) -> dict[str, object]:
        if seen.status in TERMINAL and seen.status != "failed":
            self._ensure_outputs(batch)
        return render(batch, seen, self.clock)

    def _ensure_outputs(self, batch: OpenAIBatch) -> None:
        """Build and store the output and error files once, when the batch is done."""
        core = batch.core
        with core.lock:
            if batch.outputs is not None:
                return
            done = end_time(core)
            if core.cancel_at is None:
                done += batch.finalizing_seconds
            created = self._unix(done)
            settings = self.settings
            hooks = ReplyHooks(settings.reply_text, settings.reply_content, settings.reply_usage)
            built = build_files(core, created, settings.seed, hooks)
            ids = [
                self.files.add(content, f"{core.id}_{kind}.jsonl", "batch_output", created).id
                if content
                else None
                for kind, content in (("output", built.output), ("error", built.errors))
            ]
            batch.outputs = Outputs(ids[0], ids[1], built.usage)

    def _unix(self, emulated: float | None = None) -> int:
        at = self.clock.now() if emulated is None else emulated
        return int(self.clock.to_datetime(at).timestamp())

    def _file(self, file_id: str) -> StoredFile:
        stored = self.files.get(file_id)
        if stored is None:
            raise _no_file(file_id)
        return stored

    def _batch(self, batch_id: str) -> OpenAIBatch:
        batch = self.batches.get(batch_id)
        if batch is None:
            raise openai_error(404, f"No batch found with id '{batch_id}'.")
        return batch


def _no_file(file_id: str, param: str = "id") -> ApiError:
    return openai_error(404, f"No such File object: {file_id}", param=param)


def _limit(query: Query) -> int:
    values = query.get("limit")
    if not values:
        return DEFAULT_LIST_LIMIT
    try:
        limit = int(values[-1])
    except ValueError:
        raise openai_error(
            400,
            "Invalid type for 'limit': expected an integer, but got a string instead.",
            code="invalid_type",
            param="limit",
        ) from None
    if limit < 1:
        raise openai_error(
            400,
            "Invalid 'limit': integer below minimum value. Expected a value >= 1, but got"
            f" {limit} instead.",
            code="integer_below_min_value",
            param="limit",
        )
    if limit > MAX_LIST_LIMIT:
        raise openai_error(
            400,
            f"Invalid 'limit': integer above maximum value. Expected a value <= {MAX_LIST_LIMIT},"
            f" but got {limit} instead.",
            code="integer_above_max_value",
            param="limit",
        )
    return limit
