"""Keeping API keys out of provider text: error messages an API echoes back. Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "<redacted>"

MIN_SECRET = 4
"""Shorter values are not looked for: they would match ordinary words."""

WINDOW = 8
"""A token holding this many consecutive characters of a key is taken for a piece of it."""

_TOKEN = re.compile(r"[^\s'\"`<>()\[\]{},;]+")
_MASK = re.compile(r"\*{3,}|\.{3}|\u2026")
_TRAILING = ".:!?"


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret, and every masked or partial form of one, as `<redacted>`.

    An API may answer a wrong key by echoing it partly masked (`sk-proj-****...abcd`). So
    besides each secret itself, a word is replaced when it looks masked (a run of `***`,
    `...` or `…` inside it) or holds a piece of a secret (8 of its characters in a row).
    """
    keys = [secret for secret in secrets if len(secret) >= MIN_SECRET]
    for key in keys:
        if key in text:
            text = text.replace(key, REDACTED)
    if not _MASK.search(text) and not any(_has_piece(text, key) for key in keys):
        return text  # the common case: one scan, no word-by-word pass
    return _TOKEN.sub(lambda match: _scrub_word(match.group(0), keys), text)


def _scrub_word(word: str, keys: list[str]) -> str:
    token = word.rstrip(_TRAILING) or word
    if token == REDACTED:
        return word
    if _MASK.search(token) or any(_has_piece(token, key) for key in keys):
        return REDACTED + word[len(token) :]
    return word


def _has_piece(token: str, key: str) -> bool:
    """Whether `token` holds `WINDOW` characters of `key` in a row (all of it if shorter)."""
    size = min(WINDOW, len(key))
    return any(token[start : start + size] in key for start in range(len(token) - size + 1))
