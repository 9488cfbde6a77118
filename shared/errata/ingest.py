"""Ingest: a Sentry client's request becomes stream records, or a 4xx that says why.

Limits (errata.limits): 4 MiB per request as sent, the most a Lambda behind API Gateway can receive; as
Relay's defaults, 20 MiB decompressed (checked while inflating) and 1 MiB per event item."""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from errata.errors import MissingAuth, PayloadTooLarge, RateLimited, UnknownProjectKey
from errata.limits import (
    INGEST_MAX_BODY_BYTES,
    INGEST_MAX_DECOMPRESSED_BYTES,
    INGEST_MAX_EVENT_BYTES,
    KINESIS_RECORD_MAX_BYTES,
)
from errata.models.ingested import IngestedEvent
from errata.protocol.auth import sentry_key_from_request
from errata.protocol.decompress import decode_body
from errata.protocol.envelope import parse_envelope, parse_json_object
from errata.store.counters import CounterStore, window_key
from errata.store.event_stream import EventStream, StreamRecord
from errata.store.projects import Project, ProjectStore
from errata.timefmt import utc_now
from errata.traffic import session_traffic, transaction_traffic

MAX_STREAM_RECORD_BYTES = KINESIS_RECORD_MAX_BYTES - 256  # Kinesis counts the partition key in its 1 MiB
_PROJECT_CACHE_SECONDS = 60.0
logger = logging.getLogger(__name__)

Endpoint = Literal["envelope", "store"]


@dataclass(frozen=True)
class IngestRequest:
    project_id: str
    endpoint: Endpoint
    headers: Mapping[str, str]  # lower-cased names
    query: Mapping[str, str]
    body: bytes


@dataclass
class IngestResult:
    event_id: str | None = None
    items: Counter[str] = field(default_factory=Counter)  # item type -> how many were accepted


class ProjectKeys:
    """Project lookups for auth, cached for a minute: ingest is hot, projects change rarely."""

    def __init__(self, projects: ProjectStore, clock: Callable[[], float] = time.monotonic) -> None:
        self._projects = projects
        self._clock = clock
        self._cache: dict[str, tuple[float, Project | None]] = {}

    def authorize(self, project_id: str, public_key: str) -> Project:
        now = self._clock()
        cached = self._cache.get(project_id)
        if (
            cached is None
            or now - cached[0] > _PROJECT_CACHE_SECONDS
            or (cached[1] is not None and public_key not in cached[1].public_keys)
        ):
            cached = (now, self._projects.get_project(project_id))
            self._cache[project_id] = cached
        project = cached[1]
        if project is None or public_key not in project.public_keys:
            raise UnknownProjectKey(f"unknown key for project {project_id}")
        return project


@dataclass
class _MinuteUsage:
    window: str
    moment: datetime
    fleet: int  # events every container had accepted this minute, as of the last flush
    flushed_at: float
    accepted: int = 0  # accepted here since that flush
    dropped: int = 0  # refused here since that flush


class ProjectQuota:
    """Events per project and minute, counted by ingest itself: each container adds what it accepted and
    refused to the project's `quota#` minute item at most every `flush_seconds` (one UpdateItem that returns
    the fleet's total), and between flushes adds its own count to that total. It does not read what the
    processor counted: that lags the stream, and in a storm, exactly when the quota matters, it read about 0.
    Nor does each 429 write: a refused storm costs one write per container per second, not one per request
    (an item past 1,000 writes per second throttles, and turned 429s into 500s). The quota can overshoot by
    what the containers accept within one flush interval; a project under its quota is never refused. A
    failed flush never fails the request: its counts are kept for the next one."""

    def __init__(
        self,
        counters: CounterStore,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        flush_seconds: float = 1.0,
    ) -> None:
        self._counters = counters
        self._clock = clock
        self._monotonic = monotonic
        self._flush_seconds = flush_seconds
        self._usage: dict[str, _MinuteUsage] = {}

    def admit(self, project: Project, events: int) -> None:
        now = self._clock()
        window = window_key(now, "minute")
        project_id = project.project_id
        usage = self._usage.get(project_id)
        if usage is not None and usage.window != window:
            self._flush(project_id, usage)  # what the last minute still owes its own item
            usage = None
        if usage is None:
            # The first request of the minute here: read what the fleet accepted so far.
            usage = _MinuteUsage(
                window=window, moment=now, fleet=self._fleet(project_id, now), flushed_at=self._monotonic()
            )
            self._usage[project_id] = usage
        limit = project.settings.rate_limit_per_minute
        if usage.fleet + usage.accepted + events > limit:
            usage.dropped += events
            self._flush_if_due(project_id, usage)
            raise RateLimited(
                f"project {project_id} is over its quota of {limit} events per minute", max(1, 60 - now.second)
            )
        usage.accepted += events
        self._flush_if_due(project_id, usage)

    def _fleet(self, project_id: str, now: datetime) -> int:
        try:
            return self._counters.quota_usage(project_id, now)
        except Exception:
            logger.warning("quota usage not read", exc_info=True, extra={"project_id": project_id})
            return 0

    def _flush_if_due(self, project_id: str, usage: _MinuteUsage) -> None:
        if self._monotonic() - usage.flushed_at >= self._flush_seconds:
            self._flush(project_id, usage)

    def _flush(self, project_id: str, usage: _MinuteUsage) -> None:
        usage.flushed_at = self._monotonic()
        try:
            usage.fleet = self._counters.add_quota_usage(project_id, usage.moment, usage.accepted, usage.dropped)
        except Exception:
            logger.warning("quota usage not written", exc_info=True, extra={"project_id": project_id})
            return
        usage.accepted = usage.dropped = 0


class IngestService:
    def __init__(
        self, keys: ProjectKeys, stream: EventStream, quota: ProjectQuota, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._keys = keys
        self._stream = stream
        self._quota = quota
        self._clock = clock

    def ingest(self, request: IngestRequest) -> IngestResult:
        if len(request.body) > INGEST_MAX_BODY_BYTES:
            raise PayloadTooLarge(f"request body is larger than {INGEST_MAX_BODY_BYTES} bytes")
        body = decode_body(request.body, request.headers.get("content-encoding"), INGEST_MAX_DECOMPRESSED_BYTES)
        if request.endpoint == "store":
            key = sentry_key_from_request(request.headers, request.query)
            project = self._keys.authorize(request.project_id, key)
            result, records = self._event_records(project, [(body, None)])
            self._quota.admit(project, len(records))
            self._stream.put(records)
            return result
        envelope = parse_envelope(body)
        key = self._envelope_key(request, envelope.headers.get("dsn"))
        project = self._keys.authorize(request.project_id, key)
        events: list[tuple[bytes, str | None]] = []
        result = IngestResult()
        header_event_id = envelope.headers.get("event_id")
        traffic: list[dict[str, Any]] = []
        for item in envelope.items:
            if item.type == "event":
                events.append((item.payload, header_event_id if isinstance(header_event_id, str) else None))
                continue
            # Sessions and transactions become traffic counts; client reports and types we do not know are
            # accepted and counted in metrics only.
            result.items[item.type] += 1
            if item.type in ("session", "sessions"):
                traffic += session_traffic(item.type, parse_json_object(item.payload, item.type))
            elif item.type == "transaction":
                traffic += transaction_traffic(parse_json_object(item.payload, item.type))
        # Everything is parsed and checked before anything is put: a request answered with a 4xx put nothing,
        # so the SDK's retry of it cannot count twice.
        traffic_records = self._traffic_records(project.project_id, body, traffic)
        if events:
            accepted, event_records = self._event_records(project, events)
            try:
                self._quota.admit(project, len(event_records))
            except RateLimited:
                # Sessions are not events: they are counted even when the events are over the quota (the
                # SDK drops a rate-limited envelope; it does not send it again).
                self._stream.put(traffic_records)
                raise
            self._stream.put(traffic_records + event_records)
            accepted.items.update(result.items)
            return accepted
        self._stream.put(traffic_records)
        if isinstance(header_event_id, str):
            result.event_id = header_event_id
        return result

    @staticmethod
    def _envelope_key(request: IngestRequest, dsn: object) -> str:
        try:
            return sentry_key_from_request(request.headers, request.query)
        except MissingAuth:
            # An envelope may authenticate by the DSN in its header alone.
            if isinstance(dsn, str) and "://" in dsn and "@" in dsn:
                key = dsn.split("://", 1)[1].split("@", 1)[0].split(":", 1)[0]
                if key:
                    return key
            raise

    def _traffic_records(self, project_id: str, body: bytes, traffic: list[dict[str, Any]]) -> list[StreamRecord]:
        """Each record's id is a digest of the envelope and the record's place in it: when an SDK sends the
        same envelope again (a retry after a 503, when part of a PutRecords had already been accepted), its
        records carry the same ids, and the processor counts each id once (errata.store.stream_positions)."""
        received_at = self._clock()
        envelope = hashlib.blake2b(body, digest_size=16, person=b"errata-traffic").hexdigest()
        records = []
        for index, entry in enumerate(traffic):
            record_id = hashlib.blake2b(f"{project_id}:{envelope}:{index}".encode(), digest_size=16).hexdigest()
            record = IngestedEvent(
                kind="traffic", project_id=project_id, event_id=record_id, received_at=received_at, payload=entry
            )
            records.append(StreamRecord(partition_key=record.event_id, data=record.encode()))
        return records

    def _event_records(
        self, project: Project, events: list[tuple[bytes, str | None]]
    ) -> tuple[IngestResult, list[StreamRecord]]:
        project_id = project.project_id
        received_at = self._clock()
        result = IngestResult()
        records: list[StreamRecord] = []
        for payload, fallback_id in events:
            if len(payload) > INGEST_MAX_EVENT_BYTES:
                raise PayloadTooLarge(f"event is larger than {INGEST_MAX_EVENT_BYTES} bytes")
            event = parse_json_object(payload, "event")
            event_id = _event_id(event.get("event_id") or fallback_id)
            event["event_id"] = event_id
            record = IngestedEvent(project_id=project_id, event_id=event_id, received_at=received_at, payload=event)
            data = record.encode()
            if len(data) > MAX_STREAM_RECORD_BYTES:
                # Only an event of incompressible noise gets here; Kinesis would refuse it.
                raise PayloadTooLarge(f"event does not fit a stream record even compressed ({len(data)} bytes)")
            records.append(StreamRecord(partition_key=event_id, data=data))
            result.event_id = event_id
            result.items["event"] += 1
        return result, records


def _event_id(value: object) -> str:
    """Sentry's form: 32 lower-case hex digits. A client's malformed id is replaced, not trusted."""
    if isinstance(value, str):
        try:
            return uuid.UUID(value).hex
        except ValueError:
            pass
    return uuid.uuid4().hex
