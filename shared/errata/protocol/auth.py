"""Sentry client authentication: the public key from `X-Sentry-Auth` or `?sentry_key=`."""

from __future__ import annotations

from collections.abc import Mapping

from errata.errors import MissingAuth

AUTH_HEADER = "x-sentry-auth"


def parse_auth_header(value: str) -> dict[str, str]:
    """`Sentry sentry_key=abc, sentry_version=7` -> {"sentry_key": "abc", "sentry_version": "7"}."""
    value = value.strip()
    if value[:7].lower() == "sentry ":
        value = value[7:]
    fields: dict[str, str] = {}
    for part in value.split(","):
        name, sep, field_value = part.strip().partition("=")
        if sep:
            fields[name.strip()] = field_value.strip()
    return fields


def sentry_key_from_request(headers: Mapping[str, str], query: Mapping[str, str]) -> str:
    """The client's public key; header auth wins over the query string (browsers use the latter)."""
    header = headers.get(AUTH_HEADER)
    if header:
        key = parse_auth_header(header).get("sentry_key")
        if key:
            return key
    key = query.get("sentry_key")
    if key:
        return key
    raise MissingAuth("missing sentry_key: send X-Sentry-Auth or ?sentry_key=")
