"""Server-side PII scrubbing, applied before anything is stored.

SDKs filter some headers themselves when `send_default_pii` is off, but not query strings, form data or
variables such as `secret_token`; an SDK with PII on, or an old one, filters nothing. So the server does it,
with Relay's default key list.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

FILTERED = "[Filtered]"

_BEARER = re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
_URL_USERINFO = re.compile(r"(?<=://)[^/@\s:]+:[^/@\s]+@")
_PEM = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL)
_KEY_WORDS = (
    r"password|passwd|secret|token|api[-_]?key|apikey|auth|credentials|mysql_pwd|private[-_]?key|otp|"
    r"two[-_]factor|cookie|session[-_]?id|csrf"
)
# `token=abc` inside any text: query strings quoted in URLs, reprs of requests, form bodies.
_KEY_VALUE = re.compile(rf"(\b[\w.-]*(?:{_KEY_WORDS})[\w.-]*=)([^&\s'\"<>,;)]+)", re.IGNORECASE)
SENSITIVE_KEY = re.compile(rf"{_KEY_WORDS}|x[-_]forwarded[-_]for|x[-_]real[-_]ip", re.IGNORECASE)
# `secret_token = "tok_live_abc"` in source context lines and logged dicts.
_KEY_QUOTED = re.compile(rf"(\b[\w.-]*(?:{_KEY_WORDS})[\w.-]*[\"']?\s*[:=]\s*)([\"'])[^\"'\n]*\2", re.IGNORECASE)
_MAX_DEPTH = 64


def scrub_event(payload: dict[str, Any]) -> dict[str, Any]:
    """A copy of the event with sensitive keys and values filtered; the input is not changed."""
    scrubbed = _scrub(payload, 0)
    request = scrubbed.get("request")
    if isinstance(request, dict) and isinstance(request.get("query_string"), str):
        request["query_string"] = _scrub_query(request["query_string"])
    return scrubbed  # type: ignore[no-any-return]


def _scrub(value: Any, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        return FILTERED
    if isinstance(value, dict):
        return {
            key: FILTERED if _is_sensitive_key(key) and _has_content(item) else _scrub(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list):
        # Headers and tags may come as [name, value] pairs.
        if len(value) == 2 and isinstance(value[0], str) and _is_sensitive_key(value[0]) and _has_content(value[1]):
            return [value[0], FILTERED]
        return [_scrub(item, depth + 1) for item in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


def scrub_text(text: str) -> str:
    text = _PEM.sub(FILTERED, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {FILTERED}", text)
    text = _URL_USERINFO.sub(f"{FILTERED}@", text)
    text = _KEY_QUOTED.sub(lambda m: m.group(1) + m.group(2) + FILTERED + m.group(2), text)
    text = _KEY_VALUE.sub(lambda m: m.group(1) + FILTERED, text)
    return _CARD.sub(_filter_card, text)


def _filter_card(match: re.Match[str]) -> str:
    # Only numbers that pass the Luhn check: millisecond timestamps and order ids are not cards.
    digits = [int(c) for c in match.group(0) if c.isdigit()]
    total = sum(digits[-1::-2]) + sum(sum(divmod(2 * d, 10)) for d in digits[-2::-2])
    return FILTERED if total % 10 == 0 else match.group(0)


def _scrub_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    if not pairs:
        return query
    return urlencode([(key, FILTERED if _is_sensitive_key(key) else value) for key, value in pairs], safe="[]")


def _is_sensitive_key(key: object) -> bool:
    return isinstance(key, str) and SENSITIVE_KEY.search(key) is not None


def _has_content(value: Any) -> bool:
    return value not in (None, "", [], {})
