"""The SDK's disk spool and its promise never to throw, without a collector."""

from __future__ import annotations

import atexit
import random
import sqlite3
from pathlib import Path
from typing import Any

import errata_sdk
from errata_sdk.client import Client
from errata_sdk.event import exception_chain
from errata_sdk.spool import Spool
from errata_sdk.transport import parse_rate_limits
from hypothesis import given, settings
from hypothesis import strategies as st


def test_the_spool_keeps_the_newest_within_its_budget_and_counts_what_it_dropped(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path), max_bytes=10_000)
    for n in range(30):
        spool.put("error", f"{n:04d}".encode() * 250)  # 1,000 bytes each
    assert spool.pending() == 10
    first = spool.next_ready(now=1e12, blocked=set())
    assert first is not None and first.body.startswith(b"0020")
    assert spool.take_drops() == {("error", "buffer_overflow"): 20}
    assert spool.take_drops() == {}


def test_a_second_spool_on_the_same_directory_sees_the_first_ones_envelopes(tmp_path: Path) -> None:
    Spool(str(tmp_path), max_bytes=1 << 20).put("error", b"survives a restart")
    envelope = Spool(str(tmp_path), max_bytes=1 << 20).next_ready(now=1e12, blocked=set())
    assert envelope is not None and envelope.body == b"survives a restart"


def test_rate_limit_headers_parse_per_category() -> None:
    limits = parse_rate_limits("60:error;transaction:organization, 10::project:quota, junk", now=1000.0)
    assert limits == {"error": 1060.0, "transaction": 1060.0, "": 1010.0}


class BrokenCause(Exception):
    @property  # type: ignore[override]
    def __cause__(self) -> BaseException | None:
        raise RuntimeError("no cause for you")


class Hostile:
    def __repr__(self) -> str:
        raise RuntimeError("repr refuses")

    def __str__(self) -> str:
        raise RuntimeError("str refuses")


def test_chains_that_loop_and_values_that_refuse_to_print_are_captured() -> None:
    first, second = ValueError("a"), KeyError("b")
    first.__cause__, second.__cause__ = second, first  # a loop
    values = exception_chain(first)
    assert [v["type"] for v in values] == ["KeyError", "ValueError"]
    broken = RuntimeError(Hostile())
    assert exception_chain(broken)[0]["value"].startswith("<unrepresentable")


def _self_referencing() -> list[Any]:
    loop: list[Any] = [1]
    loop.append(loop)
    return loop


hostile_values = st.one_of(
    st.builds(_self_referencing),
    st.text(max_size=20_000),
    st.binary(max_size=2_000),
    st.integers(),
    st.floats(allow_nan=True),
    st.builds(Hostile),
    st.recursive(st.lists(st.integers(), max_size=3), lambda children: st.lists(children, max_size=3), max_leaves=20),
    st.dictionaries(st.text(max_size=10), st.builds(Hostile), max_size=3),
)


@settings(max_examples=60, deadline=None)
@given(value=hostile_values)
def test_the_public_api_never_raises_on_hostile_values(tmp_path_factory: Any, value: Any) -> None:
    client = Client(
        errata_sdk.client.Options(dsn="http://key@127.0.0.1:9/1", buffer_dir=str(tmp_path_factory.mktemp("spool")))
    )
    client.transport._ensure_thread = lambda: None  # type: ignore[method-assign]  # nothing to send to
    errata_sdk.client.set_client(client)
    before = Client.internal_errors
    try:
        errata_sdk.set_tag(value, value)  # type: ignore[arg-type]
        errata_sdk.set_user({"id": value})
        errata_sdk.set_context("ctx", {"v": value})
        errata_sdk.add_breadcrumb(message=value, data=value)  # type: ignore[arg-type]
        errata_sdk.capture_message(value)  # type: ignore[arg-type]
        errata_sdk.capture_exception(ValueError(value))
        errata_sdk.capture_exception(BrokenCause(value))
    finally:
        errata_sdk.client.set_client(None)
        # Nothing can be sent from here: without this, each example's exit flush waited its 2 s (2 min in all).
        atexit.unregister(client._flush_at_exit)
    assert Client.internal_errors == before, "hostile values are handled, not swallowed as internal errors"


def _stored_bytes(directory: Path) -> tuple[int, int]:
    with sqlite3.connect(directory / "errata-spool.sqlite3") as db:
        (kept,) = db.execute("SELECT bytes FROM totals").fetchone()
        (summed,) = db.execute("SELECT COALESCE(SUM(size), 0) FROM envelopes").fetchone()
    return int(kept), int(summed)


def test_the_spool_size_is_kept_by_triggers_and_adopted_from_an_older_spool_file(tmp_path: Path) -> None:
    # A spool file written before the size was kept: the first Spool on it counts it once.
    with sqlite3.connect(tmp_path / "errata-spool.sqlite3") as db:
        db.execute(
            "CREATE TABLE envelopes (id INTEGER PRIMARY KEY AUTOINCREMENT, category TEXT NOT NULL, body BLOB NOT NULL, "
            "size INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, not_before REAL NOT NULL DEFAULT 0, "
            "created REAL NOT NULL)"
        )
        db.execute("INSERT INTO envelopes (category, body, size, created) VALUES ('error', x'00', 700, 0)")
    first, second = Spool(str(tmp_path), max_bytes=5_000), Spool(str(tmp_path), max_bytes=5_000)
    assert _stored_bytes(tmp_path) == (700, 700)
    for n in range(40):
        (first if n % 2 else second).put("error", b"x" * (100 + n))
    kept, summed = _stored_bytes(tmp_path)
    assert kept == summed <= 5_000
    envelope = first.claim_next(now=1e12, blocked=set())
    assert envelope is not None
    first.delete(envelope.id)
    assert _stored_bytes(tmp_path)[0] == _stored_bytes(tmp_path)[1]


def test_sampling_never_moves_the_applications_random_state(tmp_path: Path) -> None:
    """An SDK that draws from the global `random` changes what a seeded application computes (and, under
    Hypothesis, made every strategy draw in the process warn)."""
    client = Client(
        errata_sdk.client.Options(dsn="http://key@127.0.0.1:9/1", buffer_dir=str(tmp_path), sample_rate=0.5)
    )
    client.transport._ensure_thread = lambda: None  # type: ignore[method-assign]  # nothing to send to
    try:
        random.seed(1234)
        state = random.getstate()
        captured = [client.capture_message(f"sampled {n}") for n in range(50)]
        assert random.getstate() == state
        assert 5 < sum(event_id is not None for event_id in captured) < 45  # it did sample, from its own generator
    finally:
        atexit.unregister(client._flush_at_exit)
