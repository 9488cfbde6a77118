"""One local stack per test session (moto server, gateway, poller, real handlers), shared by the integration
and browser tests; one project per test, so tests share nothing but the process. (One stack only: the
handlers' per-container caches are keyed by resource names, which every local stack shares.) `make test` runs
two pytest-xdist workers, each a process with a stack of its own; the CDK tests stay on one worker, so both
stages are synthesized once."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
import requests

from errata.store.projects import Project, ProjectStore
from errata_local.stack import AlertingOptions, LocalStack, StackInfo
from tests.cognito_pool import pool  # noqa: F401 (a fixture: a Cognito user pool the API trusts)
from tests.integration.vendors import FakeJira, FakeLinear, FakePagerDuty, FakeSlack

T = TypeVar("T")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`--dist loadgroup`: the CDK tests share one session's synthesis (jsii start-up and two synths)."""
    for item in items:
        if item.nodeid.startswith("tests/infra/"):
            item.add_marker(pytest.mark.xdist_group("cdk"))


@pytest.fixture(scope="session")
def pagerduty() -> Iterator[FakePagerDuty]:
    with FakePagerDuty() as server:
        yield server


@pytest.fixture(scope="session")
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.fixture(scope="session")
def jira() -> Iterator[FakeJira]:
    with FakeJira() as server:
        yield server


@pytest.fixture(scope="session")
def linear() -> Iterator[FakeLinear]:
    with FakeLinear() as server:
        yield server


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory, pagerduty: FakePagerDuty, linear: FakeLinear
) -> Iterator[LocalStack]:
    # The evaluator's timer is off: tests run it when they mean to (stack.evaluate_alerts()).
    alerting = AlertingOptions(
        outbox=tmp_path_factory.mktemp("outbox"),
        evaluator_seconds=3600,
        notification_backoff_seconds=1,
        pagerduty_url=pagerduty.url,
    )
    local = LocalStack(port=0, alerting=alerting, linear_api_url=linear.url)
    local.start()
    yield local
    local.stop()


@pytest.fixture(scope="session")
def info(stack: LocalStack) -> StackInfo:
    assert stack.info is not None
    return stack.info


@dataclass(frozen=True)
class TestProject:
    __test__ = False  # a fixture value, not a test class

    project_id: str
    public_key: str
    dsn: str
    base_url: str
    api_token: str

    @property
    def envelope_url(self) -> str:
        return f"{self.base_url}/api/{self.project_id}/envelope/"

    def call(self, method: str, path: str, body: Any = None) -> requests.Response:
        return requests.request(
            method,
            f"{self.base_url}/api/projects/{self.project_id}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.api_token}"},
            timeout=10,
        )

    def store(self, payload: dict[str, Any]) -> None:
        """One event through Sentry's /store/ endpoint, as an old SDK or a hand-made client sends it."""
        response = requests.post(
            f"{self.base_url}/api/{self.project_id}/store/",
            data=json.dumps({"event_id": uuid.uuid4().hex, **payload}),
            headers={"X-Sentry-Auth": f"Sentry sentry_version=7, sentry_key={self.public_key}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text

    def api(self, path: str, **params: Any) -> requests.Response:
        return requests.get(
            f"{self.base_url}/api/projects/{self.project_id}{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.api_token}"},
            timeout=10,
        )

    def issues(self, sort: str = "frequency") -> list[dict[str, Any]]:
        response = self.api("/issues", sort=sort, limit=100)
        assert response.status_code == 200, response.text
        issues: list[dict[str, Any]] = response.json()["issues"]
        return issues


@pytest.fixture
def project(stack: LocalStack, info: StackInfo) -> TestProject:
    return new_test_project(stack, info)


def new_test_project(stack: LocalStack, info: StackInfo) -> TestProject:
    """A project of its own, with a fresh DSN key."""
    project_id = str(secrets.randbelow(10**9) + 1000)
    public_key = secrets.token_hex(16)
    ProjectStore(stack.client("dynamodb"), info.settings.projects_table).put_project(
        Project(project_id=project_id, name=f"test-{project_id}", public_keys=[public_key])
    )
    host = info.base_url.removeprefix("http://")
    return TestProject(
        project_id, public_key, f"http://{public_key}@{host}/{project_id}", info.base_url, info.api_token
    )


def wait_for(probe: Callable[[], T | None], timeout: float = 15.0, interval: float = 0.1) -> T:
    """Polls until `probe` returns something truthy; the pipeline is asynchronous (Kinesis in between)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")
        time.sleep(interval)
