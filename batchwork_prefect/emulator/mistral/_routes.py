"""Handlers of Mistral's file and batch job routes (auth and faults are handled by
``_app``)."""

from __future__ import annotations

import threading

from .._clock import EmulatedClock
from .._errors import ApiError
from .._ids import IdFactory
from .._responses import Query, Request, Response, json_response
from .._settings import Settings
from .._state import begin_cancel, end_time, plan_batch
from .._store import Store
from .._submissions import Submissions
from ..openai._results import ReplyHooks
from ._files import FileStore, StoredFile, uuid_of
from ._input import check_entries, file_entries
from ._job import TERMINAL, MistralJob, Outputs, observe, plan_mistral, render
from ._params import check_create, check_upload
from ._results import build_lines, jsonl
from ._wire import mistral_error

BINARY_TYPE = "application/octet-stream"
DEFAULT_PAGE_SIZE = 100


class MistralRoutes:
    """Business logic of the emulated Mistral Files and Batch APIs, one method per route."""

    def __init__(self, settings: Settings, clock: EmulatedClock) -> None:
        self.settings = settings
        self.clock = clock
        self.files = FileStore(settings.seed, settings.id_salt)
        self.jobs: Store[MistralJob] = Store()
        self.submissions = Submissions()
        self.origin = ""
        self._ids = IdFactory(settings.seed, "mistral-jobs", settings.id_salt)
        self._lock = threading.Lock()
        self._created = 0

    @property
    def batches_created(self) -> int:
        """Jobs stored by creates so far."""
        with self._lock:
            return self._created

    def handle(
        self, name: str, resource_id: str | None, request: Request, query: Query
    ) -> Response:
        """Answer route ``name`` (one of the ``mistral.*`` names)."""
        if request.oversize:
            raise mistral_error(413, "Request entity too large.")
        if name == "mistral.files.create":
            return self.upload(request)
        if name == "mistral.files.list":
            return self.list_files(query)
        if name == "mistral.jobs.create":
            return self.create(request)
        if name == "mistral.jobs.list":
            return self.list_jobs(query)
        assert resource_id is not None
        if name == "mistral.jobs.retrieve":
            return self.retrieve(resource_id, query)
        handler = {
            "mistral.files.retrieve": self.retrieve_file,
            "mistral.files.content": self.file_content,
            "mistral.files.delete": self.delete_file,
            "mistral.jobs.cancel": self.cancel,
            "mistral.jobs.delete": self.delete_job,
        }[name]
        return handler(resource_id)

    # files -----------------------------------------------------------------------------

    def upload(self, request: Request) -> Response:
        """``POST /v1/files`` (multipart form: ``file``, ``purpose``, ...)."""
        upload = check_upload(request.headers.get("content-type", ""), request.body)
        now = self._unix()
        stored = self.files.add(
            upload.content,
            upload.filename,
            upload.purpose,
            now,
            sample_type="batch_request" if upload.purpose == "batch" else "instruct",
            expires_at=None if upload.expiry is None else now + upload.expiry * 3600,
            visibility=upload.visibility,
        )
        return json_response(200, stored.render())

    def list_files(self, query: Query) -> Response:
        """``GET /v1/files?page=&page_size=&purpose=``: oldest first."""
        page, size = _paging(query)
        purpose = query.get("purpose", [None])[-1]
        files = [item for item in self.files.all() if purpose in (None, item.purpose)]
        data = [item.render() for item in files[page * size : (page + 1) * size]]
        return json_response(200, {"data": data, "object": "list", "total": len(files)})

    def retrieve_file(self, file_id: str) -> Response:
        """``GET /v1/files/{id}``."""
        return json_response(200, {**self._file(file_id).render(), "deleted": False})

    def file_content(self, file_id: str) -> Response:
        """``GET /v1/files/{id}/content``: the file's bytes."""
        return Response(200, self._file(file_id).content, BINARY_TYPE)

    def delete_file(self, file_id: str) -> Response:
        """``DELETE /v1/files/{id}``."""
        if not self.files.delete(file_id):
            raise _no_file(file_id)
        return json_response(200, {"id": file_id, "object": "file", "deleted": True})

    # jobs ------------------------------------------------------------------------------

    def create(self, request: Request) -> Response:
        """``POST /v1/batch/jobs``: answers ``QUEUED``; bad input fails the job."""
        params = check_create(request.body)
        if params.requests is not None:
            checked = check_entries(params.requests, params.model)
        else:
            contents = []
            for file_id in params.input_files:
                source = self._file(file_id)
                if source.purpose != "batch":
                    raise mistral_error(
                        400, f"File {file_id} has purpose '{source.purpose}', not 'batch'."
                    )
                contents.append(source.content)
            checked = check_entries(file_entries(contents), params.model)
        now = self.clock.now()
        entries = [
            (custom_id, body if params.model is None else {"model": params.model, **body})
            for custom_id, body in checked.entries
        ]
        core = plan_batch(
            uuid_of(self._ids),
            now,
            self.clock.to_datetime(now),
            self.settings.processing_seconds,
            entries,
            plan_mistral,
            self.submissions.record([custom_id for custom_id, _ in entries]),
        )
        job = MistralJob(
            core=core,
            endpoint=params.endpoint,
            input_files=params.input_files,
            inline=params.requests is not None,
            model=params.model,
            metadata=params.metadata,
            timeout_hours=params.timeout_hours,
            errors=checked.errors,
        )
        self.jobs.add(job)
        with self._lock:
            self._created += 1
        seen = observe(job, now, gradual=False, moment="fresh")
        return json_response(200, render(job, seen, self.clock, inline=False))

    def retrieve(self, job_id: str, query: Query) -> Response:
        """``GET /v1/batch/jobs/{id}?inline=``."""
        job = self._job(job_id)
        inline = query.get("inline", ["false"])[-1].lower() == "true"
        return json_response(200, self._render(job, inline=inline))

    def list_jobs(self, query: Query) -> Response:
        """``GET /v1/batch/jobs?page=&page_size=&order_by=&status=&model=``."""
        page, size = _paging(query)
        order = query.get("order_by", ["-created"])[-1]
        if order not in ("created", "-created"):
            raise mistral_error(422, "order_by: Input should be 'created' or '-created'")
        statuses = set(query.get("status", []))
        model = query.get("model", [None])[-1]
        jobs = self.jobs.page(len(self.jobs) + 1, before_id=None, after_id=None).batches
        if order == "created":
            jobs.reverse()
        rendered = [self._render(job) for job in jobs if model in (None, job.model)]
        if statuses:
            rendered = [item for item in rendered if item["status"] in statuses]
        data = rendered[page * size : (page + 1) * size]
        return json_response(200, {"data": data, "object": "list", "total": len(rendered)})

    def cancel(self, job_id: str) -> Response:
        """``POST /v1/batch/jobs/{id}/cancel``: ``CANCELLATION_REQUESTED`` now,
        ``CANCELLED`` later."""
        job = self._job(job_id)
        now = self.clock.now()
        status = observe(job, now, gradual=False).status
        if status in TERMINAL:
            raise mistral_error(400, f"Job {job_id} is {status} and cannot be cancelled.")
        begin_cancel(job.core, now, self.settings.cancel_seconds)
        seen = observe(job, now, gradual=self.settings.gradual_counts, moment="cancel")
        return json_response(200, render(job, seen, self.clock, inline=False))

    def delete_job(self, job_id: str) -> Response:
        """``DELETE /v1/batch/jobs/{id}`` (the SDK's ``batch.jobs.delete``): only a job
        that has ended."""
        job = self._job(job_id)
        status = observe(job, self.clock.now(), gradual=False).status
        if status not in TERMINAL:
            raise mistral_error(400, f"Job {job_id} is {status}; only an ended job is deleted.")
        self.jobs.delete(job_id)
        return json_response(200, {"id": job_id, "object": "batch", "deleted": True})

    # helpers ---------------------------------------------------------------------------

    def _render(self, job: MistralJob, *, inline: bool = False) -> dict[str, object]:
        seen = observe(job, self.clock.now(), gradual=self.settings.gradual_counts)
        if seen.status in TERMINAL and seen.status != "FAILED":
            self._ensure_outputs(job)
        return render(job, seen, self.clock, inline=inline)

    def _ensure_outputs(self, job: MistralJob) -> None:
        """Build and store the output and error files once, when the job is done."""
        core = job.core
        with core.lock:
            if job.outputs is not None:
                return
            created = self._unix(end_time(core))
            settings = self.settings
            hooks = ReplyHooks(settings.reply_text, settings.reply_content, settings.reply_usage)
            built = build_lines(core, created, settings.seed, hooks)
            ids = [
                self.files.add(
                    jsonl(lines),
                    f"{core.id}_{kind}.jsonl",
                    "batch",
                    created,
                    sample_type=f"batch_{kind}",
                    source="mistral",
                ).id
                if lines
                else None
                for kind, lines in (("result", built.output), ("error", built.errors))
            ]
            job.outputs = Outputs(ids[0], ids[1], built.output + built.errors)

    def _unix(self, emulated: float | None = None) -> int:
        at = self.clock.now() if emulated is None else emulated
        return int(self.clock.to_datetime(at).timestamp())

    def _file(self, file_id: str) -> StoredFile:
        stored = self.files.get(file_id)
        if stored is None:
            raise _no_file(file_id)
        return stored

    def _job(self, job_id: str) -> MistralJob:
        job = self.jobs.get(job_id)
        if job is None:
            raise mistral_error(404, f"Batch job {job_id} not found.")
        return job


def _no_file(file_id: str) -> ApiError:
    return mistral_error(404, f"File {file_id} not found.")


def _paging(query: Query) -> tuple[int, int]:
    try:
        page = int(query.get("page", ["0"])[-1])
        size = int(query.get("page_size", [str(DEFAULT_PAGE_SIZE)])[-1])
    except ValueError:
        raise mistral_error(422, "page, page_size: Input should be a valid integer") from None
    if page < 0 or size < 1:
        raise mistral_error(422, "page must be >= 0 and page_size >= 1")
    return page, size
