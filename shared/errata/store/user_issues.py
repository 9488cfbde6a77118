"""The user issues table: which issues a user hit, for support ("what broke for customer 42?").

    pk                                   sk              attributes
    <project>#id:<user id>               <issue id>      events (ADD), last_seen, expires_at
    <project>#email:<email>              =<digest>       primary (= the user's id key), last_seen, expires_at
    <project>#ip:<ip address>            =<digest>       ...

An event's user is counted under one key, its primary identity: the id, else the email, else the IP. Its
other identities point at the primary (alias items, `=` sort keys). An alias is read before it is written
and written only when missing or not refreshed for ALIAS_REFRESH (its TTL is 90 days), at most once a day
per container (UserAliasCache): a read is a fifth of a write's price, and a container that starts again
meets every user again. A search by email or IP
reads the items under that key (issues hit while it was the primary) and follows its aliases. One Query per
key, never a Scan. Items expire 90 days after the user last hit the issue (aliases, after last written).
(Before aliases, every identity was counted: those items are still read.)
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any, Literal

from errata.models.event import User
from errata.store.dynamo import batch_get, decode_cursor, encode_cursor, query_page, to_item
from errata.store.tables import KeyAttribute, TableSpec
from errata.timefmt import iso_utc

USER_ISSUES_TABLE = TableSpec(
    logical_name="user_issues",
    partition_key=KeyAttribute("pk"),
    sort_key=KeyAttribute("issue_id"),
    ttl_attribute="expires_at",
)
RETENTION = timedelta(days=90)
ALIAS_REFRESH = timedelta(days=30)  # well inside RETENTION: a user seen monthly keeps its aliases
IdentityKind = Literal["id", "email", "ip"]


def user_key(project_id: str, kind: IdentityKind, value: str) -> str:
    return f"{project_id}#{kind}:{value}"


def identity_keys(project_id: str, user: User | None) -> list[str]:
    """Every way this event's user can be searched for."""
    if user is None:
        return []
    pairs: list[tuple[IdentityKind, str | None]] = [
        ("id", user.id),
        ("email", user.email),
        ("ip", user.ip_address),
    ]
    return [user_key(project_id, kind, value) for kind, value in pairs if value]


def primary_key(project_id: str, user: User | None) -> str | None:
    """The key the user's events are counted under: its strongest identity."""
    keys = identity_keys(project_id, user)
    return keys[0] if keys else None


def alias_keys(project_id: str, user: User | None) -> list[str]:
    """The user's other identities, which point at its primary key."""
    return identity_keys(project_id, user)[1:]


_ALIAS_PREFIX = "="
_ALIASES_FOLLOWED = 20  # a search follows at most this many identities an email or IP points at


def _alias_sort_key(primary: str) -> str:
    # A digest: the primary key can be as long as a sort key may be, and "=" would make it longer.
    return _ALIAS_PREFIX + hashlib.sha256(primary.encode()).hexdigest()[:32]


class UserAliasCache:
    """Aliases a container wrote today: writing one again changes nothing (it is a SET), so it is skipped."""

    def __init__(self, kept: int = 100_000) -> None:
        self._written: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._kept = kept
        self._lock = threading.Lock()

    def written_today(self, alias: str, primary: str, day: str) -> bool:
        with self._lock:
            return self._written.get((alias, primary)) == day

    def remember(self, alias: str, primary: str, day: str) -> None:
        with self._lock:
            self._written[(alias, primary)] = day
            self._written.move_to_end((alias, primary))
            while len(self._written) > self._kept:
                self._written.popitem(last=False)


class UserIssueStore:
    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def add_item(self, key: str, issue_id: str, events: int, last_seen: datetime) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._table,
                "Key": to_item({"pk": key, "issue_id": issue_id}),
                "UpdateExpression": "ADD events :events SET last_seen = :last_seen, expires_at = :expires_at",
                "ExpressionAttributeValues": to_item(
                    {
                        ":events": events,
                        ":last_seen": iso_utc(last_seen),
                        ":expires_at": int((last_seen + RETENTION).timestamp()),
                    }
                ),
            }
        }

    def alias_item(self, alias: str, primary: str, moment: datetime) -> dict[str, Any]:
        """An update pointing the identity `alias` at the primary key its user's events are counted under."""
        return {
            "Update": {
                "TableName": self._table,
                "Key": to_item({"pk": alias, "issue_id": _alias_sort_key(primary)}),
                "UpdateExpression": "SET #primary = :primary, last_seen = :last_seen, expires_at = :expires_at",
                "ExpressionAttributeNames": {"#primary": "primary"},
                "ExpressionAttributeValues": to_item(
                    {
                        ":primary": primary,
                        ":last_seen": iso_utc(moment),
                        ":expires_at": int((moment + RETENTION).timestamp()),
                    }
                ),
            }
        }

    def fresh_aliases(self, pairs: list[tuple[str, str]], now: datetime) -> set[tuple[str, str]]:
        """The (alias, primary) pairs stored and refreshed within ALIAS_REFRESH: writing them again would
        change nothing that matters (eventually consistent reads: an alias a moment old may be written twice)."""
        if not pairs:
            return set()
        wanted = {(alias, _alias_sort_key(primary)): (alias, primary) for alias, primary in pairs}
        items = batch_get(
            self._dynamodb,
            self._table,
            [{"pk": alias, "issue_id": sort_key} for alias, sort_key in wanted],
            projection="pk, issue_id, last_seen",
        )
        cutoff = iso_utc(now - ALIAS_REFRESH)
        return {
            wanted[(item["pk"], item["issue_id"])]
            for item in items
            if str(item.get("last_seen", "")) >= cutoff and (item["pk"], item["issue_id"]) in wanted
        }

    def issues_of(self, key: str, limit: int = 100) -> list[dict[str, Any]]:
        return self.page_of(key, limit)[0]

    def page_of(self, key: str, limit: int, cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """A page of the user's issues in issue id order, and the next page's cursor. The identities this
        key points at (aliases on the page) add their issues: the first `limit` of each, events summed."""
        start = decode_cursor(cursor, ("pk", key), {"pk", "issue_id"}) if cursor else None
        items, last = self._page(key, limit, start)
        issues: dict[str, dict[str, Any]] = {}
        primaries = [item["primary"] for item in items if item["issue_id"].startswith(_ALIAS_PREFIX)]
        pages = [items] + [self._page(primary, limit, None)[0] for primary in primaries[:_ALIASES_FOLLOWED]]
        for item in (item for page in pages for item in page):
            if item["issue_id"].startswith(_ALIAS_PREFIX):
                continue
            found = issues.setdefault(item["issue_id"], {"issue_id": item["issue_id"], "events": 0, "last_seen": ""})
            found["events"] += int(item.get("events", 0))
            found["last_seen"] = max(found["last_seen"], str(item.get("last_seen", "")))
        return sorted(issues.values(), key=lambda found: found["issue_id"]), encode_cursor(last)

    def _page(
        self, key: str, limit: int, start: dict[str, Any] | None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        return query_page(
            self._dynamodb,
            limit=limit,
            start=start,
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_item({":pk": key}),
        )
