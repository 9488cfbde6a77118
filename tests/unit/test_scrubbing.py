import json
from pathlib import Path

import pytest

from errata import scrubbing
from errata.protocol.envelope import parse_envelope
from errata.scrubbing import FILTERED, scrub_event, scrub_text
from errata.store.projects import new_api_token

SAMPLES = Path(__file__).parent.parent / "fixtures" / "envelopes"


def test_headers_cookies_and_secret_keys_are_filtered() -> None:
    event = {
        "request": {
            "headers": {"Authorization": "Bearer abc", "Cookie": "s=1", "Set-Cookie": "s=2", "Accept": "*/*"},
            "query_string": "page=2&api_key=k123&token=t",
            "url": "https://user:hunter2@example.com/x",
            "data": {"password": "p", "card": "4111 1111 1111 1111", "order_id": "1795755935702"},
        },
        "extra": {"secret_token": "s", "nested": {"aws_credentials": {"k": "v"}, "ok": "fine"}},
        "breadcrumbs": {"values": [{"message": "called with Authorization: Bearer eyJhbGciOi.x.y"}]},
        "tags": [["session_id", "abc"], ["env", "prod"]],
    }
    scrubbed = scrub_event(event)
    headers = scrubbed["request"]["headers"]
    assert headers == {"Authorization": FILTERED, "Cookie": FILTERED, "Set-Cookie": FILTERED, "Accept": "*/*"}
    assert scrubbed["request"]["query_string"] == "page=2&api_key=[Filtered]&token=[Filtered]"
    assert "hunter2" not in scrubbed["request"]["url"]
    assert scrubbed["request"]["data"] == {
        "password": FILTERED,
        "card": FILTERED,
        "order_id": "1795755935702",
    }
    assert scrubbed["extra"] == {
        "secret_token": FILTERED,
        "nested": {"aws_credentials": FILTERED, "ok": "fine"},
    }
    assert "eyJhbGciOi" not in json.dumps(scrubbed["breadcrumbs"])
    assert scrubbed["tags"] == [["session_id", FILTERED], ["env", "prod"]]
    assert event["request"]["headers"]["Authorization"] == "Bearer abc", "the input is left alone"


@pytest.mark.parametrize(
    "sample",
    ["01_event_chained_exception", "02_event_flask_request_user", "07_event_flask_real_http"],
)
def test_secrets_the_sdk_lets_through_are_gone_after_scrubbing(sample: str) -> None:
    envelope = parse_envelope((SAMPLES / f"{sample}.envelope").read_bytes())
    raw_text = envelope.items[0].payload.decode()
    scrubbed_text = json.dumps(scrub_event(json.loads(raw_text)))
    leaked = [s for s in ("qs-secret", "tok_live_abc", "hunter2", "4111111111111111") if s in raw_text]
    assert leaked, "each sample carries at least one secret the SDK did not filter"
    for secret in leaked:
        assert secret not in scrubbed_text
    assert "[Filtered]" in scrubbed_text


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("deploy with errata token {}", "TOKEN"),
        ("aws key AKIAIOSFODNN7EXAMPLE leaked", "AKIAIOSFODNN7EXAMPLE"),
        ("user said the password is hunter2x", "hunter2x"),
        ("ssn 078-05-1120 on file", "078-05-1120"),
        ("iban GB82 WEST 1234 5698 7654 32 paid", "GB82 WEST 1234 5698 7654 32"),
        ("https://cdn.example.com/f.js?sig=ABCDEF12345&v=2", "ABCDEF12345"),
    ],
)
def test_secrets_in_free_text_are_filtered(text: str, secret: str) -> None:
    if secret == "TOKEN":
        secret = new_api_token()
        text = text.format(secret)
    scrubbed = scrub_text(text)
    assert secret not in scrubbed
    assert FILTERED in scrubbed


def test_a_secret_found_once_is_filtered_wherever_else_it_appears() -> None:
    event = {
        "logentry": {
            "message": "login %s with password %s",
            "formatted": "login bob with password hunter2x",
            "params": ["bob", "hunter2x"],
        },
        "exception": {
            "values": [{"type": "E", "stacktrace": {"frames": [{"function": "login", "vars": {"x": "hunter2x"}}]}}]
        },
    }
    scrubbed = scrub_event(event)
    assert "hunter2x" not in json.dumps(scrubbed)
    assert scrubbed["logentry"]["params"][0] == "bob"
    assert scrubbed["exception"]["values"][0]["stacktrace"]["frames"][0]["function"] == "login"


def test_ordinary_words_and_numbers_are_left_alone() -> None:
    text = "KeyError: 'session_id' in passenger 42 at 2026-12-02 12:30:11 order 1234567890123"
    assert scrub_text(text) == text


def test_a_string_seen_clean_before_is_still_filtered_where_another_event_holds_its_secret() -> None:
    """Strings no rule changed are remembered per container and returned at once (scrubbing._CLEAN); a
    secret found elsewhere in a later event still reaches them, and a changed string is never remembered."""
    line = "retrying login for account hunter2-correct-horse"
    first = scrub_event({"message": line, "extra": {"note": "token=abc123456789"}})
    assert first["message"] == line
    assert first["extra"]["note"] == f"token={FILTERED}"
    assert (False, line) in scrubbing._CLEAN, "a string no rule changed is remembered"
    assert (False, "token=abc123456789") not in scrubbing._CLEAN, "a changed one never is"
    second = scrub_event({"message": line, "user": {"password": "hunter2-correct-horse"}})
    assert second["message"] == f"retrying login for account {FILTERED}"
    assert second["user"]["password"] == FILTERED
    third = scrub_event({"extra": {"note": "token=abc123456789"}})
    assert third["extra"]["note"] == f"token={FILTERED}"  # filtered again, not remembered as clean
    scrubbing._CLEAN.clear()
    assert scrub_event({"message": line}, scrub_ip_addresses=True)["message"] == line
