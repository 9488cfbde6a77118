"""The event payloads bucket: the representative (scrubbed) event of each issue, as JSON."""

from __future__ import annotations

import json
from typing import Any


def representative_key(project_id: str, issue_id: str) -> str:
    return f"projects/{project_id}/issues/{issue_id}/latest.json"


def sample_key(project_id: str, issue_id: str, slot: int) -> str:
    return f"projects/{project_id}/issues/{issue_id}/samples/{slot}.json"


class EventPayloadStore:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def put(self, key: str, payload: dict[str, Any]) -> None:
        self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=json.dumps(payload, separators=(",", ":"), default=str).encode(),
            ContentType="application/json",
        )

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            response = self._s3.get_object(Bucket=self._bucket, Key=key)
        except self._s3.exceptions.NoSuchKey:
            return None
        value: dict[str, Any] = json.loads(response["Body"].read())
        return value
