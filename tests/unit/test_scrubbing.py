import json
from pathlib import Path

import pytest

from errata.protocol.envelope import parse_envelope
from errata.scrubbing import FILTERED, scrub_event

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
