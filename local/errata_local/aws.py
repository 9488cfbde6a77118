"""The embedded AWS: a moto server on loopback, provisioned from the same table specs as the CDK stacks."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from errata import naming
from errata.naming import physical_name
from errata.settings import Settings
from errata.store.alert_rules import ALERT_RULES_TABLE
from errata.store.counters import COUNTERS_TABLE
from errata.store.integrations import INTEGRATIONS_TABLE
from errata.store.issues import ISSUES_TABLE, IssueStore
from errata.store.projects import PROJECTS_TABLE
from errata.store.releases import RELEASES_TABLE
from errata.store.stream_positions import STREAM_POSITIONS_TABLE
from errata.store.tables import TableSpec
from errata.store.user_issues import USER_ISSUES_TABLE

REGION = "us-east-1"
TABLES: tuple[TableSpec, ...] = (
    PROJECTS_TABLE,
    ISSUES_TABLE,
    STREAM_POSITIONS_TABLE,
    COUNTERS_TABLE,
    USER_ISSUES_TABLE,
    RELEASES_TABLE,
    ALERT_RULES_TABLE,
    INTEGRATIONS_TABLE,
)
# Two shards, so the poller works the way the event source mapping does: one sequential batch per shard.
STREAM_SHARDS = 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def local_aws_environment(endpoint: str) -> dict[str, str]:
    """What makes every boto3 client in this process talk to the moto server (boto3 reads these itself)."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }


STATE_STATUS_PATH = "/_errata/state"  # the moto server's snapshot status (errata_local.moto_state)


def _die_with_parent() -> None:
    """Linux's PR_SET_PDEATHSIG: the moto server gets SIGTERM when the process that started it dies, even
    by kill -9, so it never outlives the stack as an orphan holding its port."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


class EmbeddedAws:
    """moto's server in a child process of its own: it gets the second core instead of sharing the GIL with
    the handlers (measured: end-to-end throughput of the local stack roughly doubles)."""

    def __init__(self, port: int = 0, data_dir: Path | None = None) -> None:
        self.data_dir = data_dir  # errata_local.moto_state keeps the state there; in memory only without
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        os.environ.update(local_aws_environment(self.endpoint))
        command = [sys.executable, "-m", "errata_local.moto_server", "-H", "127.0.0.1", "-p", str(self.port)]
        if self.data_dir is not None:
            command += ["--data-dir", str(self.data_dir)]
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,  # async-signal-safe: one prctl call
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1):  # noqa: S310 - loopback
                    return
            except OSError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"moto server did not start on {self.endpoint}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:  # with a data directory, the server saves its last snapshot first: give it the time
                self._process.wait(timeout=10 if self.data_dir is None else 120)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def state(self) -> dict[str, Any]:
        """With a data directory: how many writes the server answered and how many its snapshot holds."""
        with urllib.request.urlopen(f"{self.endpoint}{STATE_STATUS_PATH}", timeout=10) as response:  # noqa: S310
            status: dict[str, Any] = json.load(response)
        return status

    @property
    def pid(self) -> int:
        """The moto server's process (benchmarks measure its CPU)."""
        assert self._process is not None, "not started"
        return self._process.pid

    def wait_until_saved(self, timeout: float = 60.0) -> dict[str, Any]:
        """Until the snapshot on disk holds every write answered so far (tests: before a kill -9)."""
        target = self.state()["written"]
        deadline = time.monotonic() + timeout
        while (status := self.state())["saved"] < target:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the snapshot holds {status['saved']} of {target} writes: {status}")
            time.sleep(0.05)
        return status

    def client(self, service: str) -> Any:
        return boto3.session.Session().client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106
        )

    def provision(self, prefix: str = "errata-local") -> Settings:
        """Creates the stream, tables, bucket and dead-letter queue; returns their names for the handlers."""
        return provision(self.client, prefix)


@contextmanager
def _unless_restored(*codes: str) -> Iterator[None]:
    """A resource a restored state holds already (errata_local.moto_state) is kept as it is."""
    try:
        yield
    except ClientError as error:
        if error.response["Error"]["Code"] not in codes:
            raise


def migrate_indexes(dynamodb: Any, spec: TableSpec, table_name: str) -> bool:
    """Brings a restored table's indexes to its spec (state saved by an earlier version): creates the missing
    ones, deletes the retired ones and rebuilds those whose projection changed, one per UpdateTable as
    DynamoDB requires. True if any was created."""
    existing = {
        index["IndexName"]: index
        for index in dynamodb.describe_table(TableName=table_name)["Table"].get("GlobalSecondaryIndexes", [])
    }
    request = spec.create_table_request(table_name)
    wanted = {index["IndexName"]: index for index in request.get("GlobalSecondaryIndexes", [])}
    definitions = request["AttributeDefinitions"]
    changed = {name for name in set(existing) & set(wanted) if not _same_projection(existing[name], wanted[name])}
    for name in sorted((set(existing) - set(wanted)) | changed):
        dynamodb.update_table(TableName=table_name, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": name}}])
    created = sorted((set(wanted) - set(existing)) | changed)
    for name in created:
        dynamodb.update_table(
            TableName=table_name,
            AttributeDefinitions=definitions,
            GlobalSecondaryIndexUpdates=[{"Create": wanted[name]}],
        )
    return bool(created)


def _same_projection(described: dict[str, Any], wanted: dict[str, Any]) -> bool:
    have, want = described.get("Projection", {}), wanted["Projection"]
    same_type = have.get("ProjectionType") == want["ProjectionType"]
    return same_type and sorted(have.get("NonKeyAttributes", [])) == sorted(want.get("NonKeyAttributes", []))


def provision(client: Callable[[str], Any], prefix: str, shards: int = STREAM_SHARDS) -> Settings:
    """Creates Errata's resources through any boto3 client factory (the moto server, or moto in-process for
    benchmarks); names come from `errata.naming`, table schemas from the tables' `TableSpec`s, the stream
    with `shards` shards (a benchmark gives its stage's). Resources that a restored state already holds are
    kept."""
    names = {spec.logical_name: physical_name(prefix, spec.logical_name) for spec in TABLES}
    dynamodb = client("dynamodb")
    for spec in TABLES:
        try:
            dynamodb.create_table(**spec.create_table_request(names[spec.logical_name]))
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceInUseException":
                raise
            if migrate_indexes(dynamodb, spec, names[spec.logical_name]) and spec is ISSUES_TABLE:
                IssueStore(dynamodb, names[spec.logical_name]).backfill_ranks()
            continue
        if spec.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=names[spec.logical_name],
                TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
            )
    stream = physical_name(prefix, naming.EVENTS_STREAM)
    kinesis = client("kinesis")
    with _unless_restored("ResourceInUseException"):
        kinesis.create_stream(StreamName=stream, ShardCount=shards)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.1, "MaxAttempts": 50})
    bucket = physical_name(prefix, naming.EVENT_PAYLOADS_BUCKET)
    source_maps = physical_name(prefix, naming.SOURCE_MAPS_BUCKET)
    for name in (bucket, source_maps):
        with _unless_restored("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            client("s3").create_bucket(Bucket=name)
    event_bus = physical_name(prefix, naming.EVENT_BUS)
    client("events").create_event_bus(Name=event_bus)
    queue_url = client("sqs").create_queue(QueueName=physical_name(prefix, naming.DEAD_LETTER_QUEUE))["QueueUrl"]
    return Settings(
        projects_table=names[PROJECTS_TABLE.logical_name],
        issues_table=names[ISSUES_TABLE.logical_name],
        stream_positions_table=names[STREAM_POSITIONS_TABLE.logical_name],
        counters_table=names[COUNTERS_TABLE.logical_name],
        user_issues_table=names[USER_ISSUES_TABLE.logical_name],
        releases_table=names[RELEASES_TABLE.logical_name],
        events_stream=stream,
        event_payloads_bucket=bucket,
        source_maps_bucket=source_maps,
        dead_letter_queue_url=queue_url,
        event_bus=event_bus,
        alert_rules_table=names[ALERT_RULES_TABLE.logical_name],
        integrations_table=names[INTEGRATIONS_TABLE.logical_name],
    )
