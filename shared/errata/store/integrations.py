"""The integrations table: a project's code mappings, its source-control and tracker settings (secrets live in
SSM, see `store.secrets`), the webhook deliveries already recorded, and the tickets made for its issues.

    pk          sk                                  attributes
    <project>   code_mappings                       mappings (JSON of list[CodeMapping])
    <project>   integration#<kind>                  settings (JSON, no secret)
    <project>   delivery#<provider>#<delivery id>   expires_at (TTL: 30 days, longer than any redelivery)
    <project>   ticket#<issue>#<tracker>            state (creating|created), key, url, created_at, claimed_at

A delivery is claimed in the same transaction that records its deploy, so a replay records nothing and a
failed write leaves nothing claimed. A ticket is claimed before the tracker is called, so two clicks (or an
alert and a click) make one ticket.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from errata.models.integrations import CodeMapping, IntegrationKind, Ticket, Tracker
from errata.store.dynamo import from_item, query_all, to_item
from errata.store.tables import KeyAttribute, TableSpec
from errata.timefmt import iso_utc

INTEGRATIONS_TABLE = TableSpec(
    logical_name="integrations",
    partition_key=KeyAttribute("pk"),
    sort_key=KeyAttribute("sk"),
    ttl_attribute="expires_at",
)
_MAPPINGS = "code_mappings"
DELIVERY_DAYS = 30
TICKET_CLAIM_SECONDS = 60  # a claim older than this is from a caller that died: it may be taken over


class TicketInProgress(Exception):
    """Another caller is creating this ticket right now."""


class IntegrationStore:
    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def _get(self, project_id: str, sort_key: str) -> dict[str, Any] | None:
        response = self._dynamodb.get_item(
            TableName=self._table, Key=to_item({"pk": project_id, "sk": sort_key}), ConsistentRead=True
        )
        return from_item(response["Item"]) if "Item" in response else None

    def code_mappings(self, project_id: str) -> list[CodeMapping]:
        item = self._get(project_id, _MAPPINGS)
        return [CodeMapping.model_validate(m) for m in json.loads(item["mappings"])] if item else []

    def put_code_mappings(self, project_id: str, mappings: list[CodeMapping]) -> None:
        body = json.dumps([mapping.model_dump() for mapping in mappings])
        self._dynamodb.put_item(
            TableName=self._table, Item=to_item({"pk": project_id, "sk": _MAPPINGS, "mappings": body})
        )

    def delete_code_mappings(self, project_id: str) -> None:
        self._dynamodb.delete_item(TableName=self._table, Key=to_item({"pk": project_id, "sk": _MAPPINGS}))

    def integration(self, project_id: str, kind: IntegrationKind) -> dict[str, str] | None:
        item = self._get(project_id, f"integration#{kind}")
        return dict(json.loads(item["settings"])) if item else None

    def integrations(self, project_id: str) -> dict[str, dict[str, str]]:
        items = query_all(
            self._dynamodb,
            TableName=self._table,
            KeyConditionExpression="pk = :p AND begins_with(sk, :kind)",
            ExpressionAttributeValues=to_item({":p": project_id, ":kind": "integration#"}),
        )
        return {item["sk"].split("#", 1)[1]: json.loads(item["settings"]) for item in items}

    def put_integration(self, project_id: str, kind: IntegrationKind, settings: dict[str, str]) -> None:
        item = {"pk": project_id, "sk": f"integration#{kind}", "settings": json.dumps(settings)}
        self._dynamodb.put_item(TableName=self._table, Item=to_item(item))

    def delete_integration(self, project_id: str, kind: IntegrationKind) -> bool:
        response = self._dynamodb.delete_item(
            TableName=self._table,
            Key=to_item({"pk": project_id, "sk": f"integration#{kind}"}),
            ReturnValues="ALL_OLD",
        )
        return "Attributes" in response

    def delivery_claim(self, project_id: str, provider: str, delivery_id: str, now: datetime) -> dict[str, Any]:
        """A transaction item that fails when this delivery was recorded before."""
        expires = int((now + timedelta(days=DELIVERY_DAYS)).timestamp())
        return {
            "Put": {
                "TableName": self._table,
                "Item": to_item({"pk": project_id, "sk": f"delivery#{provider}#{delivery_id}", "expires_at": expires}),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def tickets(self, project_id: str, issue_id: str) -> list[Ticket]:
        items = query_all(
            self._dynamodb,
            TableName=self._table,
            KeyConditionExpression="pk = :p AND begins_with(sk, :issue)",
            ExpressionAttributeValues=to_item({":p": project_id, ":issue": f"ticket#{issue_id}#"}),
        )
        return [_ticket(item) for item in items if item.get("state") == "created"]

    def ticket(self, project_id: str, issue_id: str, tracker: Tracker) -> Ticket | None:
        item = self._get(project_id, f"ticket#{issue_id}#{tracker}")
        return _ticket(item) if item and item.get("state") == "created" else None

    def claim_ticket(self, project_id: str, issue_id: str, tracker: Tracker, now: datetime) -> Ticket | None:
        """Claims the right to create the ticket. Returns the existing ticket if there is one (nothing to
        create); raises TicketInProgress while another caller's fresh claim holds."""
        stale = iso_utc(now - timedelta(seconds=TICKET_CLAIM_SECONDS))
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item=to_item(
                    {
                        "pk": project_id,
                        "sk": f"ticket#{issue_id}#{tracker}",
                        "state": "creating",
                        "claimed_at": iso_utc(now),
                    }
                ),
                ConditionExpression="attribute_not_exists(pk) OR (#state = :creating AND claimed_at < :stale)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=to_item({":creating": "creating", ":stale": stale}),
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            existing = self.ticket(project_id, issue_id, tracker)
            if existing is None:
                raise TicketInProgress(f"a {tracker} ticket for this issue is being created") from None
            return existing
        return None

    def save_ticket(self, project_id: str, issue_id: str, ticket: Ticket) -> None:
        item = {
            "pk": project_id,
            "sk": f"ticket#{issue_id}#{ticket.tracker}",
            "state": "created",
            **ticket.model_dump(),
        }
        self._dynamodb.put_item(TableName=self._table, Item=to_item(item))

    def release_ticket_claim(self, project_id: str, issue_id: str, tracker: Tracker) -> None:
        """The tracker refused: the next call tries again."""
        self._dynamodb.delete_item(
            TableName=self._table,
            Key=to_item({"pk": project_id, "sk": f"ticket#{issue_id}#{tracker}"}),
            ConditionExpression="#state = :creating",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues=to_item({":creating": "creating"}),
        )


def _ticket(item: dict[str, Any]) -> Ticket:
    return Ticket(tracker=item["tracker"], key=item["key"], url=item["url"], created_at=item["created_at"])
