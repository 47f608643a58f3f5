"""Handlers of Gemini's batch and file routes (auth and faults are handled by ``_app``)."""

from __future__ import annotations

import threading
from typing import Any

import orjson

from .._clock import EmulatedClock
from .._errors import ApiError
from .._markers import LineError, Plan, marker_plan
from .._responses import Query, Request, Response, json_response
from .._settings import Settings
from .._state import begin_cancel, is_ended, plan_batch
from .._store import Store
from .._submissions import Submissions
from ._batch import GeminiBatch, batch_fate, render, state_of
from ._files import FileStore, LowerIds, Session, StoredFile
from ._input import LINE_ERROR, check_create, check_model, read_lines
from ._params import as_messages, field
from ._results import ReplyHooks, jsonl, outcomes
from ._wire import google_error

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
FILES_PAGE_SIZE = 10
MAX_FILES_PAGE_SIZE = 100
FILE_LIMIT_BYTES = 2 * 1024 * 1024 * 1024
CHUNK_GRANULARITY = 8 * 1024 * 1024
JSONL_MIME = "application/jsonl"
UPLOAD_PATH = "/gemini/upload/v1beta/files"


def plan_gemini(request: dict[str, object], submission: int = 1) -> Plan:
    """A file line's own problem, else what the outcome markers decide."""
    problem = request.get(LINE_ERROR)
    if isinstance(problem, str):
        return LineError("invalid_request_error", problem, validation=True)
    return marker_plan(as_messages(dict(request)), submission)


class GeminiRoutes:
    """Business logic of the emulated Gemini Batch and Files APIs, one method per route."""

    def __init__(self, settings: Settings, clock: EmulatedClock) -> None:
        self.settings = settings
        self.clock = clock
        self.files = FileStore(settings.seed, settings.id_salt)
        self.batches: Store[GeminiBatch] = Store()
        self.submissions = Submissions()
        self.origin = ""
        self._ids = LowerIds(settings.seed, "gemini-batches", settings.id_salt)
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
        """Answer route ``name`` (one of the ``gemini.*`` names)."""
        if request.oversize:
            raise google_error(413, "Request payload size exceeds the limit.")
        if name == "gemini.files.upload":
            return self.start_upload(request)
        if name == "gemini.batches.list":
            return self.list_batches(query)
        if name == "gemini.files.list":
            return self.list_files(query)
        assert resource_id is not None
        if name == "gemini.files.upload_session":
            return self.upload_chunk(resource_id, request)
        if name == "gemini.batches.create":
            return self.create(resource_id, request)
        handler = {
            "gemini.files.get": self.get_file,
            "gemini.files.download": self.download,
            "gemini.files.delete": self.delete_file,
            "gemini.batches.get": self.get,
            "gemini.batches.cancel": self.cancel,
            "gemini.batches.delete": self.delete,
        }[name]
        return handler(resource_id)

    # files -----------------------------------------------------------------------------

    def start_upload(self, request: Request) -> Response:
        """``POST /upload/v1beta/files`` with ``X-Goog-Upload-Command: start``: opens a
        session and answers its URL in ``x-goog-upload-url``."""
        headers = request.headers
        if headers.get("x-goog-upload-protocol") != "resumable" or (
            headers.get("x-goog-upload-command") != "start"
        ):
            raise google_error(
                400,
                "Only resumable uploads are served: send X-Goog-Upload-Protocol: resumable"
                " and X-Goog-Upload-Command: start.",
            )
        size = _int_header(headers, "x-goog-upload-header-content-length")
        if size > FILE_LIMIT_BYTES:
            raise google_error(
                400, f"File size {size} exceeds the limit of {FILE_LIMIT_BYTES} bytes."
            )
        described = _file_field(request.body)
        # google-genai sends these snake_case (proto3 JSON takes both spellings)
        mime = str(
            field(described, "mimeType") or headers.get("x-goog-upload-header-content-type") or ""
        )
        display = field(described, "displayName") or ""
        session = Session(str(display), mime, size)
        upload_id = self.files.start(session)
        url = f"{self.origin}{UPLOAD_PATH}/sessions/{upload_id}?upload_protocol=resumable"
        return Response(
            200,
            b"",
            "text/plain; charset=utf-8",
            (
                ("x-goog-upload-url", url),
                ("x-goog-upload-status", "active"),
                ("x-goog-upload-chunk-granularity", str(CHUNK_GRANULARITY)),
            ),
        )

    def upload_chunk(self, upload_id: str, request: Request) -> Response:
        """A chunk sent to the session URL (``upload`` or ``upload, finalize``)."""
        session = self.files.session(upload_id)
        if session is None:
            raise google_error(404, f"No upload session {upload_id}.")
        commands = {
            part.strip() for part in request.headers.get("x-goog-upload-command", "").split(",")
        }
        if "upload" not in commands:
            raise google_error(400, "X-Goog-Upload-Command must include 'upload'.")
        offset = _int_header(request.headers, "x-goog-upload-offset")
        if offset != len(session.received):
            raise google_error(
                400,
                f"X-Goog-Upload-Offset {offset} is not the {len(session.received)} bytes received.",
            )
        session.received.extend(request.body)
        if "finalize" not in commands:
            return Response(200, b"", headers=(("x-goog-upload-status", "active"),))
        if len(session.received) != session.size:
            raise google_error(
                400,
                f"Received {len(session.received)} bytes, not the {session.size} the upload"
                " declared.",
            )
        stored = self.files.finish(upload_id, self.clock.now())
        body = {"file": stored.render(self.clock, self.origin)}
        return json_response(200, body, (("x-goog-upload-status", "final"),))

    def list_files(self, query: Query) -> Response:
        """``GET /v1beta/files?pageSize=&pageToken=``: newest first (10 a page, at most 100)."""
        size = min(_page_size(query, FILES_PAGE_SIZE), MAX_FILES_PAGE_SIZE)
        token = query.get("pageToken", [None])[-1] or None
        if token is not None and self.files.get(token) is None:
            raise google_error(400, "Invalid page token.")
        files, after = self.files.page(size, token)
        body: dict[str, Any] = {"files": [f.render(self.clock, self.origin) for f in files]}
        if after is not None:
            body["nextPageToken"] = after
        return json_response(200, body)

    def get_file(self, file_id: str) -> Response:
        """``GET /v1beta/files/{id}``."""
        return json_response(200, self._file(file_id).render(self.clock, self.origin))

    def download(self, file_id: str) -> Response:
        """``GET /v1beta/files/{id}:download?alt=media``: the file's bytes."""
        return Response(200, self._file(file_id).content, "application/octet-stream")

    def delete_file(self, file_id: str) -> Response:
        """``DELETE /v1beta/files/{id}``: ``{}``."""
        if not self.files.delete("files/" + file_id):
            raise _no_file(file_id)
        return json_response(200, {})

    # batches ---------------------------------------------------------------------------

    def create(self, model: str, request: Request) -> Response:
        """``POST /v1beta/models/{model}:batchGenerateContent``: the Operation, PENDING."""
        model_name = check_model(model)
        body = check_create(request.body)
        inline_metadata: list[dict[str, Any] | None] | None = body.inline_metadata
        entries = body.entries
        if body.file_name is not None:
            source = self.files.get(body.file_name)
            if source is None:
                raise google_error(404, f"File {body.file_name} not found.")
            entries, inline_metadata = read_lines(source.content), None
        keys = [key for key, _ in entries]
        now = self.clock.now()
        core = plan_batch(
            self._ids.make(36),
            now,
            self.clock.to_datetime(now),
            self.settings.processing_seconds,
            [(key, dict(params)) for key, params in entries],
            plan_gemini,
            self.submissions.record(keys),
        )
        batch = GeminiBatch(
            core=core,
            model=model_name,
            display_name=body.display_name,
            keys=keys,
            inline_metadata=inline_metadata,
            fate=batch_fate([params for _, params in entries]),
            file_name=body.file_name,
        )
        self.batches.add(batch)
        with self._lock:
            self._created += 1
        return json_response(200, render(batch, self.clock, now, gradual=False, fresh=True))

    def get(self, batch_id: str) -> Response:
        """``GET /v1beta/batches/{id}``: the Operation."""
        return json_response(200, self._render(self._batch(batch_id)))

    def list_batches(self, query: Query) -> Response:
        """``GET /v1beta/batches?pageSize=&pageToken=``: newest first."""
        size = _page_size(query)
        token = query.get("pageToken", [None])[-1] or None
        if token is not None and self.batches.get(token) is None:
            raise google_error(400, "Invalid page token.")
        page = self.batches.page(size, before_id=None, after_id=token)
        body: dict[str, Any] = {"operations": [self._render(batch) for batch in page.batches]}
        if page.has_more and page.batches:
            body["nextPageToken"] = page.batches[-1].id
        return json_response(200, body)

    def cancel(self, batch_id: str) -> Response:
        """``POST /v1beta/batches/{id}:cancel``: ``{}``; CANCELLED once the timeline ends."""
        batch = self._batch(batch_id)
        now = self.clock.now()
        if is_ended(batch.core, now):
            state = state_of(batch, now)
            raise google_error(
                400,
                f"Batch {batch.name} is in state {state} and cannot be cancelled.",
                "FAILED_PRECONDITION",
            )
        begin_cancel(batch.core, now, self.settings.cancel_seconds)
        return json_response(200, {})

    def delete(self, batch_id: str) -> Response:
        """``DELETE /v1beta/batches/{id}``: ``{}`` (a running batch is not cancelled)."""
        if not self.batches.delete(batch_id):
            raise _no_batch(batch_id)
        return json_response(200, {})

    # helpers ---------------------------------------------------------------------------

    def _render(self, batch: GeminiBatch) -> dict[str, Any]:
        now = self.clock.now()
        if state_of(batch, now) in ("BATCH_STATE_SUCCEEDED", "BATCH_STATE_CANCELLED"):
            self._ensure_output(batch)
        return render(batch, self.clock, now, gradual=self.settings.gradual_counts)

    def _ensure_output(self, batch: GeminiBatch) -> None:
        """Build the output once: inline responses, or the stored responses file."""
        core = batch.core
        with core.lock:
            if batch.output is not None:
                return
            settings = self.settings
            hooks = ReplyHooks(settings.reply_text, settings.reply_content, settings.reply_usage)
            items = outcomes(core, batch.model, settings.seed, hooks)
            if batch.inline_metadata is None:
                stored = StoredFile(
                    f"files/batch-{core.id}",
                    jsonl(batch.keys, items),
                    "",
                    JSONL_MIME,
                    self.clock.now(),
                    generated=True,
                )
                self.files.put(stored)
                batch.output = {"responsesFile": stored.name}
                return
            for item, meta in zip(items, batch.inline_metadata, strict=True):
                if meta is not None:
                    item["metadata"] = meta
            batch.output = {"inlinedResponses": {"inlinedResponses": items}}

    def _file(self, file_id: str) -> StoredFile:
        stored = self.files.get("files/" + file_id)
        if stored is None:
            raise _no_file(file_id)
        return stored

    def _batch(self, batch_id: str) -> GeminiBatch:
        batch = self.batches.get(batch_id)
        if batch is None:
            raise _no_batch(batch_id)
        return batch


def _no_batch(batch_id: str) -> ApiError:
    return google_error(404, f"Batch batches/{batch_id} not found.")


def _no_file(file_id: str) -> ApiError:
    return google_error(
        403, f"You do not have permission to access the File {file_id} or it may not exist."
    )


def _int_header(headers: dict[str, str], name: str) -> int:
    value = headers.get(name, "")
    if not value.isdigit():
        raise google_error(400, f"Header {name} must be a non-negative integer.")
    return int(value)


def _file_field(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise google_error(400, "Invalid JSON payload received.") from None
    described = payload.get("file") if isinstance(payload, dict) else None
    return described if isinstance(described, dict) else {}


def _page_size(query: Query, default: int = DEFAULT_PAGE_SIZE) -> int:
    values = query.get("pageSize")
    if not values:
        return default
    try:
        size = int(values[-1])
    except ValueError:
        raise google_error(400, "Invalid value for pageSize.") from None
    if size < 0:
        raise google_error(400, "pageSize must not be negative.")
    return min(size or default, MAX_PAGE_SIZE)
