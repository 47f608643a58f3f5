"""Handlers of Together's file and batch routes (auth and faults are handled by ``_app``)."""

from __future__ import annotations

import threading
from urllib.parse import parse_qs

import orjson

from .._clock import EmulatedClock
from .._errors import ApiError
from .._ids import IdFactory
from .._markers import LineError, Plan, marker_plan
from .._responses import Query, Request, Response, json_response
from .._settings import Settings
from .._state import begin_cancel, end_time, plan_batch
from .._store import Store
from .._submissions import Submissions
from ..openai._multipart import MultipartError, Part, boundary_of, parse_form
from ._batch import TERMINAL, Outputs, TogetherBatch, TogetherView, observe, render
from ._files import FILE_TYPES, PURPOSES, FileStore, StoredFile, uuid_of
from ._input import check_input
from ._results import ReplyHooks, build_files
from ._wire import together_error

ENDPOINTS = ("/v1/chat/completions", "/v1/audio/transcriptions", "/v1/audio/translations")
UPLOAD_PATH = "/together/uploads/"
"""Where an announced upload's bytes are PUT (the presigned URL's stand-in)."""


class TogetherRoutes:
    """Business logic of the emulated Together Files and Batches APIs."""

    def __init__(self, settings: Settings, clock: EmulatedClock) -> None:
        self.settings = settings
        self.clock = clock
        self.files = FileStore(settings.seed, settings.id_salt)
        self.batches: Store[TogetherBatch] = Store()
        self.submissions = Submissions()
        self.origin = ""
        self._ids = IdFactory(settings.seed, "together-batches", settings.id_salt)
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
        """Answer route ``name`` (one of the ``together.*`` names)."""
        if request.oversize:
            raise together_error(413, "Request exceeds the maximum allowed number of bytes.")
        if name == "together.files.upload":
            return self.upload(request)
        if name == "together.files.create":
            return self.announce(request)
        if name == "together.files.list":
            return json_response(
                200, {"object": "list", "data": [f.render() for f in self.files.all()]}
            )
        if name == "together.batches.create":
            return self.create(request)
        if name == "together.batches.list":
            return self.list_batches()
        assert resource_id is not None
        if name == "together.files.put":
            return self.put(resource_id, request)
        handler = {
            "together.files.preprocess": self.preprocess,
            "together.files.retrieve": lambda file_id: json_response(
                200, self._file(file_id).render()
            ),
            "together.files.content": self.file_content,
            "together.files.delete": self.delete_file,
            "together.batches.retrieve": self.retrieve,
            "together.batches.cancel": self.cancel,
        }[name]
        return handler(resource_id)

    # files -----------------------------------------------------------------------------

    def upload(self, request: Request) -> Response:
        """``POST /v1/files/upload``: a multipart form of ``purpose``, ``file_name``,
        ``file_type`` and ``file``; answers the ``FileResponse``."""
        form = _form(request)
        if "file" not in form:
            raise together_error(400, "file is required", param="file")
        values = {key: part.content.decode("utf-8", "replace") for key, part in form.items()}
        purpose, name, file_type = _file_fields(values)
        stored = self.files.add(form["file"].content, name, purpose, file_type, self._unix())
        return json_response(200, stored.render())

    def announce(self, request: Request) -> Response:
        """``POST /v1/files`` (the together SDK's upload): a form of ``purpose``,
        ``file_name``, ``file_type`` (and ``checksum``); answers 302 with the upload URL in
        ``Location`` and the file id in ``X-Together-File-Id``."""
        purpose, name, file_type = _file_fields(_fields(request))
        stored = self.files.add(None, name, purpose, file_type, self._unix())
        location = f"{self.origin}{UPLOAD_PATH}{stored.id}"
        headers = (("location", location), ("x-together-file-id", stored.id))
        return Response(302, b"", "text/plain; charset=utf-8", headers)

    def put(self, file_id: str, request: Request) -> Response:
        """``PUT`` of an announced file's bytes to its upload URL."""
        if self.files.get(file_id) is None:
            raise together_error(404, f"No upload for file {file_id}")
        self.files.fill(file_id, request.body)
        return Response(200, b"", "text/plain; charset=utf-8")

    def preprocess(self, file_id: str) -> Response:
        """``POST /v1/files/{id}/preprocess``: the uploaded file's ``FileResponse``."""
        stored = self._file(file_id)
        if stored.content is None:
            raise together_error(400, f"File {file_id} has not been uploaded")
        return json_response(200, stored.render())

    def file_content(self, file_id: str) -> Response:
        """``GET /v1/files/{id}/content``: the file's bytes."""
        return Response(200, self._file(file_id).content or b"", "application/octet-stream")

    def delete_file(self, file_id: str) -> Response:
        """``DELETE /v1/files/{id}``."""
        if not self.files.delete(file_id):
            raise _no_file(file_id)
        return json_response(200, {"id": file_id, "object": "file", "deleted": True})

    # batches ---------------------------------------------------------------------------

    def create(self, request: Request) -> Response:
        """``POST /v1/batches``: answers 201 ``{"job": ..., "warning": null}``, ``VALIDATING``."""
        input_file_id, endpoint = _create_params(request.body)
        source = self.files.get(input_file_id)
        if source is None or source.content is None:
            raise _no_file(input_file_id)
        if source.purpose != "batch-api":
            raise together_error(
                400,
                f"File {input_file_id} has purpose '{source.purpose}'; a batch needs a file"
                " uploaded with purpose 'batch-api'.",
                param="input_file_id",
            )
        checked = check_input(source.content)
        now = self.clock.now()
        core = plan_batch(
            uuid_of(self._ids.make_hex("")),
            now,
            self.clock.to_datetime(now),
            self.settings.processing_seconds,
            checked.entries,
            _plan,
            self.submissions.record([custom_id for custom_id, _ in checked.entries]),
        )
        batch = TogetherBatch(
            core=core,
            endpoint=endpoint,
            input_file_id=input_file_id,
            file_size_bytes=len(source.content),
            model=checked.model,
            error=checked.error,
            user_id="user_" + self._ids.make_hex("")[:24],
        )
        self.batches.add(batch)
        with self._lock:
            self._created += 1
        seen = observe(batch, now, gradual=False, fresh=True)
        return json_response(201, {"job": self._render(batch, seen), "warning": None})

    def retrieve(self, batch_id: str) -> Response:
        """``GET /v1/batches/{id}``: the ``BatchJob``."""
        batch = self._batch(batch_id)
        return json_response(200, self._render(batch, self._observe(batch)))

    def list_batches(self) -> Response:
        """``GET /v1/batches``: every batch, newest first, as one JSON array."""
        everything = self.batches.page(10**9, before_id=None, after_id=None).batches
        return json_response(200, [self._render(b, self._observe(b)) for b in everything])

    def cancel(self, batch_id: str) -> Response:
        """``POST /v1/batches/{id}/cancel``: a running batch is ``CANCELLED`` at once."""
        batch = self._batch(batch_id)
        now = self.clock.now()
        status = self._observe(batch, now).status
        if status in TERMINAL:
            raise together_error(400, f"Batch {batch_id} is {status} and cannot be cancelled.")
        begin_cancel(batch.core, now, 0.0)
        return json_response(200, self._render(batch, self._observe(batch, now)))

    # helpers ---------------------------------------------------------------------------

    def _observe(self, batch: TogetherBatch, now: float | None = None) -> TogetherView:
        at = self.clock.now() if now is None else now
        return observe(batch, at, gradual=self.settings.gradual_counts)

    def _render(self, batch: TogetherBatch, seen: TogetherView) -> dict[str, object]:
        if seen.status in TERMINAL and seen.status != "FAILED":
            self._ensure_outputs(batch)
        return render(batch, seen, self.clock)

    def _ensure_outputs(self, batch: TogetherBatch) -> None:
        """Build and store the output and error files once, when the batch is done."""
        core = batch.core
        with core.lock:
            if batch.outputs is not None:
                return
            created = self._unix(end_time(core))
            settings = self.settings
            hooks = ReplyHooks(settings.reply_text, settings.reply_content, settings.reply_usage)
            built = build_files(core, created, settings.seed, hooks)
            ids = [
                self.files.add(
                    content, f"{core.id}_{kind}.jsonl", "batch-generated", "jsonl", created
                ).id
                if content
                else None
                for kind, content in (("output", built.output), ("error", built.errors))
            ]
            batch.outputs = Outputs(ids[0], ids[1])

    def _unix(self, emulated: float | None = None) -> int:
        at = self.clock.now() if emulated is None else emulated
        return int(self.clock.to_datetime(at).timestamp())

    def _file(self, file_id: str) -> StoredFile:
        stored = self.files.get(file_id)
        if stored is None:
            raise _no_file(file_id)
        return stored

    def _batch(self, batch_id: str) -> TogetherBatch:
        batch = self.batches.get(batch_id)
        if batch is None:
            raise together_error(404, f"Batch not found: {batch_id}")
        return batch


def _plan(body: dict[str, object], submission: int) -> Plan:
    """How one request ends: an empty message list is a 400 of the endpoint, else the
    ``[[emulate:...]]`` markers decide."""
    if not body.get("messages"):
        return LineError(
            "invalid_request_error",
            "messages must not be empty",
            validation=True,
            status=400,
            code="invalid_request_error",
        )
    return marker_plan(body, submission)


def _form(request: Request) -> dict[str, Part]:
    boundary = boundary_of(request.headers.get("content-type", ""))
    if boundary is None:
        raise together_error(400, "Expected a multipart/form-data body")
    try:
        return parse_form(request.body, boundary)
    except MultipartError as exc:
        raise together_error(400, f"Malformed multipart body: {exc}") from None


def _fields(request: Request) -> dict[str, str]:
    """The text fields of a form, multipart (the together SDK 3.x) or url-encoded (1.x)."""
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        parsed = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {key: values[-1] for key, values in parsed.items()}
    return {key: part.content.decode("utf-8", "replace") for key, part in _form(request).items()}


def _file_fields(values: dict[str, str]) -> tuple[str, str, str]:
    purpose, name = values.get("purpose"), values.get("file_name")
    file_type = values.get("file_type", "jsonl")
    if purpose not in PURPOSES:
        raise together_error(
            400, f"purpose must be one of {', '.join(PURPOSES)}, not {purpose!r}", param="purpose"
        )
    if not name:
        raise together_error(400, "file_name is required", param="file_name")
    if file_type not in FILE_TYPES:
        raise together_error(
            400, f"file_type must be one of {', '.join(FILE_TYPES)}", param="file_type"
        )
    return purpose, name, file_type


def _create_params(body: bytes) -> tuple[str, str]:
    try:
        params = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise together_error(400, "The request body is not valid JSON") from None
    if not isinstance(params, dict):
        raise together_error(400, "The request body must be a JSON object")
    endpoint, input_file_id = params.get("endpoint"), params.get("input_file_id")
    if not isinstance(input_file_id, str) or not input_file_id:
        raise together_error(400, "input_file_id is required", param="input_file_id")
    if endpoint not in ENDPOINTS:
        raise together_error(
            400,
            f"endpoint must be one of {', '.join(ENDPOINTS)}, not {endpoint!r}",
            param="endpoint",
        )
    window = params.get("completion_window")
    if window is not None and window != "24h":
        raise together_error(400, "completion_window can only be 24h", param="completion_window")
    return input_file_id, endpoint


def _no_file(file_id: str) -> ApiError:
    return together_error(404, f"File not found: {file_id}", param="input_file_id")
