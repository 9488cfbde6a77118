"""Times as Errata stores and serves them: ISO 8601 in UTC with milliseconds and a `Z`. Fixed width, so
the strings sort in time order (DynamoDB sort keys rely on it)."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def utc_now() -> datetime:
    return datetime.now(UTC)


def day_key(moment: datetime) -> str:
    """The UTC day of `moment`, `YYYY-MM-DD` (an issue's day count and sampling reservoir run over it)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d")
