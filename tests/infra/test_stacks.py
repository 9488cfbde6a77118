"""The properties of the stacks that matter, asserted on the synthesized templates of dev and prod."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match

from errata.store.stream_positions import STREAM_POSITIONS_TABLE
from errata_local.aws import TABLES
from infra.config import SYSTEM_LOG_LEVEL
from tests.infra.conftest import SynthesizedStage


def _one(resources: dict[str, Any]) -> dict[str, Any]:
    assert len(resources) == 1, list(resources)
    return next(iter(resources.values()))


def _table(stage: SynthesizedStage, logical_name: str) -> dict[str, Any]:
    name = f"{stage.config.prefix}-{logical_name.replace('_', '-')}"
    return _one(stage.storage.find_resources("AWS::DynamoDB::GlobalTable", {"Properties": {"TableName": name}}))


def _role_statements(stage: SynthesizedStage, function_name: str, *, with_logs: bool = False) -> list[dict[str, Any]]:
    """Every statement of the inline policies attached to a function's role; without the one that lets it
    write its own logs unless asked (test_function_roles_write_only_their_own_log_group checks that one)."""
    functions = stage.services.find_resources(
        "AWS::Lambda::Function", {"Properties": {"FunctionName": f"{stage.config.prefix}-{function_name}"}}
    )
    role_ref = _one(functions)["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = stage.services.find_resources("AWS::IAM::Policy")
    statements = []
    for policy in policies.values():
        if {"Ref": role_ref} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    if with_logs:
        return statements
    return [s for s in statements if s["Action"] != ["logs:CreateLogStream", "logs:PutLogEvents"]]


def _kinesis_mapping(stage: SynthesizedStage) -> dict[str, Any]:
    mappings = stage.services.find_resources("AWS::Lambda::EventSourceMapping")
    return _one({k: m for k, m in mappings.items() if "EventsStream" in str(m["Properties"]["EventSourceArn"])})[
        "Properties"
    ]


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    actions: set[str] = set()
    for statement in statements:
        value = statement["Action"]
        actions.update([value] if isinstance(value, str) else value)
    return actions


def test_processor_event_source_is_bounded_bisecting_and_reports_partial_failures(
    stage: SynthesizedStage,
) -> None:
    processor = stage.config.processor
    mapping = _kinesis_mapping(stage)
    assert mapping["BatchSize"] == processor.batch_size
    assert mapping["MaximumBatchingWindowInSeconds"] == processor.batching_window_seconds
    # Counts summed over a window, written once at its end (new issues at once: errata.processing.window).
    assert mapping["TumblingWindowInSeconds"] == processor.tumbling_window_seconds == 30
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # Retried until the age limit (-1, CloudFormation's default when absent); the processor dead-letters a
    # record with its data at half that age, so the mapping's pointer-only give-up is a backstop.
    assert mapping.get("MaximumRetryAttempts", -1) == (
        -1 if processor.retry_attempts is None else processor.retry_attempts
    )
    assert mapping["MaximumRecordAgeInSeconds"] == processor.max_record_age_hours * 3600
    functions = stage.services.find_resources("AWS::Lambda::Function")
    process = next(f for f in functions.values() if f["Properties"]["FunctionName"].endswith("-process"))
    dead_letter_after = int(process["Properties"]["Environment"]["Variables"]["ERRATA_DEAD_LETTER_AFTER_SECONDS"])
    assert dead_letter_after == processor.max_record_age_hours * 3600 // 2
    assert mapping["ParallelizationFactor"] == 1
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    destination = mapping["DestinationConfig"]["OnFailure"]["Destination"]
    assert "DeadLetterQueue" in str(destination)


def test_prod_batches_differ_from_dev(stages: dict[str, SynthesizedStage]) -> None:
    sizes = {name: _kinesis_mapping(stage)["BatchSize"] for name, stage in stages.items()}
    assert sizes == {"dev": 100, "prod": 500, "small": 500}


def test_tables_are_on_demand_with_ttl_and_pitr_and_retain_only_in_prod(stage: SynthesizedStage) -> None:
    prod = stage.config.stage == "prod"
    assert len(stage.storage.find_resources("AWS::DynamoDB::GlobalTable")) == len(TABLES) == 8
    for spec in TABLES:
        table = _table(stage, spec.logical_name)
        properties = table["Properties"]
        assert properties["BillingMode"] == "PAY_PER_REQUEST"
        pitr = properties["Replicas"][0].get("PointInTimeRecoverySpecification", {})
        assert pitr.get("PointInTimeRecoveryEnabled", False) is prod
        assert table["DeletionPolicy"] == ("Retain" if prod else "Delete")
        assert (
            properties.get("DeletionProtectionEnabled", False) is prod
            or properties["Replicas"][0].get("DeletionProtectionEnabled", False) is prod
        )
    positions = _table(stage, STREAM_POSITIONS_TABLE.logical_name)["Properties"]
    assert positions["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_stream_is_encrypted_on_demand_in_dev_and_provisioned_in_prod(stage: SynthesizedStage) -> None:
    stream = _one(stage.storage.find_resources("AWS::Kinesis::Stream"))["Properties"]
    assert stream["StreamEncryption"] == {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"}
    if stage.config.stage == "prod":
        assert stream["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
        assert stream["ShardCount"] == 2
    else:
        assert stream["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
        assert "ShardCount" not in stream


def test_buckets_are_private_encrypted_expiring_and_deny_plain_http(stage: SynthesizedStage) -> None:
    buckets = stage.storage.find_resources("AWS::S3::Bucket")
    assert len(buckets) == 3  # payloads, source maps, access logs
    for bucket in buckets.values():
        properties = bucket["Properties"]
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"
        ] == {"SSEAlgorithm": "AES256"}
        assert properties["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] > 0
    policies = stage.storage.find_resources("AWS::S3::BucketPolicy")
    assert len(policies) == 3
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
        )
    payloads = stage.storage.find_resources(
        "AWS::S3::Bucket",
        {
            "Properties": {
                "BucketName": {"Fn::Join": ["", Match.array_with([Match.string_like_regexp("event-payloads")])]}
            }
        },
    )
    expiry = _one(payloads)["Properties"]["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"]
    assert expiry == stage.config.payload_retention_days


def test_ingest_may_put_records_on_one_stream_read_projects_and_count_its_quota(stage: SynthesizedStage) -> None:
    statements = _role_statements(stage, "ingest")
    assert _actions(statements) == {"kinesis:PutRecords", "dynamodb:GetItem", "dynamodb:UpdateItem"}
    for statement in statements:
        actions, resources = str(statement["Action"]), str(statement["Resource"])
        if "kinesis" in actions:
            assert actions == "kinesis:PutRecords"
            assert "EventsStream" in resources
        elif "UpdateItem" in actions:
            assert "CountersTable" in resources
            assert "ProjectsTable" not in resources
        else:
            assert "ProjectsTable" in resources or "CountersTable" in resources
    assert "IssuesTable" not in str(statements)


def test_processor_and_api_permissions_are_the_ones_their_code_uses(stage: SynthesizedStage) -> None:
    process = _role_statements(stage, "process")
    process_actions = _actions(process)
    assert {
        "dynamodb:BatchGetItem",
        "dynamodb:UpdateItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",  # grouping aliases
        "s3:PutObject",
        "s3:GetObject",  # source maps
        "s3:ListBucket",
    } <= process_actions
    assert {"sqs:SendMessage", "kinesis:GetRecords", "kinesis:GetShardIterator"} <= process_actions
    assert not {a for a in process_actions if a.endswith("*") or a in ("dynamodb:DeleteItem", "dynamodb:Scan")}
    assert "kinesis:PutRecords" not in process_actions
    api_actions = _actions(_role_statements(stage, "api"))
    assert api_actions == {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",  # PATCH of settings and issue status, deploys
        "s3:GetObject",
        "s3:PutObject",  # presigned artifact uploads
        "s3:ListBucket",  # a release's artifacts
        "dynamodb:PutItem",  # alert rules
        "dynamodb:BatchWriteItem",  # alert rules (the defaults copied in with the first rule)
        "dynamodb:DeleteItem",  # alert rules
        "events:PutEvents",  # Issue Resolved
        "ssm:PutParameter",  # integration secrets (tests/infra/test_alerting_stack.py checks the prefix)
        "ssm:GetParameter",
        "ssm:DeleteParameter",
    }
    assert "dynamodb:Query" not in process_actions, "the processor writes; only the API reads by query"


def test_functions_are_arm64_python312_with_json_logs_and_retention(stage: SynthesizedStage) -> None:
    functions = stage.services.find_resources("AWS::Lambda::Function")
    assert len(functions) == 5
    for function in functions.values():
        properties = function["Properties"]
        assert properties["Architectures"] == ["arm64"]
        assert properties["Runtime"] == "python3.12"
        assert properties["LoggingConfig"]["LogFormat"] == "JSON"
        # No START/END/REPORT lines for an invocation that succeeds (the cost bench prices none).
        assert properties["LoggingConfig"]["SystemLogLevel"] == SYSTEM_LOG_LEVEL == "WARN"
        assert len(properties["Layers"]) == 1
    retention = {7 if stage.config.stage == "dev" else 90}
    log_groups = stage.services.find_resources("AWS::Logs::LogGroup")
    function_logs = [g for name, g in log_groups.items() if "HttpApi" not in name]
    assert {g["Properties"]["RetentionInDays"] for g in function_logs} == retention


def test_function_roles_write_only_their_own_log_group(stage: SynthesizedStage) -> None:
    """AWSLambdaBasicExecutionRole allows logs:CreateLogGroup/PutLogEvents on "*": no role attaches it; each
    role's logs actions name its function's log group."""
    roles = stage.services.find_resources("AWS::IAM::Role")
    assert not [name for name, role in roles.items() if "ManagedPolicyArns" in role["Properties"]]
    for name in ("ingest", "process", "api", "alert", "notify"):
        statements = _role_statements(stage, name, with_logs=True)
        log_statements = [s for s in statements if any(a.startswith("logs:") for a in _actions([s]))]
        assert log_statements, name
        for statement in log_statements:
            assert statement["Resource"] != "*"
            assert "Logs" in json.dumps(statement["Resource"]), statement


def test_http_api_routes_throttling_and_access_logs(stage: SynthesizedStage) -> None:
    routes = {r["Properties"]["RouteKey"] for r in stage.services.find_resources("AWS::ApiGatewayV2::Route").values()}
    assert routes == {
        "POST /api/{project_id}/{proxy+}",
        "OPTIONS /api/{project_id}/{proxy+}",
        "ANY /api/projects/{proxy+}",
        "GET /api/openapi.json",
        "GET /",
        "GET /static/{name}",
        "POST /api/hooks/{proxy+}",  # more specific than ingest's /api/{project_id}/: API Gateway picks it
    }
    api_stage = _one(stage.services.find_resources("AWS::ApiGatewayV2::Stage"))["Properties"]
    assert api_stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == stage.config.throttle_rate
    assert api_stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == stage.config.throttle_burst
    assert "$context.requestId" in api_stage["AccessLogSettings"]["Format"]


def test_operator_alarms_notify_the_operations_topic(stage: SynthesizedStage) -> None:
    alarms = stage.services.find_resources("AWS::CloudWatch::Alarm")
    metrics = {alarm["Properties"]["MetricName"] for alarm in alarms.values()}
    assert metrics == {"IteratorAge", "ApproximateNumberOfMessagesVisible", "5xx", "Errors", "failed", "dead_lettered"}
    for alarm in alarms.values():
        assert "OperationsTopic" in str(alarm["Properties"]["AlarmActions"])
    subscriptions = stage.storage.find_resources("AWS::SNS::Subscription", {"Properties": {"Protocol": "email"}})
    endpoints = {s["Properties"]["Endpoint"] for s in subscriptions.values()}
    assert endpoints == {"oncall@example.com", "team@example.com"}
    assert len(stage.storage.find_resources("AWS::Events::EventBus")) == 1


def test_outputs_give_the_ingest_and_dashboard_urls(stage: SynthesizedStage) -> None:
    outputs = stage.services.find_outputs("*")
    assert {"IngestUrl", "DashboardUrl"} <= set(outputs)


def test_prod_signs_people_in_through_a_user_pool_and_dev_through_tokens(stages: dict[str, SynthesizedStage]) -> None:
    prod, dev = stages["prod"], stages["dev"]
    assert dev.storage.find_resources("AWS::Cognito::UserPool") == {}
    assert dev.services.find_resources("AWS::Cognito::UserPoolClient") == {}
    pool = _one(prod.storage.find_resources("AWS::Cognito::UserPool"))
    assert pool["DeletionPolicy"] == "Retain"
    properties = pool["Properties"]
    assert properties["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True  # invited, never self-signed
    assert properties["MfaConfiguration"] == "ON"
    assert properties["Policies"]["PasswordPolicy"]["MinimumLength"] >= 12
    groups = {g["Properties"]["GroupName"] for g in prod.storage.find_resources("AWS::Cognito::UserPoolGroup").values()}
    assert groups == {"errata:project:read", "errata:project:write", "errata:project:admin"}
    _one(prod.storage.find_resources("AWS::Cognito::UserPoolDomain"))
    client = _one(prod.services.find_resources("AWS::Cognito::UserPoolClient"))["Properties"]
    assert client["GenerateSecret"] is False  # it runs in the browser
    assert client["AllowedOAuthFlows"] == ["code"] and client["AllowedOAuthFlowsUserPoolClient"] is True
    assert "implicit" not in json.dumps(client)
    assert len(client["CallbackURLs"]) == 1 and "HttpApi" in json.dumps(client["CallbackURLs"])
    functions = prod.services.find_resources(
        "AWS::Lambda::Function", {"Properties": {"FunctionName": f"{prod.config.prefix}-api"}}
    )
    variables = _one(functions)["Properties"]["Environment"]["Variables"]
    assert {"ERRATA_COGNITO_ISSUER", "ERRATA_COGNITO_CLIENT_ID", "ERRATA_COGNITO_DOMAIN_URL"} <= set(variables)
    assert "ERRATA_COGNITO_JWKS_URL" not in variables  # on AWS: the issuer's own keys


def test_ingest_is_served_by_its_function_url_where_the_stage_chooses_it(stage: SynthesizedStage) -> None:
    """A function URL has no per-request charge (the HTTP API's $1.00 per million is a cost target's whole
    budget): prod takes it; the DSN's host is whichever the IngestUrl output names."""
    urls = stage.services.find_resources("AWS::Lambda::Url")
    output = json.dumps(stage.services.find_outputs("IngestUrl"))
    if stage.config.ingest_endpoint == "http_api":
        assert urls == {}
        assert "HttpApi" in output
        return
    url = _one(urls)["Properties"]
    assert url["AuthType"] == "NONE"  # the DSN key authenticates, in the function, as behind the API
    assert "Ingest" in json.dumps(url["TargetFunctionArn"])
    assert "FunctionUrl" in output and "HttpApi" not in output
    permissions = stage.services.find_resources(
        "AWS::Lambda::Permission", {"Properties": {"Action": "lambda:InvokeFunctionUrl"}}
    )
    assert _one(permissions)["Properties"]["FunctionUrlAuthType"] == "NONE"


def test_prod_takes_ingest_events_at_the_function_url(stages: dict[str, SynthesizedStage]) -> None:
    assert {name: stage.config.ingest_endpoint for name, stage in stages.items()} == {
        "dev": "http_api",
        "prod": "function_url",
        "small": "function_url",
    }


def test_the_small_team_profile_runs_on_one_provisioned_shard_with_a_short_window(
    stages: dict[str, SynthesizedStage],
) -> None:
    """A small team's fixed cost: one provisioned shard ($10.95 a month) instead of an on-demand stream
    ($29.20), ingest at the function URL, tokens for the dashboard (no user pool)."""
    small = stages["small"]
    stream = _one(small.storage.find_resources("AWS::Kinesis::Stream"))["Properties"]
    assert stream["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert stream["ShardCount"] == 1
    mapping = _kinesis_mapping(small)
    assert mapping["MaximumBatchingWindowInSeconds"] == 3  # new issues still visible within 5 s
    assert mapping["BatchSize"] == 500
    assert small.services.find_resources("AWS::Lambda::Url")
    assert not small.services.find_resources("AWS::Cognito::UserPool")
