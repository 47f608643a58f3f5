"""Synchronous checks of Mistral upload forms and batch job creates (the API reference's
``MultiPartBodyParams`` and ``BatchJobIn``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson

from .._errors import ApiError
from ..openai._multipart import MultipartError, Part, boundary_of, parse_form
from ._wire import mistral_error

FILE_PURPOSES = ("fine-tune", "batch", "ocr")
VISIBILITIES = ("workspace", "user")
ENDPOINTS = (
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/fim/completions",
    "/v1/moderations",
    "/v1/chat/moderations",
    "/v1/ocr",
    "/v1/classifications",
    "/v1/chat/classifications",
    "/v1/conversations",
    "/v1/audio/transcriptions",
)
SERVED_ENDPOINT = "/v1/chat/completions"
MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_INLINE_REQUESTS = 10_000
MAX_TIMEOUT_HOURS = 7 * 24  # "should be lower than 7 days"
METADATA_KEY = (1, 32)
METADATA_VALUE = (1, 512)
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True, slots=True)
class Upload:
    """A checked ``POST /v1/files`` form."""

    content: bytes
    filename: str
    purpose: str
    visibility: str
    expiry: int | None


@dataclass(frozen=True, slots=True)
class CreateParams:
    """A checked ``POST /v1/batch/jobs`` body: input files or inline requests."""

    endpoint: str
    input_files: list[str]
    requests: list[object] | None
    model: str | None
    metadata: dict[str, str] | None
    timeout_hours: int


def check_upload(content_type: str, body: bytes) -> Upload:
    """The upload's file and fields, or the first 4xx."""
    boundary = boundary_of(content_type)
    if boundary is None:
        raise mistral_error(400, "Expected a multipart/form-data body with a boundary.")
    try:
        parts = parse_form(body, boundary)
    except MultipartError as exc:
        raise mistral_error(400, f"Could not parse the multipart form: {exc}.") from None
    if "file" not in parts:
        raise _invalid("file", "Field required")
    file_part = parts["file"]
    purpose = _text(parts, "purpose", "fine-tune")
    if purpose not in FILE_PURPOSES:
        raise _invalid("purpose", f"Input should be {_options(FILE_PURPOSES)}")
    visibility = _text(parts, "visibility", "workspace")
    if visibility not in VISIBILITIES:
        raise _invalid("visibility", f"Input should be {_options(VISIBILITIES)}")
    expiry_text = _text(parts, "expiry", "")
    if expiry_text and not expiry_text.isdigit():
        raise _invalid("expiry", "Input should be a valid integer")
    if len(file_part.content) > MAX_FILE_BYTES:
        raise mistral_error(413, "File too large: the maximum size of a file is 512 MB.")
    filename = file_part.filename or "upload"
    if purpose == "batch" and not filename.endswith(".jsonl"):
        raise mistral_error(400, "A batch input file must be a .jsonl file.", param="file")
    expiry = int(expiry_text) if expiry_text else None
    return Upload(file_part.content, filename, purpose, visibility, expiry)


def check_create(body: bytes) -> CreateParams:
    """The create body's fields, or the first 4xx."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise mistral_error(400, "Invalid JSON body.") from None
    if not isinstance(payload, dict):
        raise _invalid("body", "Input should be a valid dictionary")
    endpoint = payload.get("endpoint")
    if endpoint is None:
        raise _invalid("endpoint", "Field required")
    if endpoint not in ENDPOINTS:
        raise _invalid("endpoint", f"Input should be {_options(ENDPOINTS)}")
    if endpoint != SERVED_ENDPOINT:
        raise mistral_error(
            400, f"The emulator serves only '{SERVED_ENDPOINT}' jobs, not '{endpoint}'."
        )
    files, requests = payload.get("input_files"), payload.get("requests")
    if (files is None) == (requests is None):
        raise mistral_error(400, "Provide either input_files or requests, not both nor neither.")
    if files is not None and (
        not isinstance(files, list)
        or not files
        or not all(isinstance(item, str) and UUID_RE.fullmatch(item) for item in files)
    ):
        raise _invalid("input_files", "Input should be a non-empty list of file UUIDs")
    if requests is not None:
        if not isinstance(requests, list) or not requests:
            raise _invalid("requests", "Input should be a non-empty list")
        if len(requests) > MAX_INLINE_REQUESTS:
            raise _invalid(
                "requests", f"List should have at most {MAX_INLINE_REQUESTS} items after validation"
            )
    model = payload.get("model")
    if model is not None and not isinstance(model, str):
        raise _invalid("model", "Input should be a valid string")
    timeout = payload.get("timeout_hours", 24)
    if not isinstance(timeout, int) or isinstance(timeout, bool):
        raise _invalid("timeout_hours", "Input should be a valid integer")
    if not 1 <= timeout < MAX_TIMEOUT_HOURS:
        raise _invalid("timeout_hours", f"Input should be at least 1 and below {MAX_TIMEOUT_HOURS}")
    return CreateParams(
        endpoint=endpoint,
        input_files=list(files or []),
        requests=requests,
        model=model,
        metadata=_metadata(payload.get("metadata")),
        timeout_hours=timeout,
    )


def _metadata(value: object) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _invalid("metadata", "Input should be a valid dictionary")
    for key, item in value.items():
        if not METADATA_KEY[0] <= len(key) <= METADATA_KEY[1]:
            raise _invalid(f"metadata.{key}", "Keys should have 1 to 32 characters")
        if not isinstance(item, str):
            raise _invalid(f"metadata.{key}", "Input should be a valid string")
        if not METADATA_VALUE[0] <= len(item) <= METADATA_VALUE[1]:
            raise _invalid(f"metadata.{key}", "Values should have 1 to 512 characters")
    return dict(value)


def _text(parts: dict[str, Part], name: str, default: str) -> str:
    part = parts.get(name)
    return default if part is None else part.content.decode("utf-8", "replace")


def _options(values: tuple[str, ...]) -> str:
    quoted = [f"'{value}'" for value in values]
    return ", ".join(quoted[:-1]) + f" or {quoted[-1]}"


def _invalid(param: str, message: str) -> ApiError:
    """A 422 validation error naming the field."""
    return mistral_error(422, f"{param}: {message}", param=param)
