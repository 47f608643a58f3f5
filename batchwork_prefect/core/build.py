"""Building a batch: validate the requests, encode them, and split them by the limits."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pydantic

from batchwork_prefect._http.body import Body
from batchwork_prefect.core.parts import plan_parts
from batchwork_prefect.errors import InvalidBatchError
from batchwork_prefect.models import CUSTOM_ID_PATTERN, TYPED_FIELDS, BatchRequest, trusted
from batchwork_prefect.outputs import OutputLike, OutputType
from batchwork_prefect.providers.base import BatchLimits, WireFormat

RequestLike = BatchRequest | Mapping[str, Any]


@dataclass(frozen=True)
class Part:
    """The requests of one provider batch, encoded, with their content digest."""

    custom_ids: tuple[str, ...]
    encoded: tuple[bytes, ...]
    digest: str


@dataclass(frozen=True)
class BuiltBatch:
    """A validated batch, ready to submit as one or more provider batches."""

    provider: str
    model: str
    parts: tuple[Part, ...]
    digest: str
    attempt: int = 1
    """Which submission of its requests this is: 1, or the retry round (`subset`)."""
    earlier_batches: tuple[str, ...] = ()
    """The batches of the rounds before this one: a lost create is never one of them."""
    output: OutputType | None = None
    """A typed batch's output type, which its answers are validated against when read."""

    @property
    def request_count(self) -> int:
        """How many requests the batch holds."""
        return sum(len(part.custom_ids) for part in self.parts)


def build_parts(
    provider: WireFormat,
    model: str,
    requests: Iterable[RequestLike],
    defaults: Mapping[str, Any] | None = None,
    *,
    limits: BatchLimits | None = None,
    output: OutputType | OutputLike | None = None,
) -> BuiltBatch:
    """Validate and encode `requests` for `provider`, split by `limits` (default: provider's).

    With `output` (a pydantic model class or a JSON schema) every request asks for answers
    of that type, in the provider's native structured-output form.

    Every problem is collected and raised together as one `InvalidBatchError`; nothing is
    sent.
    """
    limits = limits or provider.limits
    defaults = _checked_defaults(provider, defaults)
    typed = OutputType.of(output)
    fields = None
    if typed is not None:
        try:
            fields = provider.output_fields(typed, model)
        except (ValueError, TypeError) as exc:  # a schema a provider cannot carry
            raise InvalidBatchError([f"output: {exc}"]) from None
        _check_output_defaults(provider, model, defaults, fields)
    problems: list[str] = []
    custom_ids: list[str] = []
    encoded: list[bytes] = []
    seen: dict[str, int] = {}
    for index, request, given_id in _normalized(requests, problems):
        custom_id = given_id or f"request-{index}"
        if custom_id in seen:
            problems.append(
                f"requests[{index}]: duplicate custom_id {custom_id!r} "
                f"(first used by requests[{seen[custom_id]}])"
            )
            continue
        seen[custom_id] = index
        if request is None:  # invalid: its problems are listed; its custom_id still counts
            continue
        try:
            params = provider.request_params(model, request, defaults, fields)
        except ValueError as exc:
            problems.append(f"requests[{index}] ({custom_id}): {exc}")
            continue
        try:
            entry = provider.encode_request(custom_id, params)
        except (TypeError, ValueError) as exc:  # a value JSON cannot carry (orjson's errors)
            problems.append(f"requests[{index}] ({custom_id}): {_unencodable(params, exc)}")
            continue
        custom_ids.append(custom_id)
        encoded.append(entry)
    if problems:
        raise InvalidBatchError(problems)
    if not encoded:
        raise InvalidBatchError(["a batch needs at least one request"])
    built = _assembled(provider.name, model, custom_ids, encoded, limits)
    return built if typed is None else dataclasses.replace(built, output=typed)


def _assembled(
    provider: str,
    model: str,
    custom_ids: Sequence[str],
    encoded: Sequence[bytes],
    limits: BatchLimits,
    attempt: int = 1,
) -> BuiltBatch:
    """Encoded requests split into parts that fit `limits`, each with its digest."""
    ranges = plan_parts(
        [len(entry) for entry in encoded],
        max_requests=limits.max_requests,
        max_bytes=limits.max_bytes,
    )
    parts = tuple(
        Part(
            custom_ids=tuple(custom_ids[span.start : span.stop]),
            encoded=tuple(encoded[span.start : span.stop]),
            digest=content_digest(provider, model, encoded[span.start : span.stop], attempt),
        )
        for span in ranges
    )
    whole = (
        parts[0].digest if len(parts) == 1 else content_digest(provider, model, encoded, attempt)
    )
    return BuiltBatch(provider=provider, model=model, parts=parts, digest=whole, attempt=attempt)


def subset(
    built: BuiltBatch,
    custom_ids: Collection[str],
    limits: BatchLimits,
    attempt: int | None = None,
) -> BuiltBatch:
    """The requests of `built` named by `custom_ids`, as they were encoded (the same params),
    in their order, split to fit `limits`: what a retry round sends again, as its `attempt`
    (default: the one after `built`'s), whose digests are its own."""
    wanted = set(custom_ids)
    kept = [
        (custom_id, entry)
        for part in built.parts
        for custom_id, entry in zip(part.custom_ids, part.encoded, strict=True)
        if custom_id in wanted
    ]
    missing = wanted.difference(custom_id for custom_id, _ in kept)
    if missing:
        raise InvalidBatchError([f"no request with custom_id {one!r}" for one in sorted(missing)])
    if not kept:
        raise InvalidBatchError(["a batch needs at least one request"])
    ids, encoded = zip(*kept, strict=True)
    number = built.attempt + 1 if attempt is None else attempt
    again = _assembled(built.provider, built.model, ids, encoded, limits, number)
    return again if built.output is None else dataclasses.replace(again, output=built.output)


def content_digest(provider: str, model: str, encoded: Sequence[bytes], attempt: int = 1) -> str:
    """A sha256 hex digest of what would be sent: provider, model and each encoded request,
    and for a retry round its attempt (the same requests sent again are another batch).

    Encoded requests are JSON documents, which never contain a raw newline, so joining them
    with newlines is unambiguous.
    """
    head = f"{provider}\n{model}\n" if attempt == 1 else f"{provider}\n{model}\n#{attempt}\n"
    digest = hashlib.sha256(head.encode())
    for piece in Body(encoded, separator=b"\n"):  # in slices: never a second copy of all
        digest.update(piece)
    return digest.hexdigest()


def _normalized(
    requests: Iterable[RequestLike], problems: list[str]
) -> Iterator[tuple[int, BatchRequest | None, str | None]]:
    """Each request as (index, `BatchRequest` or None if invalid, its custom_id if given).

    The problems of an invalid request go to `problems`.
    """
    try:
        if isinstance(requests, (str, bytes, Mapping)):
            raise TypeError
        iterator = iter(requests)
    except TypeError:
        raise InvalidBatchError(
            [
                "requests must be a list of requests (dicts or BatchRequest), "
                f"not {type(requests).__name__}"
            ]
        ) from None
    for index, request in enumerate(iterator):
        if isinstance(request, BatchRequest):
            yield index, request, request.custom_id
            continue
        quick = _plain_request(request)
        if quick is not None:
            yield index, quick, quick.custom_id
            continue
        try:
            valid = BatchRequest.model_validate(request)
        except pydantic.ValidationError as exc:
            problems.extend(f"requests[{index}]: {_describe(error)}" for error in exc.errors())
            given = request.get("custom_id") if isinstance(request, Mapping) else None
            yield index, None, given if isinstance(given, str) else None
            continue
        yield index, valid, valid.custom_id


_PLAIN_FIELDS: dict[str, type] = {"custom_id": str, "prompt": str, "system": str, "max_tokens": int}
_UNSET = {name: None for name in BatchRequest.model_fields if name != "params"}


def _plain_request(request: object) -> BatchRequest | None:
    """A `{"custom_id", "prompt"[, "system", "max_tokens"]}` dict checked by hand.

    Pydantic's validation costs about 5 µs a request; this is the common shape, checked in a
    fraction of that. Anything else, or anything invalid, returns None and goes through
    pydantic, which describes the problem. The result equals `BatchRequest(**request)`.
    """
    if type(request) is not dict or "prompt" not in request:
        return None
    for name, value in request.items():
        if type(value) is not _PLAIN_FIELDS.get(name):
            return None
    custom_id = request.get("custom_id")
    if custom_id is not None and not CUSTOM_ID_PATTERN.fullmatch(custom_id):
        return None
    if request.get("max_tokens", 1) < 1:
        return None
    return trusted(BatchRequest, {**_UNSET, **request, "params": {}}, set(request))


def _check_output_defaults(
    provider: WireFormat, model: str, defaults: Mapping[str, Any], fields: Mapping[str, Any]
) -> None:
    """Refuse, once, defaults that set a typed batch's structured output their own way;
    every request inherits them, so each would otherwise report it."""
    own = {name: defaults[name] for name in fields if name in defaults}
    if not own:
        return
    try:
        provider.request_params(model, BatchRequest(prompt=""), own, fields)
    except ValueError as exc:
        raise InvalidBatchError([f"defaults.{exc}"]) from None


def _checked_defaults(provider: WireFormat, defaults: Mapping[str, Any] | None) -> dict[str, Any]:
    """`defaults` as a dict, once its typed fields pass `BatchRequest`'s checks and it encodes.

    Checked once per batch: every request inherits them, so a bad default would otherwise be
    reported (or sent) once per request. The values are sent as given, so a value pydantic
    would have to convert (the string "5" for `max_tokens`) is refused rather than sent.
    """
    if defaults is None:
        return {}
    if not isinstance(defaults, Mapping):
        raise InvalidBatchError(
            [f"defaults must be a dict of request fields, not {type(defaults).__name__}"]
        )
    checked = dict(defaults)
    typed = {name: checked[name] for name in TYPED_FIELDS if name in checked}
    problems: list[str] = []
    if typed and not _plain_defaults(typed):
        try:
            validated = BatchRequest.model_validate({"prompt": "", **typed})
        except pydantic.ValidationError as exc:
            problems.extend(f"defaults.{_describe(error)}" for error in exc.errors())
        else:
            for name, value in typed.items():
                problem = _json_kind_problem(value, getattr(validated, name))
                if problem:
                    problems.append(f"defaults.{name}: {problem}")
    if not problems:
        try:
            provider.encode_request("defaults", checked)
        except (TypeError, ValueError) as exc:
            problems.append(_unencodable(checked, exc, prefix="defaults."))
    if problems:
        raise InvalidBatchError(problems)
    return checked


def _plain_defaults(typed: Mapping[str, Any]) -> bool:
    """Whether typed defaults are only a valid `max_tokens` and `system` text, checked by hand.

    The common case: it then needs no pydantic validator, which a one-shot script would
    build (and load pydantic's plugins for) just to check one number.
    """
    for name, value in typed.items():
        if type(value) is not _PLAIN_FIELDS.get(name):
            return False
    return bool(typed.get("max_tokens", 1) >= 1)


def _json_kind_problem(given: Any, validated: Any) -> str | None:
    """Why `given` cannot be sent as is where pydantic accepted it as `validated`, if so."""
    if given is None:
        return "None is not a value: leave the key out of defaults"
    given_kind, wanted = _json_kind(given), _json_kind(validated)
    if given_kind != wanted and not (given_kind == "integer" and wanted == "number"):
        return (
            f"must be a JSON {wanted}, not {type(given).__name__} "
            "(defaults are sent as given, without conversion)"
        )
    return None


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


_MAX_DEPTH = 300  # deeper than any encoder accepts; stops the walk on a cyclic structure


def _unencodable(params: Mapping[str, Any], exc: Exception, *, prefix: str = "") -> str:
    """`<field>: cannot be encoded as JSON (<why>)`, finding the field (error path only)."""
    where = _find_unencodable(params, "", 0)
    field = f"{prefix}{where}" if where else (prefix.rstrip(".") or "a value")
    return f"{field}: cannot be encoded as JSON ({exc})"


def _find_unencodable(value: Any, path: str, depth: int) -> str | None:
    """The dotted path of the first value orjson refuses inside `value`; None if none is."""
    try:
        orjson.dumps(value)
        return None
    except (TypeError, ValueError):
        pass
    if depth < _MAX_DEPTH and isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{path}[{key!r}]"
            found = _find_unencodable(item, f"{path}.{key}" if path else key, depth + 1)
            if found is not None:
                return found
    elif depth < _MAX_DEPTH and isinstance(value, (list, tuple)):
        for position, item in enumerate(value):
            found = _find_unencodable(item, f"{path}[{position}]", depth + 1)
            if found is not None:
                return found
    return path


def _describe(error: Any) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()))
    message = str(error.get("msg", "invalid"))
    return f"{location}: {message}" if location else message
