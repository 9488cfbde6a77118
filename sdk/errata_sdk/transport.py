"""Sends spooled envelopes from one background thread, and survives the collector being down.

Network errors and 5xx: the envelope stays on disk and is retried with exponential backoff and jitter.
429 or `X-Sentry-Rate-Limits`: nothing of that category is sent until the limit expires (the envelopes wait).
Other 4xx: the collector will never take it; it is dropped and counted. Drops are reported to the collector in
a `client_report`, as Sentry SDKs do.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from errata_sdk.dsn import Dsn
from errata_sdk.spool import Spool

# Our own generator: an SDK must not move the application's global random state (nor see it moved).
_RANDOM = random.Random()

logger = logging.getLogger("errata_sdk")
USER_AGENT = "errata.python/0.1.0"
_ALL = ""  # a rate limit with no categories applies to every category


def parse_rate_limits(header: str, now: float) -> dict[str, float]:
    """`60:error;transaction:organization, 10::project` -> {"error": now+60, "transaction": now+60, "": now+10}."""
    limits: dict[str, float] = {}
    for entry in header.split(","):
        fields = entry.strip().split(":")
        try:
            seconds = float(fields[0])
        except ValueError:
            continue
        categories = [c for c in (fields[1] if len(fields) > 1 else "").split(";") if c] or [_ALL]
        for category in categories:
            limits[category] = max(limits.get(category, 0.0), now + seconds)
    return limits


class Transport:
    def __init__(
        self,
        dsn: Dsn,
        spool: Spool,
        timeout: float = 5.0,
        max_backoff: float = 300.0,
        before_flush: Callable[[], None] | None = None,
        periodic_seconds: float = 60.0,
    ) -> None:
        self._before_flush = before_flush
        self._periodic_seconds = periodic_seconds
        self._last_periodic = time.monotonic()
        self._dsn = dsn
        self._spool = spool
        self._timeout = timeout
        self._max_backoff = max_backoff
        self._rate_limits: dict[str, float] = {}
        self._wakeup = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()
        os.register_at_fork(after_in_child=self.after_fork_in_child)

    # --- the caller's side -------------------------------------------------------------------------
    def enqueue(self, category: str, envelope: bytes) -> None:
        self._spool.put(category, envelope)
        self._ensure_thread()
        self._wakeup.set()

    def is_rate_limited(self, category: str, now: float | None = None) -> bool:
        moment = time.time() if now is None else now
        return max(self._rate_limits.get(category, 0.0), self._rate_limits.get(_ALL, 0.0)) > moment

    def flush(self, timeout: float) -> bool:
        """Waits until every envelope is sent, rate-limited categories aside (they wait for their limit);
        False when some are still on disk at the timeout, for example while the collector is down."""
        self._ensure_thread()
        if self._before_flush is not None:
            self._before_flush()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._wakeup.set()
            if self._spool.pending_outside(self._blocked()) == 0:
                return True
            time.sleep(0.02)
        return False

    def close(self, timeout: float) -> None:
        self.flush(timeout)
        self._stopped.set()
        self._wakeup.set()

    def after_fork_in_child(self) -> None:
        # The parent's sender thread does not exist in the child: start afresh, lazily.
        self._thread = None
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._wakeup = threading.Event()

    # --- the sender thread -------------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if os.getpid() != self._pid:
            self.after_fork_in_child()
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="errata-sdk-sender", daemon=True)
                self._thread.start()

    def _blocked(self) -> set[str]:
        now = time.time()
        if self._rate_limits.get(_ALL, 0.0) > now:
            return {"error", "transaction", "session", "internal", _ALL}
        return {category for category, until in self._rate_limits.items() if until > now}

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                if self._before_flush is not None and time.monotonic() - self._last_periodic > self._periodic_seconds:
                    self._last_periodic = time.monotonic()
                    self._before_flush()  # session aggregates go out once a minute
                self._send_reports()
                envelope = self._spool.claim_next(time.time(), self._blocked(), lease=self._timeout * 3)
                if envelope is None:
                    self._wakeup.wait(0.5)
                    self._wakeup.clear()
                    continue
                self._deliver(envelope.id, envelope.body, envelope.attempts)
            except Exception:
                logger.debug("errata sender loop failed", exc_info=True)
                time.sleep(0.5)

    def _deliver(self, envelope_id: int, body: bytes, attempts: int) -> None:
        status, headers = self._post(body)
        now = time.time()
        limits = headers.get("x-sentry-rate-limits")
        if limits:
            self._rate_limits.update(parse_rate_limits(limits, now))
        if status is not None and 200 <= status < 300:
            self._spool.delete(envelope_id)
        elif status == 429:
            self._spool.retry_later(envelope_id, now)  # waits for its category's limit, not for a lease
            if not limits:
                retry_after = headers.get("retry-after", "60")
                seconds = float(retry_after) if retry_after.replace(".", "", 1).isdigit() else 60.0
                self._rate_limits[_ALL] = now + seconds
        elif status is not None and 400 <= status < 500:
            logger.debug("errata collector refused an envelope (%s); dropping it", status)
            self._spool.delete(envelope_id)
            self._spool.record_drop("error", "send_error")
        else:  # connection refused, timeout, 5xx: keep it and back off
            delay = min(self._max_backoff, 2.0**attempts) * _RANDOM.uniform(0.5, 1.5)
            self._spool.retry_later(envelope_id, now + delay)

    def _post(self, body: bytes) -> tuple[int | None, dict[str, str]]:
        request = urllib.request.Request(  # noqa: S310 - the DSN's own scheme, http(s) only (Dsn.parse)
            self._dsn.envelope_url,
            data=gzip.compress(body),
            method="POST",
            headers={
                "Content-Type": "application/x-sentry-envelope",
                "Content-Encoding": "gzip",
                "User-Agent": USER_AGENT,
                "X-Sentry-Auth": self._dsn.auth_header(USER_AGENT),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                return response.status, {k.lower(): v for k, v in response.headers.items()}
        except urllib.error.HTTPError as error:
            return error.code, {k.lower(): v for k, v in (error.headers or {}).items()}
        except (OSError, ValueError):
            return None, {}

    def _send_reports(self) -> None:
        drops = self._spool.take_drops()
        if not drops:
            return
        report = {
            "timestamp": time.time(),
            "discarded_events": [
                {"reason": reason, "category": category, "quantity": count}
                for (category, reason), count in drops.items()
            ],
        }
        payload = json.dumps(report).encode()
        body = b"{}\n" + json.dumps({"type": "client_report", "length": len(payload)}).encode() + b"\n" + payload
        status, _ = self._post(body)
        if status is None or status >= 500:
            for (category, reason), count in drops.items():  # not delivered: count them again next time
                self._spool.record_drop(category, reason, count)
