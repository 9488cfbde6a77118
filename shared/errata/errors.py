"""Domain errors. Each carries the HTTP status it maps to, so the mapping lives in one place (the class) and
handlers never match on message text."""

from __future__ import annotations


class ErrataError(Exception):
    """Base for errors caused by what a client sent; never a server fault."""

    status_code: int = 400
    code: str = "bad_request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def headers(self) -> dict[str, str]:
        return {}


class InvalidEnvelope(ErrataError):
    code = "invalid_envelope"


class InvalidPayload(ErrataError):
    code = "invalid_payload"


class InvalidCompression(ErrataError):
    code = "invalid_compression"


class UnsupportedEncoding(ErrataError):
    status_code = 415
    code = "unsupported_encoding"


class PayloadTooLarge(ErrataError):
    status_code = 413
    code = "payload_too_large"


class MissingAuth(ErrataError):
    status_code = 401
    code = "missing_auth"


class UnknownProjectKey(ErrataError):
    status_code = 403
    code = "unknown_project_key"


class RateLimited(ErrataError):
    """The project's events-per-minute quota is spent. The headers are the ones Sentry SDKs honour: they stop
    sending that category until the quota window ends."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {
            "Retry-After": str(self.retry_after),
            "X-Sentry-Rate-Limits": f"{self.retry_after}:error;default:project:quota_exceeded",
        }


class UnprocessableRecord(Exception):
    """A stream record that can never be processed (poison): it goes to the dead-letter queue with its
    payload instead of being retried."""
