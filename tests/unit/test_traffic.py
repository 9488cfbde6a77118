from errata.traffic import session_traffic, transaction_traffic


def test_request_mode_aggregates_count_sessions_errored_and_crashed() -> None:
    payload = {
        "attrs": {"release": "web@2.0.0", "environment": "prod"},
        "aggregates": [{"started": "x", "exited": 90, "errored": 7, "crashed": 3}, {"exited": -5}, "junk"],
    }
    assert session_traffic("sessions", payload) == [
        {"release": "web@2.0.0", "environment": "prod", "route": None, "sessions": 100, "errored": 7, "crashed": 3}
    ]


def test_an_application_session_counts_once_at_init_and_its_outcome() -> None:
    started = {"init": True, "status": "ok", "attrs": {"release": "cli@1.0"}}
    assert session_traffic("session", started)[0]["sessions"] == 1
    ended = {"init": False, "status": "exited", "errors": 2, "attrs": {"release": "cli@1.0"}}
    assert session_traffic("session", ended)[0] | {"sessions": 0} == {
        "release": "cli@1.0",
        "environment": None,
        "route": None,
        "sessions": 0,
        "errored": 1,
        "crashed": 0,
    }
    assert session_traffic("session", {"init": False, "status": "ok"}) == []


def test_a_transaction_is_one_request_of_its_route() -> None:
    assert transaction_traffic({"transaction": "GET /orders/{id}", "release": "web@2.0.0"}) == [
        {"release": "web@2.0.0", "environment": None, "route": "GET /orders/{id}", "requests": 1}
    ]
    assert transaction_traffic({"release": "web@2.0.0"}) == []
