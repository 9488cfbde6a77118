"""Table definitions as data. The CDK stack and the local stack both build their tables from these specs, so
the key schemas cannot drift apart; each spec is owned by the module of its table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

AttributeType = Literal["S", "N", "B"]


@dataclass(frozen=True)
class KeyAttribute:
    name: str
    type: AttributeType = "S"


@dataclass(frozen=True)
class GlobalIndex:
    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None
    # KEYS_ONLY for sparse work-list indexes, whose readers fetch the item itself anyway; INCLUDE copies only
    # `included` besides the keys: a write that changes none of them (nor a key) writes no index entry.
    projection: Literal["ALL", "KEYS_ONLY", "INCLUDE"] = "ALL"
    included: tuple[str, ...] = ()

    def projection_request(self) -> dict[str, Any]:
        """CreateTable's `Projection` of this index."""
        if self.projection == "INCLUDE":
            return {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(self.included)}
        return {"ProjectionType": self.projection}


@dataclass(frozen=True)
class TableSpec:
    """`logical_name` names the table in CDK and the env var that carries its physical name."""

    logical_name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None
    indexes: tuple[GlobalIndex, ...] = field(default_factory=tuple)
    ttl_attribute: str | None = None

    @property
    def env_var(self) -> str:
        return f"ERRATA_{self.logical_name.upper()}_TABLE"

    def key_attributes(self) -> dict[str, AttributeType]:
        attributes = {self.partition_key.name: self.partition_key.type}
        if self.sort_key:
            attributes[self.sort_key.name] = self.sort_key.type
        for index in self.indexes:
            attributes[index.partition_key.name] = index.partition_key.type
            if index.sort_key:
                attributes[index.sort_key.name] = index.sort_key.type
        return attributes

    def create_table_request(self, table_name: str) -> dict[str, Any]:
        """Arguments for DynamoDB CreateTable, on-demand like the deployed table."""
        request: dict[str, Any] = {
            "TableName": table_name,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [
                {"AttributeName": name, "AttributeType": kind} for name, kind in self.key_attributes().items()
            ],
            "KeySchema": _key_schema(self.partition_key, self.sort_key),
        }
        if self.indexes:
            request["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": index.name,
                    "KeySchema": _key_schema(index.partition_key, index.sort_key),
                    "Projection": index.projection_request(),
                }
                for index in self.indexes
            ]
        return request


def _key_schema(partition_key: KeyAttribute, sort_key: KeyAttribute | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": partition_key.name, "KeyType": "HASH"}]
    if sort_key:
        schema.append({"AttributeName": sort_key.name, "KeyType": "RANGE"})
    return schema
