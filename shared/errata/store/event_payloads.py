"""The event payloads bucket: the kept (scrubbed) events of each issue, as JSON.

A processor batch writes every payload it keeps (each issue's representative and the sample slots its plan
fills) into one object, `batches/<day>/<shard digest>/<last sequence>-<nonce>.jsonl.gz`: one gzip member
per payload, so the object is a valid gzip'd JSON Lines file and any one payload is read alone with a ranged
GET. A payload is named by a reference, `<object key>#<offset>,<length>`: the issue keeps its
representative's in `payload_key` and its samples' in the counters table (errata.store.counters). One PUT per
batch instead of one per kept payload: S3 charges a PUT as much as eight DynamoDB write units. In a tumbling
window, the kept payloads of established issues ride in the window's state as members (`payload_members`)
and are written in one object at its end (errata.processing.window).

Objects written before batches (`projects/<p>/issues/<i>/latest.json`, `samples/<slot>.json`) are still read:
a reference without `#` is a whole object.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import uuid
from collections.abc import Hashable
from datetime import datetime
from typing import Any, TypeVar

_COMPRESS_LEVEL = 4  # most of level 9's ratio on JSON at a third of its CPU
Name = TypeVar("Name", bound=Hashable)


def representative_key(project_id: str, issue_id: str) -> str:
    """Where a representative was kept before batch objects."""
    return f"projects/{project_id}/issues/{issue_id}/latest.json"


def sample_key(project_id: str, issue_id: str, slot: int) -> str:
    """Where a sample slot was kept before batch objects."""
    return f"projects/{project_id}/issues/{issue_id}/samples/{slot}.json"


def shard_digest(shard: str) -> str:
    """A shard (stream ARN and shard id) in a key: short, and without the ARN's `:` and `/`."""
    return hashlib.sha256(shard.encode()).hexdigest()[:16]


def batch_key(shard: str, last_sequence: int, day: datetime) -> str:
    """A new object for one write of a batch's payloads (a retry writes another: nothing refers to the
    first until its counts commit)."""
    return f"batches/{day:%Y-%m-%d}/{shard_digest(shard)}/{last_sequence}-{uuid.uuid4().hex[:8]}.jsonl.gz"


def payload_members(payloads: dict[Name, dict[str, Any]]) -> dict[Name, bytes]:
    """Each payload as the gzip member a batch object holds (compressed once: a payload given under two names
    is the same member)."""
    made: dict[int, bytes] = {}
    members: dict[Name, bytes] = {}
    for name, payload in payloads.items():
        if id(payload) not in made:
            line = json.dumps(payload, separators=(",", ":"), default=str).encode() + b"\n"
            made[id(payload)] = gzip.compress(line, compresslevel=_COMPRESS_LEVEL, mtime=0)
        members[name] = made[id(payload)]
    return members


class EventPayloadStore:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def put_members(self, key: str, members: dict[Name, bytes]) -> dict[Name, str]:
        """Writes payloads made members (`payload_members`: a window carries them so) into one object;
        returns each name's reference. Equal members (a representative that is also a sample) are stored
        once."""
        references: dict[Name, str] = {}
        stored: dict[bytes, str] = {}
        parts: list[bytes] = []
        offset = 0
        for name, member in members.items():
            if member not in stored:
                stored[member] = f"{key}#{offset},{len(member)}"
                parts.append(member)
                offset += len(member)
            references[name] = stored[member]
        if parts:
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=b"".join(parts), ContentType="application/gzip")
        return references

    def get(self, reference: str) -> dict[str, Any] | None:
        """The payload a reference names (or an object written before batches); None once it expired."""
        key, _, span = reference.partition("#")
        request: dict[str, Any] = {"Bucket": self._bucket, "Key": key}
        if span:
            offset, length = (int(part) for part in span.split(","))
            request["Range"] = f"bytes={offset}-{offset + length - 1}"
        try:
            body = self._s3.get_object(**request)["Body"].read()
        except self._s3.exceptions.NoSuchKey:
            return None
        value: dict[str, Any] = json.loads(gzip.decompress(body) if span else body)
        return value
