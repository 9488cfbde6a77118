"""Reaching every issue: cursor pages over the sort indexes, the search box's syntax and filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.conftest import TestProject
from tests.integration.test_counts_users_releases import _rewrite
from tests.integration.test_processor_delivery import Shard, _deliver, _event_record

pytestmark = pytest.mark.integration


def _word(n: int) -> str:
    return "".join("ghijklmnop"[int(d)] for d in f"{n:03d}")


def test_cursor_pages_reach_every_issue_once(project: TestProject) -> None:
    shard = Shard()
    records = []
    for n in range(23):
        records += [_event_record(shard, project, f"job {_word(n)} failed") for _ in range(n + 1)]
    assert _deliver(records) == []
    seen: list[tuple[str, int]] = []
    cursor = None
    pages = 0
    while True:
        params = {"sort": "frequency", "limit": 5, **({"cursor": cursor} if cursor else {})}
        page = project.api("/issues", **params).json()
        seen += [(issue["id"], issue["count"]) for issue in page["issues"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 5
    assert len({issue_id for issue_id, _ in seen}) == 23
    assert [count for _, count in seen] == list(range(23, 0, -1))  # in order across pages


def test_a_cursor_of_another_project_or_altered_is_refused(project: TestProject) -> None:
    shard = Shard()
    assert _deliver([_event_record(shard, project, f"task {_word(n)} crashed") for n in range(3)]) == []
    cursor = project.api("/issues", limit=1).json()["next_cursor"]
    assert cursor
    other = project.api("/issues", limit=1, cursor=cursor.replace(cursor[5], "A" if cursor[5] != "A" else "B"))
    assert other.status_code == 400
    assert project.api("/issues", limit=1, cursor=cursor).status_code == 200


def test_search_by_status_release_user_and_text(project: TestProject) -> None:
    shard = Shard()
    checkout = [_event_record(shard, project, "checkout timeout", user="alice") for _ in range(2)]
    search = [_event_record(shard, project, "search index missing", user="bob")]
    for record in search:
        _rewrite(record, release="api@4.0.0", environment="staging", level="warning")
    assert _deliver(checkout + search) == []

    def titles(**params: str) -> list[str]:
        response = project.api("/issues", **params)
        assert response.status_code == 200, response.text
        return sorted(issue["title"] for issue in response.json()["issues"])

    assert titles(query="is:unresolved") == ["checkout timeout", "search index missing"]
    assert titles(query="release:api@4.0.0") == ["search index missing"]
    assert titles(query="user:alice") == ["checkout timeout"]
    assert titles(query="user:alice is:resolved") == []
    assert titles(query="index") == ["search index missing"]
    assert titles(environment="staging") == ["search index missing"]
    assert titles(level="warning", query="search") == ["search index missing"]
    assert titles(query='"checkout timeout" is:unresolved') == ["checkout timeout"]
    assert project.api("/issues", query="is:sleeping").status_code == 400


def test_filtered_pages_skip_nothing_and_repeat_nothing(project: TestProject) -> None:
    shard = Shard()
    records = []
    for n in range(30):
        verb = "failed" if n % 3 else "crashed"
        records += [_event_record(shard, project, f"worker {_word(n)} {verb}") for _ in range(n + 1)]
    assert _deliver(records) == []
    expected = sorted((n + 1 for n in range(30) if n % 3), reverse=True)
    counts: list[int] = []
    ids: set[str] = set()
    cursor = None
    while True:
        params = {"limit": 4, "query": "failed", **({"cursor": cursor} if cursor else {})}
        page = project.api("/issues", **params).json()
        counts += [issue["count"] for issue in page["issues"]]
        ids |= {issue["id"] for issue in page["issues"]}
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert counts == expected and len(ids) == len(expected)


@pytest.mark.parametrize("entries_a_query", [100, 3])
def test_filters_tested_on_the_items_page_across_queries_and_sorts(
    project: TestProject, monkeypatch: pytest.MonkeyPatch, entries_a_query: int
) -> None:
    """The indexes project the status alone: environment, level and text are tested on the items a page
    reads, a few index entries a Query (3: every page crosses several Queries), for every sort."""
    import errata.store.issues as issues_store

    monkeypatch.setattr(issues_store, "_MATCHING_ENTRIES", entries_a_query)
    shard = Shard()
    records = []
    for n in range(24):
        for _ in range(n + 1):
            record = _event_record(shard, project, f"queue {_word(n)} stalled")
            _rewrite(record, environment="staging" if n % 4 == 0 else "production", level="warning")
            records.append(record)
    assert _deliver(records) == []
    expected = sorted((n + 1 for n in range(24) if n % 4 == 0), reverse=True)
    for sort in ("frequency", "users", "impact", "recency"):
        counts: list[int] = []
        cursor = None
        while True:
            params = {"sort": sort, "limit": 2, "query": "environment:staging level:warning stalled"}
            page = project.api("/issues", **params, **({"cursor": cursor} if cursor else {})).json()
            counts += [issue["count"] for issue in page["issues"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(counts, reverse=True) == expected, sort  # every match once
        if sort == "frequency":
            assert counts == expected  # and in order
    assert project.api("/issues", query="environment:staging level:error").json()["issues"] == []


def test_sorting_by_impact_puts_the_issue_hitting_most_people_lately_first(project: TestProject) -> None:
    """Frequency would rank the noisy single-user job first; impact ranks the checkout error that reaches
    thirty customers, and a fatal crash of ten above a warning of ten."""
    shard = Shard()
    noisy = [_event_record(shard, project, "retry loop", user="cron") for _ in range(60)]
    checkout = [_event_record(shard, project, "checkout failed", user=f"customer-{n}") for n in range(30)]
    crash = [_event_record(shard, project, "worker crashed", user=f"worker-{n}") for n in range(10)]
    warning = [_event_record(shard, project, "slow query", user=f"reader-{n}") for n in range(10)]
    for record in crash:
        _rewrite(record, level="fatal")
    for record in warning:
        _rewrite(record, level="warning")
    assert _deliver(noisy + checkout + crash + warning) == []
    by_frequency = [issue["title"] for issue in project.issues(sort="frequency")]
    assert by_frequency[0] == "retry loop"
    by_impact = [issue["title"] for issue in project.issues(sort="impact")]
    assert by_impact == ["checkout failed", "worker crashed", "retry loop", "slow query"]
    page = project.api("/issues", sort="impact", limit=2).json()
    rest = project.api("/issues", sort="impact", limit=2, cursor=page["next_cursor"]).json()
    assert [issue["title"] for issue in page["issues"] + rest["issues"]] == by_impact
    filtered = project.api("/issues", sort="impact", limit=1, query="is:unresolved level:error").json()
    assert [issue["title"] for issue in filtered["issues"]] == ["checkout failed"]  # read past: cursor from a key
    after = project.api("/issues", sort="impact", limit=1, query="level:error", cursor=filtered["next_cursor"])
    assert [issue["title"] for issue in after.json()["issues"]] == ["retry loop"]


def _every_page(project: TestProject, path: str, field: str, **params: Any) -> list[list[Any]]:
    pages, cursor = [], None
    while True:
        response = project.api(path, **params, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body[field])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def test_releases_their_new_issues_and_a_users_issues_page_with_cursors(project: TestProject) -> None:
    shard = Shard()
    start = datetime.now(UTC) - timedelta(hours=2)
    records = []
    for n in range(7):  # release n first seen n minutes after the start, with issue n new in it
        record = _event_record(
            shard, project, f"fault {_word(n)}", user="dora", received_at=start + timedelta(minutes=n)
        )
        _rewrite(record, release=f"shop@1.{n}.0")
        records.append(record)
    for n in range(5):
        extra = _event_record(
            shard, project, f"late {_word(n)}", user="dora", received_at=start + timedelta(minutes=10 + n)
        )
        _rewrite(extra, release="shop@1.6.0")
        records.append(extra)
    assert _deliver(records) == []

    pages = _every_page(project, "/releases", "releases", limit=3)
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [r["version"] for page in pages for r in page] == [f"shop@1.{n}.0" for n in range(6, -1, -1)]
    pages = _every_page(project, "/releases/shop@1.6.0/issues", "issues", limit=4)
    titles = [issue["title"] for page in pages for issue in page]
    assert sorted(titles) == sorted([f"late {_word(n)}" for n in range(5)] + [f"fault {_word(6)}"])
    assert len(pages) == 2 and titles[0] == f"late {_word(4)}"  # newest first
    pages = _every_page(project, "/users/dora/issues", "issues", limit=5)
    assert [len(page) for page in pages] == [5, 5, 2]
    assert len({entry["issue"]["id"] for page in pages for entry in page}) == 12
    for path in ("/releases", "/releases/shop@1.6.0/issues", "/users/dora/issues"):
        assert project.api(path, cursor="bm90IGEgY3Vyc29y").status_code == 400
