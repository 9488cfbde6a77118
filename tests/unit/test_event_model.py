from datetime import UTC, datetime

from errata.models.event import SentryEvent


def test_fields_of_the_wrong_type_are_dropped_not_fatal() -> None:
    event = SentryEvent.model_validate(
        {
            "release": 123,
            "user": "not an object",
            "level": None,
            "exception": [{"type": "E", "value": 5, "stacktrace": {"frames": [{"lineno": "x", "function": "f"}]}}],
            "tags": [["a", 1], ["broken"]],
            "timestamp": 1795755935.5,
        }
    )
    assert event.release == "123"
    assert event.user is None
    assert event.level == "error"
    assert event.exceptions[0].value == "5"
    frame = event.exceptions[0].stacktrace.frames[0]  # type: ignore[union-attr]
    assert (frame.function, frame.lineno) == ("f", None)
    assert event.tags == {"a": "1"}
    assert event.timestamp == datetime.fromtimestamp(1795755935.5, UTC)


def test_legacy_message_object_and_user_identity() -> None:
    event = SentryEvent.model_validate({"message": {"formatted": "hi 1"}, "user": {"ip_address": "10.1.1.1"}})
    assert event.message_text == "hi 1"
    assert event.user is not None and event.user.identity() == "ip:10.1.1.1"
    assert SentryEvent.model_validate({"user": {"id": 7, "email": "a@b.c"}}).user.identity() == "id:7"  # type: ignore[union-attr]
