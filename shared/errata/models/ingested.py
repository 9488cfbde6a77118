"""What ingest puts on the stream for each accepted event: the payload as the client sent it, plus what only
ingest knows (project, receive time). Gzipped JSON: events compress 5-10x, which keeps Kinesis under its
1 MiB record limit and its per-shard byte throughput."""

from __future__ import annotations

import gzip
import zlib
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from errata.errors import UnprocessableRecord


class IngestedEvent(BaseModel):
    version: Literal[1] = 1
    # "event": a Sentry event payload; "traffic": a record of errata.traffic (sessions, transactions).
    kind: Literal["event", "traffic"] = "event"
    project_id: str
    event_id: str
    received_at: datetime
    payload: dict[str, Any]

    def encode(self) -> bytes:
        return gzip.compress(self.model_dump_json().encode(), compresslevel=6)

    @classmethod
    def decode(cls, data: bytes) -> IngestedEvent:
        try:
            return cls.model_validate_json(gzip.decompress(data))
        except (OSError, EOFError, zlib.error, ValidationError, ValueError) as exc:
            raise UnprocessableRecord(f"not an ingested event record: {type(exc).__name__}: {exc}") from None
