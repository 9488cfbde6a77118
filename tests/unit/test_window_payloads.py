"""A window carries its kept payloads as the gzip members the object will hold; a payload kept under two
names (a representative that is also a sample) is one member, in the state and against the budget."""

from __future__ import annotations

import base64
import gzip
import json

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
