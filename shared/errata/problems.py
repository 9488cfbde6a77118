"""Error bodies: one shape for every 4xx and 5xx Errata answers, RFC 9457 problem details
(`application/problem+json`), with Errata's machine-readable `code` as an extension member."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

PROBLEM_JSON = "application/problem+json"


def problem(status: int, detail: str, code: str, **extensions: Any) -> dict[str, Any]:
    return {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        **extensions,
    }
