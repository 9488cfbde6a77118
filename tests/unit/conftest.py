"""Unit tests that touch AWS use moto in-process (`mock_aws`). When the integration tests ran first in the
same process, their local stack left AWS_ENDPOINT_URL pointing at its moto server, which `mock_aws` would not
intercept: unit tests get an environment of their own."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _in_process_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
