"""The alert-rules table: each project's rules, and when each rule last notified for each subject (the
action interval).

    pk                  sk                          attributes
    rules#<project>     rule#<rule id>              rule (JSON of AlertRule)
    rules#<project>     configured                  (present once the project set rules: defaults stop)
    fired#<project>     <rule id>#<subject>#<trigger>  fired_at (ISO), expires_at (TTL)

A project's rules are one Query; the interval is one conditional PutItem per (rule, subject, trigger), so
two evaluations of the same alert (a redelivered event, two evaluators) notify once, while a regression
is still told within the interval of the new-issue alert of the same rule.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from errata.alerts.rules import DEFAULT_RULES
from errata.models.alerts import AlertRule
from errata.store.dynamo import query_all, to_item
from errata.store.tables import KeyAttribute, TableSpec
from errata.timefmt import iso_utc

ALERT_RULES_TABLE = TableSpec(
    logical_name="alert_rules",
    partition_key=KeyAttribute("pk"),
    sort_key=KeyAttribute("sk"),
    ttl_attribute="expires_at",
)
_CONFIGURED = "configured"


def _rules_key(project_id: str) -> str:
    return f"rules#{project_id}"


def _put_rule_request(project_id: str, rule: AlertRule) -> dict[str, Any]:
    item = {"pk": _rules_key(project_id), "sk": f"rule#{rule.id}", "rule": rule.model_dump_json()}
    return {"PutRequest": {"Item": to_item(item)}}


class AlertRuleStore:
    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    def rules(self, project_id: str) -> tuple[list[AlertRule], bool]:
        """The project's rules, and whether they are the defaults (the project has not set its own)."""
        items = self._query(_rules_key(project_id))
        configured = any(item["sk"] == _CONFIGURED for item in items)
        if not configured:
            return list(DEFAULT_RULES), True
        rules = [AlertRule.model_validate_json(item["rule"]) for item in items if item["sk"].startswith("rule#")]
        return sorted(rules, key=lambda rule: rule.id), False

    def put_rule(self, project_id: str, rule: AlertRule) -> None:
        """Saving the first rule of a project replaces the defaults: they are copied in, then overwritten."""
        _, defaults = self.rules(project_id)
        writes = [rule] + ([r for r in DEFAULT_RULES if r.id != rule.id] if defaults else [])
        requests = [_put_rule_request(project_id, r) for r in writes]
        requests.append({"PutRequest": {"Item": to_item({"pk": _rules_key(project_id), "sk": _CONFIGURED})}})
        self._batch_write(requests)

    def delete_rule(self, project_id: str, rule_id: str) -> bool:
        rules, defaults = self.rules(project_id)
        if rule_id not in {rule.id for rule in rules}:
            return False
        requests: list[dict[str, Any]] = [
            _put_rule_request(project_id, r) for r in rules if defaults and r.id != rule_id
        ]
        requests.append({"DeleteRequest": {"Key": to_item({"pk": _rules_key(project_id), "sk": f"rule#{rule_id}"})}})
        requests.append({"PutRequest": {"Item": to_item({"pk": _rules_key(project_id), "sk": _CONFIGURED})}})
        self._batch_write(requests)
        return True

    def claim_interval(
        self, project_id: str, rule_id: str, subject: str, trigger: str, now: datetime, interval: timedelta
    ) -> bool:
        """True if (rule, subject, trigger) has not notified within `interval`: the caller may notify, and the claim
        is recorded. False when another notification already holds the interval."""
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item=to_item(
                    {
                        "pk": f"fired#{project_id}",
                        "sk": f"{rule_id}#{subject}#{trigger}",
                        "fired_at": iso_utc(now),
                        "expires_at": int((now + interval + timedelta(days=1)).timestamp()),
                    }
                ),
                ConditionExpression="attribute_not_exists(sk) OR fired_at <= :cutoff",
                ExpressionAttributeValues=to_item({":cutoff": iso_utc(now - interval)}),
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def release_interval(self, project_id: str, rule_id: str, subject: str, trigger: str) -> None:
        """Gives a claim back when its notification could not be sent, so a retry sends it."""
        self._dynamodb.delete_item(
            TableName=self._table, Key=to_item({"pk": f"fired#{project_id}", "sk": f"{rule_id}#{subject}#{trigger}"})
        )

    def fired(self, project_id: str, rule_id: str, subject: str) -> bool:
        """Whether (rule, subject) notified for any trigger (within the TTL): what a resolve follows up on."""
        response = self._dynamodb.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=to_item({":pk": f"fired#{project_id}", ":prefix": f"{rule_id}#{subject}#"}),
            ProjectionExpression="sk",
            Limit=1,
        )
        return bool(response.get("Items"))

    def _query(self, pk: str) -> list[dict[str, Any]]:
        return query_all(
            self._dynamodb,
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_item({":pk": pk}),
            ConsistentRead=True,
        )

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        for start in range(0, len(requests), 25):
            pending: dict[str, Any] = {self._table: requests[start : start + 25]}
            while pending:
                response = self._dynamodb.batch_write_item(RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}
