"""What goes into a batch: one request, the rule for its custom_id, its typed fields."""

from __future__ import annotations

import re
from typing import Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

CUSTOM_ID_PATTERN = re.compile(r"[a-zA-Z0-9_-]{1,64}")
"""What a `custom_id` must look like (Anthropic's rule; the strictest of the providers).

Use it with `fullmatch`: with `match` and a `$` anchor, a trailing newline would pass."""


TYPED_FIELDS = (
    "system",
    "max_tokens",
    "temperature",
    "top_p",
    "top_k",
    "stop_sequences",
    "tools",
    "tool_choice",
)
"""The Messages API fields `BatchRequest` types, in the fixed order they are encoded in
(the encoded bytes feed the content digest); `defaults` may give them too."""


class BatchRequest(BaseModel):
    """One request of a batch: a prompt (or a message list) and its Messages API options.

    Exactly one of `prompt` and `messages` is set. `params` passes any other Messages API
    field through untouched (`thinking`, `metadata`, ...). A `custom_id` left out becomes
    `request-<index>` when the batch is built.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    custom_id: str | None = Field(
        default=None,
        # pydantic searches for a pattern, so it needs anchors; its Rust engine's `$` matches
        # only at the very end (a trailing newline is refused: tests/models/test_models.py).
        pattern=f"^{CUSTOM_ID_PATTERN.pattern}$",
        description="Correlates the result; unique; 1-64 letters, digits, '_' or '-'.",
    )
    prompt: str | None = Field(
        default=None, description="A single user message; give this or messages."
    )
    messages: list[dict[str, Any]] | None = Field(
        default=None,
        min_length=1,
        description="A full message list ({role, content} objects); give this or prompt.",
    )
    system: str | list[dict[str, Any]] | None = Field(
        default=None, description="The system prompt: text, or a list of content blocks."
    )
    max_tokens: int | None = Field(
        default=None, ge=1, description="The most tokens the answer may have (default 1024)."
    )
    temperature: float | None = Field(
        default=None, ge=0, description="Sampling temperature; lower is more deterministic."
    )
    top_p: float | None = Field(
        default=None, ge=0, le=1, description="Nucleus sampling: the probability mass kept."
    )
    top_k: int | None = Field(
        default=None, ge=0, description="Sample only from the k most likely tokens."
    )
    stop_sequences: list[str] | None = Field(
        default=None, description="Texts that end the answer when generated."
    )
    tools: list[dict[str, Any]] | None = Field(
        default=None, description="Tool definitions the model may call."
    )
    tool_choice: dict[str, Any] | None = Field(
        default=None, description="How the model picks a tool, e.g. {'type': 'auto'}."
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Any other Messages API field, passed as is (thinking, metadata, ...).",
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("set exactly one of 'prompt' and 'messages'")
        return self
