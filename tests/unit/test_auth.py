import pytest

from errata.errors import MissingAuth
from errata.protocol.auth import parse_auth_header, sentry_key_from_request


def test_the_sentry_python_header_parses() -> None:
    header = "Sentry sentry_key=PUBLICKEY, sentry_version=7, sentry_client=sentry.python/2.75.0"
    assert parse_auth_header(header) == {
        "sentry_key": "PUBLICKEY",
        "sentry_version": "7",
        "sentry_client": "sentry.python/2.75.0",
    }


def test_header_wins_over_query_and_query_works_alone() -> None:
    assert sentry_key_from_request({"x-sentry-auth": "Sentry sentry_key=a"}, {"sentry_key": "b"}) == "a"
    assert sentry_key_from_request({}, {"sentry_key": "b", "sentry_version": "7"}) == "b"


@pytest.mark.parametrize("headers", [{}, {"x-sentry-auth": "Sentry sentry_version=7"}, {"x-sentry-auth": ""}])
def test_no_key_anywhere_is_missing_auth(headers: dict[str, str]) -> None:
    with pytest.raises(MissingAuth) as raised:
        sentry_key_from_request(headers, {})
    assert raised.value.status_code == 401
