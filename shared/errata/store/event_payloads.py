"""The event payloads bucket: the representative (scrubbed) event of each issue, as JSON."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

# A batch keeps up to a few hundred payloads; one PUT at a time made S3's latency the processor's pace
# (a third of its wall time locally). boto3 clients are thread-safe; 8 stays under the client's pool of 10.
_PARALLEL_PUTS = 8
_pool: ThreadPoolExecutor | None = None


def _put_pool() -> ThreadPoolExecutor:
    """One pool per container, made on first use (a store is made per invocation)."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=_PARALLEL_PUTS, thread_name_prefix="payload-put")
    return _pool


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

    def put_many(self, payloads: dict[str, dict[str, Any]]) -> None:
        """Writes every payload, in parallel; raises the first failure once all have been tried."""
        futures = [_put_pool().submit(self.put, key, payload) for key, payload in payloads.items()]
        errors = [error for future in futures if (error := future.exception()) is not None]
        if errors:
            raise errors[0]

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            response = self._s3.get_object(Bucket=self._bucket, Key=key)
        except self._s3.exceptions.NoSuchKey:
            return None
        value: dict[str, Any] = json.loads(response["Body"].read())
        return value
