"""The embedded AWS's state on disk: what lets `make dev` keep its DSN, token, issues, counts and payloads
across a restart, and lose no acknowledged event when its process is killed.

moto keeps everything in memory and has no persistence of its own; its maintainers suggest pickling its
backends (getmoto/moto#1069). Two parts, in the data directory:

- **a snapshot** (`aws-state.pickle`) of the backends Errata keeps state in (DynamoDB, S3, SQS and the
  streams' shards), taken after writes, at most every second and never for more than a fifth of the time.
  The server forks while DynamoDB's writes are held (copy-on-write, as Redis' BGSAVE does) and the child
  pickles, so a request waits for the fork only, not for the pickling. A clean stop saves once more.
  The fork waits until no thread is importing a module: a module lock held by a thread that is not
  forked stays held in the child, and the child would wait on it forever (a server's first request to a
  service imports that service's models).
- **a journal** of the stream (`stream-journal.sqlite3`): every record Kinesis accepts is committed to
  SQLite before the PutRecords answer, which is what ingest's 200 waits for. The snapshot leaves the
  records out; a restore puts them back under their own sequence numbers.

A restore loads the snapshot, then the journal. The processor's shard positions are in the snapshot's
DynamoDB, so the stream poller, which starts at the oldest record, skips what the snapshot had counted and
counts the rest again, exactly once: after kill -9, what is lost is what was not acknowledged (and any API
change of the last second). Topics, rules and parameters are provisioned again at every start.

A snapshot is only read by the moto version that wrote it (pickles are not stable across versions); another
version's is set aside and the stack starts from the journal alone.
"""

from __future__ import annotations

import _imp
import copyreg
import ctypes
import gc
import importlib._bootstrap
import json
import os
import pickle
import re
import signal
import sqlite3
import sys
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import moto
from moto import backends
from moto.kinesis.models import KinesisBackend, Record, Stream
from moto.s3.models import FakeKey

from errata_local import moto_patches
from errata_local.aws import STATE_STATUS_PATH

SNAPSHOT_FILE = "aws-state.pickle"
LOG_FILE = "snapshots.log"
JOURNAL_FILE = "stream-journal.sqlite3"
PERSISTED_SERVICES = ("dynamodb", "s3", "sqs", "kinesis")
_FORMAT = f"moto {moto.__version__}, python {sys.version_info.major}.{sys.version_info.minor}"
MIN_SNAPSHOT_INTERVAL_SECONDS = 1.0
SNAPSHOT_TIMEOUT_SECONDS = 60.0
SNAPSHOT_DUTY = 5  # wait at least five times the last snapshot's CPU time before the next one
RETENTION_SECONDS = 24 * 3600  # Kinesis' default retention: older records leave the journal and the shard
_TRIM_EVERY_SECONDS = 60.0
# Actions that change nothing: the dispatcher's long polls, the poller's reads and the page's queries must
# not make an idle stack snapshot itself.
_READ_ACTION = re.compile(r"(Get|Query|Scan|Describe|List|Receive|BatchGet|TransactGet)")


def _fresh_lock(lock: Any) -> tuple[Callable[[], Any], tuple[()]]:
    return (threading.Lock, ())


def _fresh_rlock(lock: Any) -> tuple[Callable[[], Any], tuple[()]]:
    return (threading.RLock, ())


# moto's queues and keys hold locks; a restored one gets a fresh lock, released.
copyreg.pickle(type(threading.Lock()), _fresh_lock)
copyreg.pickle(type(threading.RLock()), _fresh_rlock)


def _backend(service: str) -> Any:
    return backends.get_backend(service)  # type: ignore[call-overload]


def _streams() -> Iterator[Stream]:
    for account in _backend("kinesis").values():
        for region_backend in account.values():
            yield from region_backend.streams.values()


class StreamJournal:
    """Every record the streams accepted, by account, region, stream, shard and sequence number."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False)
        # WAL with synchronous=NORMAL: a commit survives the process being killed (the OS has it), not a
        # power cut, which is what a local stack needs without an fsync per event.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS records (account TEXT, region TEXT, stream TEXT, shard TEXT,"
            " sequence INTEGER, partition_key TEXT, explicit_hash_key TEXT, data TEXT, created_at REAL,"
            " PRIMARY KEY (account, region, stream, shard, sequence))"
        )
        self._db.commit()

    def append(self, stream: Stream, shard_id: str, record: Record) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    stream.account_id,
                    stream.region,
                    stream.stream_name,
                    shard_id,
                    record.sequence_number,
                    record.partition_key,
                    record.explicit_hash_key,
                    record.data,
                    record.created_at,
                ),
            )

    def commit(self) -> None:
        with self._lock:
            self._db.commit()

    def replay(self, stream: Stream) -> int:
        """Puts back the journal's records the stream's shards lack, under their sequence numbers."""
        with self._lock:
            rows = self._db.execute(
                "SELECT shard, sequence, partition_key, explicit_hash_key, data, created_at FROM records"
                " WHERE account = ? AND region = ? AND stream = ? ORDER BY shard, sequence",
                (stream.account_id, stream.region, stream.stream_name),
            ).fetchall()
        replayed = 0
        with moto_patches.KINESIS_SHARDS_LOCK:
            for shard_id, sequence, partition_key, explicit_hash_key, data, created_at in rows:
                shard = stream.shards.get(shard_id)
                # Rows come in order; a shard holding records already (never, after a snapshot) keeps them.
                if shard is None or sequence <= next(reversed(shard.records), 0):
                    continue
                record = Record(partition_key, data, sequence, explicit_hash_key)
                record.created_at = created_at
                record.created_at_datetime = datetime.fromtimestamp(created_at, UTC).replace(tzinfo=None)
                shard.records[sequence] = record
                moto_patches.keep_last_sequence_number(shard, max(moto_patches.last_sequence_number(shard), sequence))
                replayed += 1
        return replayed

    def trim(self, before: float) -> None:
        with self._lock:
            self._db.execute("DELETE FROM records WHERE created_at < ?", (before,))
            self._db.commit()

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _trim_shards(before: float) -> None:
    with moto_patches.KINESIS_SHARDS_LOCK:
        for stream in _streams():
            for shard in stream.shards.values():
                moto_patches.keep_last_sequence_number(shard, moto_patches.last_sequence_number(shard))
                while shard.records and shard.records[next(iter(shard.records))].created_at < before:
                    del shard.records[next(iter(shard.records))]


class StateDirectory:
    """The moto server's data directory: restores at start, journals the stream, snapshots after writes."""

    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.snapshot_path = path / SNAPSHOT_FILE
        self.journal = StreamJournal(path / JOURNAL_FILE)
        self.log_path = path / LOG_FILE
        self._dirty = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._counts_lock = threading.Lock()
        self._written = 0  # state-changing requests answered
        self._saved = 0  # of those, how many the snapshot on disk holds
        self._snapshots = 0
        self._failures = 0
        self.last_snapshot_seconds = 0.0  # wall time, fork to file
        self.last_snapshot_cpu_seconds = 0.0  # the child's: what the pause before the next one is made of
        for service in PERSISTED_SERVICES:  # imported now, by this thread: a snapshot child imports nothing
            _backend(service)

    # -- start -----------------------------------------------------------------------------------------
    def restore(self) -> bool:
        """Loads the snapshot (if this moto wrote it) and the journal's records; True if a snapshot loaded."""
        loaded = False
        if self.snapshot_path.exists():
            with self.snapshot_path.open("rb") as file:
                saved = pickle.load(file)  # noqa: S301 - our own file, in the user's data directory
            if saved.get("format") == _FORMAT:
                for service, accounts in saved["backends"].items():
                    live = _backend(service)
                    live.clear()
                    live.update(accounts)
                loaded = True
            else:
                self.snapshot_path.replace(self.snapshot_path.with_suffix(".stale"))
        for stream in _streams():
            self.journal.replay(stream)
        return loaded

    def journal_streams(self) -> None:
        """Every accepted record goes to the journal, committed before PutRecord(s) answers; a stream
        created after a restore (none was in the snapshot) gets its journaled records back."""
        journal = self.journal
        put_record = Stream.put_record

        def journaled_put(stream: Stream, partition_key: str, explicit_hash_key: str, data: str) -> tuple[str, str]:
            sequence_number, shard_id = put_record(stream, partition_key, explicit_hash_key, data)
            journal.append(stream, shard_id, stream.shards[shard_id].records[int(sequence_number)])
            return sequence_number, shard_id

        Stream.put_record = journaled_put  # type: ignore[method-assign,assignment]
        for name in ("put_record", "put_records"):
            setattr(KinesisBackend, name, _then(getattr(KinesisBackend, name), journal.commit))
        create_stream = KinesisBackend.create_stream

        def create_and_replay(backend: KinesisBackend, *args: Any, **kwargs: Any) -> Stream:
            stream: Stream = create_stream(backend, *args, **kwargs)
            journal.replay(stream)
            return stream

        KinesisBackend.create_stream = create_and_replay  # type: ignore[method-assign,assignment]

    # -- while serving ---------------------------------------------------------------------------------
    def track_writes(self, app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        """WSGI middleware: a request that changed state marks it for the next snapshot once moto has
        answered it (marked before, a snapshot forked meanwhile would miss it and clear the mark), and
        `GET /_errata/state` tells how much of what was written the snapshot on disk holds."""

        def tracked(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            if environ.get("PATH_INFO") == STATE_STATUS_PATH:
                body = json.dumps(self.status()).encode()
                start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
                return [body]
            if not changes_state(environ):
                return app(environ, start_response)
            try:
                return app(environ, start_response)  # moto's app has done the action when it returns
            finally:
                with self._counts_lock:
                    self._written += 1
                self._dirty.set()

        return tracked

    def status(self) -> dict[str, Any]:
        with self._counts_lock:
            return {
                "written": self._written,
                "saved": self._saved,
                "snapshots": self._snapshots,
                "failures": self._failures,
                "last_snapshot_seconds": round(self.last_snapshot_seconds, 3),
            }

    def _log(self, message: str) -> None:
        """Snapshot failures go to the data directory (the server's own output is discarded)."""
        with self.log_path.open("a") as log:
            log.write(f"{datetime.now(UTC).isoformat(timespec='seconds')} {message}\n")

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="snapshots", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        last_trim = 0.0
        while not self._stopping.is_set():
            if time.monotonic() - last_trim > _TRIM_EVERY_SECONDS:
                self.trim()
                last_trim = time.monotonic()
            if not self._dirty.wait(timeout=_TRIM_EVERY_SECONDS) or self._stopping.is_set():
                continue
            # Let a burst of writes land first, and keep pickling to a fifth of a core at most (CPU time: a
            # child killed for hanging did no work to make room for).
            pause = max(MIN_SNAPSHOT_INTERVAL_SECONDS, SNAPSHOT_DUTY * self.last_snapshot_cpu_seconds)
            if self._stopping.wait(pause):
                return
            self._dirty.clear()
            started = time.monotonic()
            self.snapshot_in_child()
            self.last_snapshot_seconds = time.monotonic() - started

    def trim(self) -> None:
        before = time.time() - RETENTION_SECONDS
        _trim_shards(before)
        self.journal.trim(before)

    def snapshot_in_child(self) -> bool:
        """Forks and lets the child pickle; True once its snapshot is on disk. A child that fails or takes
        too long is logged and tried again; a stop kills it (the stop's snapshot is newer)."""
        server = os.getpid()
        deadline = time.monotonic() + SNAPSHOT_TIMEOUT_SECONDS
        while (forked := self._fork_when_no_import_runs()) is None:
            if self._stopping.wait(0.01):
                return False
            if time.monotonic() > deadline:  # an import that never ends: say so, and try again later
                self._log(f"an import ran for over {SNAPSHOT_TIMEOUT_SECONDS:.0f} s: {_imports_in_progress()}")
                self._counted(saved=None)
                return False
        pid, written = forked
        if pid == 0:  # the child: a frozen copy of the server's memory, and this thread alone
            code = 1
            try:
                gc.disable()  # a finalizer run here could wait for a lock a vanished thread held
                _die_with(server)
                _read_keys_without_their_locks()
                self._write_snapshot(f".{os.getpid()}.tmp")
                code = 0
            except BaseException:
                with suppress(BaseException):
                    self._log("snapshot failed:\n" + traceback.format_exc())
            finally:
                os._exit(code)
        deadline = time.monotonic() + SNAPSHOT_TIMEOUT_SECONDS
        while (ended := os.wait4(pid, os.WNOHANG))[0] == 0:
            if self._stopping.is_set() or time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                if not self._stopping.is_set():
                    self._log(f"snapshot took over {SNAPSHOT_TIMEOUT_SECONDS:.0f} s: killed")
                    self._counted(saved=None)
                return False
            time.sleep(0.02)
        _, status, usage = ended
        self.last_snapshot_cpu_seconds = usage.ru_utime + usage.ru_stime
        ok = os.waitstatus_to_exitcode(status) == 0
        self._counted(saved=written if ok else None)
        return ok

    def _fork_when_no_import_runs(self) -> tuple[int, int] | None:
        """(pid, writes the fork holds), or None while a thread is importing. Under the import lock no
        thread can start an import, so none is half done at the fork."""
        with _consistent():
            _imp.acquire_lock()
            try:
                if _imports_in_progress():
                    return None
                with self._counts_lock:
                    written = self._written  # every one of these was answered, so it is in the forked memory
                return os.fork(), written
            finally:  # in the parent and in the child, whose forking thread holds it too
                _imp.release_lock()

    def _counted(self, saved: int | None) -> None:
        with self._counts_lock:
            if saved is None:
                self._failures += 1
                self._dirty.set()  # try again (after the pause), not only once another write comes
            else:
                self._snapshots += 1
                self._saved = max(self._saved, saved)

    def stop(self) -> None:
        """A clean stop: the last snapshot, taken in this process (a child still pickling is killed)."""
        self._stopping.set()
        self._dirty.set()  # wakes the thread
        if self._thread is not None:
            self._thread.join(timeout=30)
        with _consistent():
            with self._counts_lock:
                written = self._written
            self._write_snapshot(".final.tmp", keep_records=True)
        self._counted(saved=written)
        self.journal.close()

    def _write_snapshot(self, suffix: str, keep_records: bool = False) -> None:
        kept: dict[int, Any] = {}
        for stream in _streams():  # the journal holds the records
            for shard in stream.shards.values():
                moto_patches.keep_last_sequence_number(shard, moto_patches.last_sequence_number(shard))
                kept[id(shard)] = (shard, shard.records)
                shard.records = OrderedDict()
        try:
            state = {
                "format": _FORMAT,
                "backends": {service: dict(_backend(service)) for service in PERSISTED_SERVICES},
            }
            temporary = self.snapshot_path.with_name(self.snapshot_path.name + suffix)
            with temporary.open("wb") as file:
                pickle.dump(state, file, protocol=pickle.HIGHEST_PROTOCOL)
                file.flush()
                os.fsync(file.fileno())
            temporary.replace(self.snapshot_path)
        finally:
            if keep_records:
                for shard, records in kept.values():
                    shard.records = records


# Looked up once, in the server: a forked child must not dlopen (a thread that held the loader's lock at the
# fork holds it forever in the child, and the child would wait forever).
_PRCTL = ctypes.CDLL("libc.so.6", use_errno=True).prctl if sys.platform.startswith("linux") else None


def _imports_in_progress() -> list[str]:
    """The modules some thread is importing: importlib keeps a lock per module while it is imported."""
    locks = importlib._bootstrap._module_locks  # type: ignore[attr-defined]
    return [name for name, lock in list(locks.items()) if lock() is not None]


def _die_with(server: int) -> None:
    """A snapshot child of a killed server must not write an old state over the next server's."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != server:
        os._exit(1)


def _key_state_without_lock(key: FakeKey) -> dict[str, Any]:
    state = key.__dict__.copy()
    buffer = state.pop("_value_buffer")
    try:
        buffer.seek(0)
        state["value"] = buffer.read()
    except ValueError:  # a deleted key's closed buffer, as moto's own __getstate__ allows
        state["value"] = ""
    state.pop("lock", None)
    return state


def _read_keys_without_their_locks() -> None:
    """In the forked child only. moto's FakeKey pickles its value under the key's lock; a request thread of
    the server that held one at the fork holds it forever in the child (threads are not forked), and the
    child would wait forever. The child is alone, so it reads without the lock."""
    FakeKey.__getstate__ = _key_state_without_lock  # type: ignore[method-assign,assignment]


def _then(method: Callable[..., Any], after: Callable[[], None]) -> Callable[..., Any]:
    def and_then(*args: Any, **kwargs: Any) -> Any:
        result = method(*args, **kwargs)
        after()
        return result

    return and_then


def _consistent() -> ExitStack:
    """No DynamoDB write or shard put half done: a batch's counts and its shard position move together."""
    held = ExitStack()
    held.enter_context(moto_patches.DYNAMODB_WRITES_LOCK)
    held.enter_context(moto_patches.KINESIS_SHARDS_LOCK)
    return held


def changes_state(environ: dict[str, Any]) -> bool:
    if environ.get("PATH_INFO", "").startswith("/moto-api"):
        return False
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:  # JSON protocols (DynamoDB, Kinesis, SQS): Service.Action
        return not _READ_ACTION.match(target.rpartition(".")[2])
    return environ.get("REQUEST_METHOD", "GET") not in {"GET", "HEAD", "OPTIONS"}
