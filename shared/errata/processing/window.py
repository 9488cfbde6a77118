"""The tumbling window's state: what one shard's invocations within a window have summed and not yet written.

With `TumblingWindowInSeconds` on the event source mapping, Lambda hands each invocation of a window the
state the previous one returned, checkpointed with the shard's position, and ends the window with an
invocation flagged `isFinalInvokeForWindow`; past 1 MB of state it ends the window early. A redelivered
invocation comes with the state checkpointed before it, so a state is a pure sum of the records up to its
`through` and a retry never adds twice (docs/decisions/0009-write-path-cost.md, step 9).

The processor folds each invocation's records into the state and writes each item once per window, at the
final invocation, marked with the window's last record (errata.store.shard_marks). What must not wait is
written at once: a new issue (visible, and announced, within its batch) and an issue whose status an event
may change (resolved or ignored); `written` remembers the mark those writes set, so the window's later sum
is added after it. The state is JSON (Lambda's TimeWindowEventResponse): gzip'd, with each user id once.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from errata.processing.aggregation import (
    IssueAggregate,
    LatestEvent,
    PendingIssue,
    PendingTally,
    Record,
    Tally,
    tally_of,
)
from errata.processing.staged import WriteKey
from errata.store.counters import MAX_USERS_PER_WINDOW, minute_attribute, window_key

STATE_VERSION = 1
# Lambda ends a window early past 1 MB of state (and a response may not pass 6 MB); the processor writes what
# it holds once the encoded state passes this, well before.
MAX_STATE_BYTES = 512 * 1024
# Kept payloads (gzip members) a window carries to write them in one object at its end, not one per
# invocation: at low rates an invocation holds a few events, and each PUT costs as much as eight write units.
# Past this much (busy shards, whose invocations fill one object each anyway) they are written at once.
MAX_CARRIED_PAYLOAD_BYTES = 128 * 1024
PayloadName = tuple[tuple[str, str], int | None]  # (issue, sample slot), the representative's slot None


def carried_bytes(payloads: dict[PayloadName, bytes]) -> int:
    """What carried payloads weigh, each distinct member once (a representative that is also a sample is one
    member in the object and in the state)."""
    return sum(len(member) for member in set(payloads.values()))


@dataclass
class WindowState:
    through: int | None = None  # the last sequence number summed (or skipped) in the window
    tallies: dict[WriteKey, PendingTally] = field(default_factory=dict)
    issues: dict[tuple[str, str], PendingIssue] = field(default_factory=dict)
    samples: dict[tuple[str, str], dict[int, str]] = field(default_factory=dict)  # slot references to point at
    written: dict[tuple[str, str], int] = field(default_factory=dict)  # issues written in the window, and the mark
    written_users: dict[tuple[str, str], int] = field(default_factory=dict)  # the user count those writes set
    recent: bytes | None = None  # the shard's recent event ids (errata.store.stream_positions), with the window's
    payloads: dict[PayloadName, bytes] = field(default_factory=dict)  # kept, not yet written (the latest each)

    @property
    def empty(self) -> bool:
        return not (self.tallies or self.issues or self.samples or self.payloads)

    def records(self) -> list[Record]:
        """The pending sums, as records to write."""
        return [*self.tallies.values(), *self.issues.values()]

    def folded(
        self,
        by_key: dict[WriteKey, list[Record]],
        through: int,
        representatives: dict[tuple[str, str], str],
        samples: dict[tuple[str, str], dict[int, str]],
        recent: bytes,
        payloads: dict[PayloadName, bytes],
    ) -> WindowState:
        """This state with the records `by_key` added (each key's records, pending sum first); `payloads` are
        the kept payloads it carries, and `representatives` and `samples` name those written."""
        state = WindowState(
            through=max(through, self.through or 0),
            tallies=dict(self.tallies),
            issues=dict(self.issues),
            samples={issue: dict(slots) for issue, slots in self.samples.items()},
            written=dict(self.written),
            written_users=dict(self.written_users),
            recent=recent,
            payloads=payloads,
        )
        for key, records in by_key.items():
            if key[0] == "issue":
                issue = (key[1], key[2])
                prior_issue = self.issues.get(issue)
                aggregate = IssueAggregate.of([prior_issue, *records] if prior_issue else records)
                state.issues[issue] = aggregate.pending(through, representatives.get(issue))
                continue
            prior_tally = self.tallies.get(key)
            tally = tally_of(key, [prior_tally, *records] if prior_tally else records)
            if key[0] == "window" and len(tally.users) > MAX_USERS_PER_WINDOW:
                tally.users = set(sorted(tally.users)[:MAX_USERS_PER_WINDOW])  # what the item lists (counters)
            state.tallies[key] = PendingTally(sequence_number=through, key=key, tally=tally)
        for issue, slots in samples.items():
            state.samples.setdefault(issue, {}).update(slots)
        for issue, reference in representatives.items():  # written with a later invocation's payloads
            if issue in state.issues:
                state.issues[issue] = replace(state.issues[issue], payload_key=reference)
        return state

    def encode(self) -> dict[str, Any]:
        users: dict[str, int] = {}
        members: dict[bytes, int] = {}  # each distinct payload member once, named by its index

        def ids(values: set[str]) -> list[int]:
            return [users.setdefault(user, len(users)) for user in sorted(values)]

        body = {
            "through": self.through,
            "tallies": [
                [
                    list(t.key),
                    t.sequence_number,
                    t.tally.moment.isoformat(),
                    t.tally.last.isoformat(),
                    t.tally.events,
                    ids(t.tally.users),
                    dict(t.tally.increments),
                    [[k, v, n] for (k, v), n in t.tally.tag_values.items()],
                ]
                for t in self.tallies.values()
            ],
            "issues": [
                [
                    p.sequence_number,
                    p.first_seen.isoformat(),
                    _latest_json(p.latest),
                    p.count,
                    p.first_release,
                    p.last_release,
                    ids(p.users),
                    p.releases,
                    p.payload_key,
                ]
                for p in self.issues.values()
            ],
            "samples": [
                [list(issue), {str(slot): ref for slot, ref in slots.items()}] for issue, slots in self.samples.items()
            ],
            "written": [[list(issue), mark, self.written_users.get(issue)] for issue, mark in self.written.items()],
            "recent": base64.b64encode(self.recent).decode() if self.recent is not None else None,
            "payloads": [
                [list(issue), slot, members.setdefault(m, len(members))] for (issue, slot), m in self.payloads.items()
            ],
            "members": [base64.b64encode(member).decode() for member in members],
            "users": list(users),
        }
        packed = gzip.compress(json.dumps(body, separators=(",", ":")).encode(), compresslevel=1)
        return {"v": STATE_VERSION, "z": base64.b64encode(packed).decode()}

    @classmethod
    def decode(cls, state: dict[str, Any] | None) -> WindowState:
        """The state Lambda handed back; an empty or unknown one is an empty window."""
        if not state or state.get("v") != STATE_VERSION or not isinstance(state.get("z"), str):
            return cls()
        body = json.loads(gzip.decompress(base64.b64decode(state["z"])))
        users: list[str] = body["users"]
        tallies = {}
        for key, sequence, moment, last, events, user_ids, increments, tag_values in body["tallies"]:
            pending = PendingTally(
                sequence_number=sequence,
                key=tuple(key),
                tally=Tally(
                    moment=datetime.fromisoformat(moment),
                    last=datetime.fromisoformat(last),
                    events=events,
                    users={users[i] for i in user_ids},
                    increments=Counter(increments),
                    tag_values=Counter({(k, v): n for k, v, n in tag_values}),
                ),
            )
            tallies[pending.key] = pending
        _into_hours(tallies)
        issues = {}
        for sequence, first_seen, latest, count, first_release, last_release, user_ids, releases, ref in body["issues"]:
            pending_issue = PendingIssue(
                sequence_number=sequence,
                first_seen=datetime.fromisoformat(first_seen),
                latest=_latest_of(latest),
                count=count,
                first_release=first_release,
                last_release=last_release,
                users={users[i] for i in user_ids},
                releases=releases,
                payload_key=ref,
            )
            issues[pending_issue.issue] = pending_issue
        return cls(
            through=body["through"],
            tallies=tallies,
            issues=issues,
            samples={(i[0], i[1]): {int(slot): ref for slot, ref in slots.items()} for i, slots in body["samples"]},
            written={(i[0], i[1]): mark for i, mark, _ in body["written"]},
            written_users={(i[0], i[1]): users for i, _, users in body["written"] if users is not None},
            recent=base64.b64decode(body["recent"]) if body["recent"] is not None else None,
            payloads=_payloads_of(body),
        )


def _into_hours(tallies: dict[WriteKey, PendingTally]) -> None:
    """A state from before an issue's minutes and tag values were counts in its hour (errata.store.counters)
    holds minute windows and tag days, and project windows nothing reads: each minute's events become its
    hour's minute count, each tag day's values its latest hour's (the events are in the hours already)."""
    for key in [k for k in tallies if (k[0] == "window" and k[2] == "minute") or k[0] == "tags"]:
        pending = tallies.pop(key)
        moment = pending.tally.moment if key[0] == "window" else pending.tally.last
        hour = tallies.get(("window", key[1], "hour", window_key(moment, "hour")))
        if hour is not None and key[1].startswith("issue#"):
            if key[0] == "window":
                hour.tally.increments[minute_attribute(moment)] += pending.tally.events
            hour.tally.tag_values.update(pending.tally.tag_values)
    for key in [k for k in tallies if k[0] == "window" and not k[1].startswith("issue#")]:
        del tallies[key]


def _payloads_of(body: dict[str, Any]) -> dict[PayloadName, bytes]:
    members = [base64.b64decode(m) for m in body.get("members", [])]
    # A state encoded before members were shared holds each payload's member in place of its index.
    return {
        ((i[0], i[1]), slot): members[m] if isinstance(m, int) else base64.b64decode(m)
        for i, slot, m in body.get("payloads", [])
    }


def _latest_json(latest: LatestEvent) -> dict[str, Any]:
    return {**vars(latest), "received_at": latest.received_at.isoformat()}


def _latest_of(values: dict[str, Any]) -> LatestEvent:
    return LatestEvent(**{**values, "received_at": datetime.fromisoformat(values["received_at"])})


def encoded_size(state: dict[str, Any]) -> int:
    return len(json.dumps(state))
