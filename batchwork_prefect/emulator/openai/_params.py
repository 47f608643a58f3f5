"""Synchronous (400) checks of OpenAI upload forms and batch-create bodies."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from .._errors import ApiError, openai_error
from .._structured import json_kind
from ._multipart import MultipartError, Part, boundary_of, parse_form

FILE_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
ENDPOINTS = (
    "/v1/responses",
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/completions",
    "/v1/moderations",
    "/v1/images/generations",
    "/v1/images/edits",
    "/v1/videos",
)
SERVED_ENDPOINT = "/v1/chat/completions"
MAX_BATCH_FILE_BYTES = 200 * 1024 * 1024
MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512
BAD_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't"
    " using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was"
    " sent was not valid JSON. If you have trouble figuring out how to fix this, please"
    " contact us through our help center at help.openai.com.)"
)


@dataclass(frozen=True, slots=True)
class Upload:
    """A checked ``POST /v1/files`` form."""

    content: bytes
    filename: str
    purpose: str


@dataclass(frozen=True, slots=True)
class CreateParams:
    """A checked ``POST /v1/batches`` body."""

    input_file_id: str
    endpoint: str
    completion_window: str
    metadata: dict[str, str] | None


def check_upload(content_type: str, body: bytes) -> Upload:
    """The upload's file, name and purpose, or the first 400."""
    boundary = boundary_of(content_type)
    if boundary is None:
        raise openai_error(
            400, "Invalid Content-Type header: expected multipart/form-data with a boundary."
        )
    try:
        parts = parse_form(body, boundary)
    except MultipartError as exc:
        raise openai_error(400, f"Could not parse the multipart form: {exc}.") from None
    file_part = _required_part(parts, "file")
    purpose = _required_part(parts, "purpose").content.decode("utf-8", "replace")
    if purpose not in FILE_PURPOSES:
        raise invalid_value(purpose, FILE_PURPOSES, "purpose")
    filename = file_part.filename or "upload"
    if purpose == "batch":
        if not filename.endswith(".jsonl"):
            raise openai_error(400, "Invalid file format for Batch API. Must be .jsonl")
        if len(file_part.content) > MAX_BATCH_FILE_BYTES:
            raise openai_error(
                400,
                f"File is too large: {len(file_part.content)} bytes; files for the Batch API"
                f" may be at most {MAX_BATCH_FILE_BYTES} bytes (200 MB).",
                param="file",
            )
    return Upload(file_part.content, filename, purpose)


def check_create(body: bytes) -> CreateParams:
    """The create body's fields, or the first 400."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise openai_error(400, BAD_JSON) from None
    if not isinstance(payload, dict):
        raise invalid_type("body", "an object", payload)
    input_file_id = _required_string(payload, "input_file_id")
    endpoint = _required_string(payload, "endpoint")
    if endpoint not in ENDPOINTS:
        raise invalid_value(endpoint, ENDPOINTS, "endpoint")
    if endpoint != SERVED_ENDPOINT:
        raise openai_error(
            400,
            f"The emulator serves only '{SERVED_ENDPOINT}' batches, not '{endpoint}'.",
            code="invalid_value",
            param="endpoint",
        )
    window = _required_string(payload, "completion_window")
    if window != "24h":
        raise invalid_value(window, ("24h",), "completion_window")
    return CreateParams(input_file_id, endpoint, window, _metadata(payload.get("metadata")))


def missing(name: str, param: str | None = None) -> ApiError:
    """OpenAI's missing-parameter 400."""
    return openai_error(
        400,
        f"Missing required parameter: '{name}'.",
        code="missing_required_parameter",
        param=param or name,
    )


def invalid_value(value: str, allowed: tuple[str, ...], param: str) -> ApiError:
    """OpenAI's ``invalid_value`` 400 listing the supported values."""
    quoted = [f"'{option}'" for option in allowed]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f", and {quoted[-1]}"
    return openai_error(
        400,
        f"Invalid value: '{value}'. Supported values are: {listed}.",
        code="invalid_value",
        param=param,
    )


def invalid_type(param: str, expected: str, value: object) -> ApiError:
    """OpenAI's ``invalid_type`` 400."""
    return openai_error(
        400,
        f"Invalid type for '{param}': expected {expected}, but got {json_kind(value)} instead.",
        code="invalid_type",
        param=param,
    )


def _required_part(parts: dict[str, Part], name: str) -> Part:
    if name not in parts:
        raise missing(name)
    return parts[name]


def _required_string(payload: dict[str, object], name: str) -> str:
    if name not in payload or payload[name] is None:
        raise missing(name)
    value = payload[name]
    if not isinstance(value, str):
        raise invalid_type(name, "a string", value)
    return value


def _metadata(value: object) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid_type("metadata", "an object", value)
    if len(value) > MAX_METADATA_PAIRS:
        raise openai_error(
            400,
            "Invalid 'metadata': too many properties. Expected an object with at most"
            f" {MAX_METADATA_PAIRS} properties, but got an object with {len(value)} properties"
            " instead.",
            code="object_above_max_properties",
            param="metadata",
        )
    for key, item in value.items():
        if len(key) > MAX_METADATA_KEY:
            raise openai_error(
                400,
                f"Invalid 'metadata': key too long. Expected a key with maximum length"
                f" {MAX_METADATA_KEY}, but got a key with length {len(key)} instead.",
                code="string_above_max_length",
                param="metadata",
            )
        if not isinstance(item, str):
            raise invalid_type(f"metadata.{key}", "a string", item)
        if len(item) > MAX_METADATA_VALUE:
            raise openai_error(
                400,
                f"Invalid 'metadata.{key}': string too long. Expected a string with maximum"
                f" length {MAX_METADATA_VALUE}, but got a string with length {len(item)}"
                " instead.",
                code="string_above_max_length",
                param=f"metadata.{key}",
            )
    return dict(value)
