"""The releases table: every release a project has sent events from.

pk            sk          attributes
<project>     <version>   first_seen (if_not_exists), last_seen, events (ADD), deployed_at, deploys (list),
                          user_sketch (HLL of the users its events hit), user_count, user_revision
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from errata.store.dynamo import (
    batch_get,
    batch_get_in_order,
    decode_cursor,
    encode_cursor,
    from_item,
    query_page,
    to_item,
    unchanged_since,
)
from errata.store.tables import GlobalIndex, KeyAttribute, TableSpec
from errata.timefmt import iso_utc

# Newest first, a page at a time: every release item has first_seen (events and deploys both set it).
# Keys only: a release item changes at every batch with its events (counts, last seen, its user sketch), and
# an index projecting it all was rewritten whole each time (half its write units at low rate); a page reads
# its items by key.
BY_FIRST_SEEN = GlobalIndex(
    "by_first_seen", KeyAttribute("project_id"), KeyAttribute("first_seen"), projection="KEYS_ONLY"
)
RELEASES_TABLE = TableSpec(
    logical_name="releases",
    partition_key=KeyAttribute("project_id"),
    sort_key=KeyAttribute("version"),
    indexes=(BY_FIRST_SEEN,),
)


@dataclass(frozen=True)
class ReleaseUsers:
    """A release's user sketch as read, and the revision its next write must find (None: no sketch yet)."""

    sketch: bytes | None
    revision: int | None


class ReleaseStore:
    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def seen_item(
        self,
        project_id: str,
        version: str,
        events: int,
        first_seen: datetime,
        last_seen: datetime,
        users: tuple[bytes, int, ReleaseUsers] | None = None,
    ) -> dict[str, Any]:
        """A TransactWriteItems entry adding a batch's events; with `users` (the merged sketch, its estimate,
        what was read), it replaces the sketch and fails if another writer replaced it since."""
        values: dict[str, Any] = {":first": iso_utc(first_seen), ":last": iso_utc(last_seen), ":events": events}
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": to_item({"project_id": project_id, "version": version}),
            "UpdateExpression": "SET first_seen = if_not_exists(first_seen, :first), last_seen = :last "
            "ADD events :events",
        }
        if users is not None:
            sketch, count, prior = users
            update["UpdateExpression"] = (
                "SET first_seen = if_not_exists(first_seen, :first), last_seen = :last, user_sketch = :sketch, "
                "user_count = :users ADD events :events, user_revision :one"
            )
            values.update({":sketch": sketch, ":users": count, ":one": 1})
            update["ConditionExpression"] = unchanged_since(
                prior.revision, values, absent="user_revision", attribute="user_revision"
            )
        update["ExpressionAttributeValues"] = to_item(values)
        return {"Update": update}

    def user_sketches(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], ReleaseUsers]:
        """The user sketch of each (project, version), consistent; a release not written yet has none."""
        items = batch_get(
            self._dynamodb,
            self._table,
            [{"project_id": project, "version": version} for project, version in sorted(set(keys))],
            projection="project_id, version, user_sketch, user_revision",
            consistent=True,
        )
        found = {
            (values["project_id"], values["version"]): ReleaseUsers(
                values.get("user_sketch"), int(values["user_revision"]) if "user_revision" in values else None
            )
            for values in items
        }
        return {key: found.get(key, ReleaseUsers(None, None)) for key in keys}

    def order(self, project_id: str, versions: list[str]) -> dict[str, str]:
        """When each release arrived: its deploy time when one was recorded, else first seen."""
        keys = [{"project_id": project_id, "version": v} for v in sorted(set(versions))]
        return {
            values["version"]: values.get("deployed_at") or values["first_seen"]
            for values in batch_get(self._dynamodb, self._table, keys)
        }

    def deploy_update(self, project_id: str, deploy: dict[str, Any], now: datetime) -> dict[str, Any]:
        """A deploy marks a release boundary: its time orders releases that are not semantic versions. As a
        transaction item, so a webhook's delivery claim and its deploy are written together."""
        return {
            "Update": {
                "TableName": self._table,
                "Key": to_item({"project_id": project_id, "version": deploy["release"]}),
                "UpdateExpression": "SET deployed_at = if_not_exists(deployed_at, :now), first_seen = if_not_exists("
                "first_seen, :now), last_seen = if_not_exists(last_seen, :now), deploys = list_append("
                "if_not_exists(deploys, :empty), :deploy) ADD events :zero",
                "ExpressionAttributeValues": to_item(
                    {":now": iso_utc(now), ":deploy": [{**deploy, "at": iso_utc(now)}], ":empty": [], ":zero": 0}
                ),
            }
        }

    def record_deploy(self, project_id: str, deploy: dict[str, Any], now: datetime) -> None:
        self._dynamodb.update_item(**self.deploy_update(project_id, deploy, now)["Update"])

    def deploys(self, project_id: str, version: str) -> list[dict[str, Any]]:
        response = self._dynamodb.get_item(
            TableName=self._table,
            Key=to_item({"project_id": project_id, "version": version}),
            ProjectionExpression="deploys",
        )
        deploys: list[dict[str, Any]] = from_item(response.get("Item") or {}).get("deploys", [])
        return deploys

    def releases(
        self, project_id: str, limit: int, cursor: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of the project's releases, newest first seen first, and the next page's cursor."""
        attributes = ("project_id", "version", "first_seen")
        start = decode_cursor(cursor, ("project_id", project_id), set(attributes)) if cursor else None
        items, last = query_page(
            self._dynamodb,
            limit=limit,
            start=start,
            key_attributes=attributes,
            TableName=self._table,
            IndexName=BY_FIRST_SEEN.name,
            KeyConditionExpression="project_id = :p",
            ExpressionAttributeValues=to_item({":p": project_id}),
            ScanIndexForward=False,
        )
        keys = [{"project_id": project_id, "version": key["version"]} for key in items]
        return batch_get_in_order(self._dynamodb, self._table, keys), encode_cursor(last)
