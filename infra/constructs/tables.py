"""DynamoDB tables built from the domain's `TableSpec`s: the specs the local stack creates its tables from."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from errata.naming import physical_name
from errata.store.tables import KeyAttribute, TableSpec
from infra.config import StageConfig

_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}


def _attribute(key: KeyAttribute) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=key.name, type=_TYPES[key.type])


def table_from_spec(scope: Construct, construct_id: str, spec: TableSpec, config: StageConfig) -> dynamodb.TableV2:
    return dynamodb.TableV2(
        scope,
        construct_id,
        table_name=physical_name(config.prefix, spec.logical_name),
        partition_key=_attribute(spec.partition_key),
        sort_key=_attribute(spec.sort_key) if spec.sort_key else None,
        billing=dynamodb.Billing.on_demand(),
        time_to_live_attribute=spec.ttl_attribute,
        global_secondary_indexes=[
            dynamodb.GlobalSecondaryIndexPropsV2(
                index_name=index.name,
                partition_key=_attribute(index.partition_key),
                sort_key=_attribute(index.sort_key) if index.sort_key else None,
                projection_type=getattr(dynamodb.ProjectionType, index.projection),
                non_key_attributes=list(index.included) or None,
            )
            for index in spec.indexes
        ]
        or None,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=config.point_in_time_recovery
        ),
        deletion_protection=config.is_production,
        removal_policy=config.removal_policy,
    )
