"""A tumbling window's state (errata.processing.window): it carries its kept payloads as the gzip members the
object will hold, a payload kept under two names (a representative that is also a sample) being one member,
in the state and against the budget; and a state an earlier version handed back still decodes to the same
counts."""

from __future__ import annotations

import base64
import gzip
import json
from collections import Counter
from datetime import UTC, datetime

from errata.processing.aggregation import PendingTally, Tally
from errata.processing.window import WindowState, carried_bytes
from errata.store.event_payloads import payload_members


def _state_body(encoded: dict[str, object]) -> dict[str, object]:
    value: dict[str, object] = json.loads(gzip.decompress(base64.b64decode(str(encoded["z"]))))
    return value


def test_a_payload_kept_under_two_names_is_carried_and_counted_once() -> None:
    issue = ("1", "a1b2")
    latest = {"event_id": "e2", "message": "x" * 2000}
    members = payload_members({(issue, None): latest, (issue, 3): latest, (issue, 0): {"event_id": "e1"}})
    state = WindowState(payloads=members)

    assert carried_bytes(members) == len(members[issue, None]) + len(members[issue, 0])
    body = _state_body(state.encode())
    assert len(body["members"]) == 2  # type: ignore[arg-type]
    assert WindowState.decode(state.encode()).payloads == members


def test_a_state_encoded_before_members_were_shared_still_decodes() -> None:
    issue = ("1", "a1b2")
    members = payload_members({(issue, None): {"event_id": "e1"}})
    body = _state_body(WindowState(payloads=members).encode())
    body["payloads"] = [[list(issue), None, body["members"][0]]]  # type: ignore[index]
    del body["members"]
    earlier = {"v": 1, "z": base64.b64encode(gzip.compress(json.dumps(body).encode())).decode()}
    assert WindowState.decode(earlier).payloads == members


def test_a_state_with_minute_windows_decodes_to_its_hours_minute_counts() -> None:
    """Before an issue's minutes and tag values were counts in its hour item, a window summed minute
    windows and tag days apart, and the project's windows too (nothing read those)."""
    at = datetime(2026, 12, 8, 9, 59, 40, tzinfo=UTC)
    later = datetime(2026, 12, 8, 10, 0, 5, tzinfo=UTC)

    def pending(key: tuple[str, ...], moment: datetime, events: int) -> PendingTally:
        return PendingTally(sequence_number=9, key=key, tally=Tally(moment=moment, last=moment, events=events))

    earlier = WindowState(
        through=9,
        tallies={
            p.key: p
            for p in (
                pending(("window", "issue#1#ab", "minute", "m#2026-12-08T09:59"), at, 3),
                pending(("window", "issue#1#ab", "hour", "h#2026-12-08T09"), at, 3),
                pending(("window", "issue#1#ab", "minute", "m#2026-12-08T10:00"), later, 2),
                pending(("window", "issue#1#ab", "hour", "h#2026-12-08T10"), later, 2),
                pending(("window", "project#1", "minute", "m#2026-12-08T09:59"), at, 3),
                pending(("window", "project#1", "hour", "h#2026-12-08T09"), at, 3),
                PendingTally(
                    sequence_number=9,
                    key=("tags", "issue#1#ab", "t#2026-12-08"),
                    tally=Tally(moment=at, last=later, events=5, tag_values=Counter({("release", "api@1"): 5})),
                ),
            )
        },
    )
    decoded = WindowState.decode(earlier.encode())
    assert sorted(decoded.tallies) == [
        ("window", "issue#1#ab", "hour", "h#2026-12-08T09"),
        ("window", "issue#1#ab", "hour", "h#2026-12-08T10"),
    ]
    hours = [decoded.tallies["window", "issue#1#ab", "hour", f"h#2026-12-08T{h}"].tally for h in ("09", "10")]
    assert [(t.events, t.increments) for t in hours] == [(3, Counter(m59=3)), (2, Counter(m00=2))]
    assert [t.tag_values for t in hours] == [Counter(), Counter({("release", "api@1"): 5})]  # the day's latest hour
