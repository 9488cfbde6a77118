"""Traffic totals from real SDK sessions and transactions, beside errors per route."""

from __future__ import annotations

import gzip
import json
import uuid
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import TestProject, wait_for

pytestmark = pytest.mark.integration
SAMPLES = Path(__file__).parent.parent / "fixtures" / "envelopes"


def _post(project: TestProject, body: bytes) -> None:
    response = requests.post(
        project.envelope_url,
        data=gzip.compress(body),
        headers={"X-Sentry-Auth": f"Sentry sentry_key={project.public_key}", "Content-Encoding": "gzip"},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_sessions_transactions_and_errors_add_up_per_release_and_route(project: TestProject) -> None:
    for sample in ("04_sessions_aggregate", "05_session_application", "03_transaction"):
        _post(project, (SAMPLES / f"{sample}.envelope").read_bytes())
    # A second request of the route: another transaction (its own event id), not the same one sent again.
    transaction = (SAMPLES / "03_transaction.envelope").read_bytes()
    _post(project, transaction.replace(b"1f0a7093225149e6b86c20374129430d", uuid.uuid4().hex.encode()))
    # The SDK sending the same envelopes again (after a timeout) adds nothing: their records carry the ids
    # the first copies had.
    for sample in ("04_sessions_aggregate", "03_transaction"):
        _post(project, (SAMPLES / f"{sample}.envelope").read_bytes())
    event = {"message": "billing failed", "transaction": "nightly-billing", "release": "myapp@1.2.3"}
    _post(project, b'{}\n{"type":"event"}\n' + json.dumps(event).encode() + b"\n")

    def rows() -> dict[tuple[str, str], dict[str, int]] | None:
        found = project.api("/traffic", hours=2).json()["traffic"]
        table = {(r["dimension"], r["value"]): {k: v for k, v in r.items() if isinstance(v, int)} for r in found}
        route = table.get(("route", "nightly-billing"), {})
        release = table.get(("release", "myapp@1.2.3"), {})
        # The envelopes land on two shards, counted in whichever order the shards are read: wait for all.
        arrived = route.get("requests") == 2 and route.get("errors") == 1 and release.get("sessions", 0) >= 3
        return table if arrived else None

    table = wait_for(rows)
    # sessions: the aggregate (1 exited + 1 crashed) and the application session's init; errored: it ended with errors
    assert table[("release", "myapp@1.2.3")] == {"sessions": 3, "crashed": 1, "errored": 1, "requests": 2, "errors": 1}
    assert table[("route", "nightly-billing")] == {"requests": 2, "errors": 1}
    assert [issue["title"] for issue in project.issues()] == ["billing failed"], "traffic makes no issues"
