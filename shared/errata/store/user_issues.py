"""The user issues table: which issues a user hit, for support ("what broke for customer 42?").

    pk                                   sk          attributes
    <project>#id:<user id>               <issue id>  events (ADD), last_seen, expires_at
    <project>#email:<email>              <issue id>  ...
    <project>#ip:<ip address>            <issue id>  ...

One item per (identity, issue), written once per batch in the processor's transaction; a Query by pk
answers the search, never a Scan. Items expire 90 days after the user last hit the issue.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from errata.models.event import User
from errata.store.dynamo import decode_cursor, encode_cursor, query_page, to_item
from errata.store.tables import KeyAttribute, TableSpec
from errata.timefmt import iso_utc

USER_ISSUES_TABLE = TableSpec(
    logical_name="user_issues",
    partition_key=KeyAttribute("pk"),
    sort_key=KeyAttribute("issue_id"),
    ttl_attribute="expires_at",
)
RETENTION = timedelta(days=90)
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

    def issues_of(self, key: str, limit: int = 100) -> list[dict[str, Any]]:
        return self.page_of(key, limit)[0]

    def page_of(self, key: str, limit: int, cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """A page of the user's issues in issue id order, and the next page's cursor."""
        start = decode_cursor(cursor, ("pk", key), {"pk", "issue_id"}) if cursor else None
        items, last = query_page(
            self._dynamodb,
            limit=limit,
            start=start,
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_item({":pk": key}),
        )
        return items, encode_cursor(last)
