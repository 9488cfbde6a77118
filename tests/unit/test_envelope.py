import json
from pathlib import Path

import pytest

from errata.errors import InvalidEnvelope, InvalidPayload
from errata.protocol.envelope import parse_envelope, parse_json_object

SAMPLES = Path(__file__).parent.parent / "fixtures" / "envelopes"


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.envelope")), ids=lambda p: p.stem)
def test_real_sdk_envelopes_parse_into_typed_items(path: Path) -> None:
    envelope = parse_envelope(path.read_bytes())
    assert envelope.items, "every sample carries at least one item"
    for item in envelope.items:
        declared = item.headers.get("length")
        if declared is not None:
            assert len(item.payload) == declared
        assert isinstance(parse_json_object(item.payload, item.type), dict)


def test_chained_exception_sample_has_the_event_and_its_header_id() -> None:
    envelope = parse_envelope((SAMPLES / "01_event_chained_exception.envelope").read_bytes())
    assert envelope.headers["event_id"] == "d031e97cf8cb42f0a1076ce79ef4afc6"
    assert [item.type for item in envelope.items] == ["event"]
    event = json.loads(envelope.items[0].payload)
    assert [value["type"] for value in event["exception"]["values"]] == ["ValueError", "PaymentError"]


def test_items_without_length_run_to_the_newline_and_may_hold_newline_bytes_with_length() -> None:
    body = (
        b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}\n'
        b'{"type":"attachment","length":6}\nab\ncd\n\n'
        b'{"type":"event"}\n{"message":"hi"}\n'
    )
    envelope = parse_envelope(body)
    assert [(i.type, i.payload) for i in envelope.items] == [
        ("attachment", b"ab\ncd\n"),
        ("event", b'{"message":"hi"}'),
    ]


def test_an_empty_header_and_no_trailing_newline_are_fine() -> None:
    envelope = parse_envelope(b'{}\n{"type":"event","length":2}\n{}')
    assert envelope.headers == {}
    assert envelope.items[0].payload == b"{}"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty envelope"),
        (b"not json\n", "envelope header is not valid JSON: Expecting value: line 1 column 1 (char 0)"),
        (b"[1]\n", "envelope header is not a JSON object"),
        (b'{}\n{"length":2}\n{}', "item 1 has no type"),
        (b'{}\n{"type":"event","length":99}\n{}', "item 1 declares 99 bytes but only 2 remain"),
        (b'{}\n{"type":"event","length":-1}\n{}', "item 1 has an invalid length -1"),
        (b'{}\n{"type":"event","length":1}\n{}', "item 1 is not followed by a newline"),
        (b"{}\nnot-a-header\n", "header of item 1 is not valid JSON: Expecting value: line 1 column 1 (char 0)"),
    ],
)
def test_malformed_envelopes_are_rejected_with_the_reason(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidEnvelope) as raised:
        parse_envelope(body)
    assert raised.value.detail == reason
    assert raised.value.status_code == 400


@pytest.mark.parametrize("payload", [b"{nope", b"[1, 2]", b"\xff\xfe"])
def test_item_payloads_must_be_json_objects(payload: bytes) -> None:
    with pytest.raises(InvalidPayload):
        parse_json_object(payload, "event")
