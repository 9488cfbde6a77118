"""Stateless resources: the three functions, the HTTP API in front of them, the Kinesis event source, and the
alarms an operator needs. Each function gets exactly the permissions its code uses."""

from __future__ import annotations

import json

import jsii
from aws_cdk import CfnOutput, Duration, Fn, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk.aws_apigatewayv2_integrations import HttpLambdaIntegration
from cdk_nag import NagSuppressions
from constructs import Construct

from errata.alerts.routes import EVALUATOR_SCHEDULE, NOTIFICATION_BACKOFF_SECONDS, ROUTES
from errata.settings import (
    COGNITO_CLIENT_ID_ENV,
    COGNITO_DOMAIN_URL_ENV,
    COGNITO_ISSUER_ENV,
    DASHBOARD_URL_ENV,
    DEAD_LETTER_AFTER_ENV,
    DEAD_LETTER_QUEUE_ENV,
    EMAIL_TOPIC_ENV,
    EVENT_BUS_ENV,
    EVENT_PAYLOADS_BUCKET_ENV,
    EVENTS_STREAM_ENV,
    NOTIFICATION_BACKOFF_ENV,
    NOTIFICATIONS_QUEUE_ENV,
    PARAMETERS_PREFIX_ENV,
    SOURCE_MAPS_BUCKET_ENV,
)
from errata.store.alert_rules import ALERT_RULES_TABLE
from errata.store.counters import COUNTERS_TABLE
from errata.store.integrations import INTEGRATIONS_TABLE
from errata.store.issues import ISSUES_TABLE
from errata.store.projects import PROJECTS_TABLE
from errata.store.releases import RELEASES_TABLE
from errata.store.stream_positions import STREAM_POSITIONS_TABLE
from errata.store.user_issues import USER_ISSUES_TABLE
from infra.config import StageConfig
from infra.constructs.function import ErrataFunction, SharedLayer
from infra.constructs.queues import dead_letter_queue
from infra.stacks.storage import StorageStack


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogs:
    """HTTP API access logs as JSON: who called what, the status, and the integration's latency."""

    def __init__(self, destination: apigwv2.IAccessLogDestination) -> None:
        self._destination = destination

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigateway.AccessLogFormat:
        return apigateway.AccessLogFormat.custom(
            json.dumps(
                {
                    "requestId": "$context.requestId",
                    "ip": "$context.identity.sourceIp",
                    "method": "$context.httpMethod",
                    "path": "$context.path",
                    "status": "$context.status",
                    "responseLength": "$context.responseLength",
                    "integrationLatency": "$context.integrationLatency",
                    "integrationError": "$context.integrationErrorMessage",
                }
            )
        )


class ServicesStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        storage: StorageStack,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        layer = SharedLayer(self, "SharedLayer").layer

        self.ingest = ErrataFunction(
            self,
            "Ingest",
            config=config,
            name="ingest",
            layer=layer,
            memory_mb=512,
            timeout_seconds=10,
            reserved_concurrency=config.ingest_reserved_concurrency,
            environment={
                PROJECTS_TABLE.env_var: storage.projects_table.table_name,
                COUNTERS_TABLE.env_var: storage.counters_table.table_name,
                EVENTS_STREAM_ENV: storage.events_stream.stream_name,
            },
        ).function
        self.ingest.add_to_role_policy(
            iam.PolicyStatement(actions=["kinesis:PutRecords"], resources=[storage.events_stream.stream_arn])
        )
        storage.projects_table.grant(self.ingest, "dynamodb:GetItem")
        # The quota: read the project's minute count, record what it refused.
        storage.counters_table.grant(self.ingest, "dynamodb:GetItem", "dynamodb:UpdateItem")

        self.process = ErrataFunction(
            self,
            "Process",
            config=config,
            name="process",
            layer=layer,
            memory_mb=config.processor.memory_mb,
            timeout_seconds=config.processor.timeout_seconds,
            environment={
                ISSUES_TABLE.env_var: storage.issues_table.table_name,
                PROJECTS_TABLE.env_var: storage.projects_table.table_name,
                STREAM_POSITIONS_TABLE.env_var: storage.stream_positions_table.table_name,
                COUNTERS_TABLE.env_var: storage.counters_table.table_name,
                USER_ISSUES_TABLE.env_var: storage.user_issues_table.table_name,
                RELEASES_TABLE.env_var: storage.releases_table.table_name,
                EVENT_PAYLOADS_BUCKET_ENV: storage.event_payloads_bucket.bucket_name,
                SOURCE_MAPS_BUCKET_ENV: storage.source_maps_bucket.bucket_name,
                DEAD_LETTER_QUEUE_ENV: storage.dead_letter_queue.queue_url,
                EVENT_BUS_ENV: storage.event_bus.event_bus_name,
                DEAD_LETTER_AFTER_ENV: str(config.processor.max_record_age_hours * 3600 // 2),
            },
        ).function
        # PutItem: the alias that keeps an issue's events together across grouping configs.
        # PutItem: aliases. UpdateItem: the batch's transaction, and taking published events out of the outbox.
        storage.issues_table.grant(self.process, "dynamodb:BatchGetItem", "dynamodb:UpdateItem", "dynamodb:PutItem")
        # BatchGetItem: the position and the recent event ids; PutItem: the recent ids, in the transaction.
        storage.stream_positions_table.grant(
            self.process, "dynamodb:BatchGetItem", "dynamodb:UpdateItem", "dynamodb:PutItem"
        )
        for table in (storage.counters_table, storage.user_issues_table, storage.releases_table):
            table.grant(self.process, "dynamodb:UpdateItem")
        # minute counts (sampling) and the hour's user sketch (blast radius)
        storage.counters_table.grant(self.process, "dynamodb:BatchGetItem")
        storage.projects_table.grant(self.process, "dynamodb:GetItem")  # sample size per project
        storage.releases_table.grant(self.process, "dynamodb:BatchGetItem")  # release order, for regressions
        storage.event_bus.grant_put_events_to(self.process)
        self.process.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                resources=[storage.event_payloads_bucket.arn_for_objects("projects/*")],
            )
        )
        # Source maps and ProGuard mappings; PutObject: an artifact still in use is renewed (copied onto itself)
        # before the bucket's lifecycle expires it.
        self._grant_artifacts(storage, self.process, "s3:GetObject", "s3:PutObject")
        storage.dead_letter_queue.grant_send_messages(self.process)
        self.process.add_event_source(
            event_sources.KinesisEventSource(
                storage.events_stream,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=config.processor.batch_size,
                max_batching_window=Duration.seconds(config.processor.batching_window_seconds),
                bisect_batch_on_error=True,
                report_batch_item_failures=True,
                # Retries until the record's age limit: the processor dead-letters a record still failing at
                # half that age with its data (errata.processing); the mapping's own give-up keeps only its
                # sequence number, and is the backstop for a function that crashes or times out.
                retry_attempts=config.processor.retry_attempts,
                max_record_age=Duration.hours(config.processor.max_record_age_hours),
                parallelization_factor=config.processor.parallelization_factor,
                tumbling_window=(
                    Duration.seconds(config.processor.tumbling_window_seconds)
                    if config.processor.tumbling_window_seconds
                    else None
                ),
                on_failure=event_sources.SqsDlq(storage.dead_letter_queue),
            )
        )

        self.api = ErrataFunction(
            self,
            "Api",
            config=config,
            name="api",
            layer=layer,
            environment={
                ISSUES_TABLE.env_var: storage.issues_table.table_name,
                PROJECTS_TABLE.env_var: storage.projects_table.table_name,
                COUNTERS_TABLE.env_var: storage.counters_table.table_name,
                USER_ISSUES_TABLE.env_var: storage.user_issues_table.table_name,
                RELEASES_TABLE.env_var: storage.releases_table.table_name,
                EVENT_PAYLOADS_BUCKET_ENV: storage.event_payloads_bucket.bucket_name,
                SOURCE_MAPS_BUCKET_ENV: storage.source_maps_bucket.bucket_name,
                ALERT_RULES_TABLE.env_var: storage.alert_rules_table.table_name,
                INTEGRATIONS_TABLE.env_var: storage.integrations_table.table_name,
                EVENT_BUS_ENV: storage.event_bus.event_bus_name,
                PARAMETERS_PREFIX_ENV: self._parameters_prefix(config),
            },
        ).function
        storage.alert_rules_table.grant(
            self.api, "dynamodb:Query", "dynamodb:BatchWriteItem", "dynamodb:PutItem", "dynamodb:DeleteItem"
        )
        # Code mappings, integration settings, tickets; a webhook's delivery claim is a transaction's Put.
        storage.integrations_table.grant(
            self.api, "dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem"
        )
        self.api.add_to_role_policy(
            iam.PolicyStatement(  # integration secrets: written by the settings routes, read by hooks and tickets
                actions=["ssm:PutParameter", "ssm:GetParameter", "ssm:DeleteParameter"],
                resources=[self._parameter_arn(config, "integrations/*")],
            )
        )
        storage.event_bus.grant_put_events_to(self.api)  # Issue Resolved
        # The API signs upload URLs: the URL carries the API role's right to put the object.
        self._grant_artifacts(storage, self.api, "s3:PutObject")
        storage.issues_table.grant(
            self.api, "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:UpdateItem"
        )
        for table in (storage.counters_table, storage.user_issues_table, storage.releases_table):
            table.grant(self.api, "dynamodb:Query")
        storage.releases_table.grant(self.api, "dynamodb:UpdateItem")  # deploys
        storage.projects_table.grant(self.api, "dynamodb:GetItem", "dynamodb:UpdateItem")
        self.api.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[storage.event_payloads_bucket.arn_for_objects("projects/*")],
            )
        )

        self.http_api = self._http_api(config)
        for function in (self.process, self.api):
            function.add_environment(DASHBOARD_URL_ENV, f"{self.http_api.api_endpoint}/")
        if storage.user_pool is not None and storage.user_pool_domain is not None:
            self._dashboard_sign_in(storage.user_pool, storage.user_pool_domain)
        self._alerting(config, storage, layer)
        self._alarms(config, storage)
        self._suppress_scoped_wildcards()

        CfnOutput(
            self,
            "IngestUrl",
            value=self._ingest_endpoint(config),
            description="DSN host: <scheme>://<key>@<host>/<project>",
        )
        CfnOutput(self, "DashboardUrl", value=f"{self.http_api.api_endpoint}/")

    def _dashboard_sign_in(self, pool: cognito.UserPool, domain: cognito.UserPoolDomain) -> None:
        """The page's app client of the stage's user pool: a public client (no secret: it runs in the
        browser) with the authorization code grant and PKCE, sending people back to the dashboard only."""
        dashboard_url = f"{self.http_api.api_endpoint}/"
        client = cognito.UserPoolClient(
            self,
            "DashboardClient",
            user_pool=pool,
            user_pool_client_name="dashboard",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_srp=True),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL],
                callback_urls=[dashboard_url],
                logout_urls=[dashboard_url],
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            prevent_user_existence_errors=True,
            access_token_validity=Duration.hours(1),
            id_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(1),
        )
        self.api.add_environment(COGNITO_ISSUER_ENV, pool.user_pool_provider_url)
        self.api.add_environment(COGNITO_CLIENT_ID_ENV, client.user_pool_client_id)
        self.api.add_environment(COGNITO_DOMAIN_URL_ENV, domain.base_url())

    def _alerting(self, config: StageConfig, storage: StorageStack, layer: lambda_.ILayerVersion) -> None:
        """The alert function (rules, the minute evaluator) and the notifier, wired by the routes of
        errata.alerts.routes: the same rules the local stack creates."""
        self.alert = ErrataFunction(
            self,
            "Alert",
            config=config,
            name="alert",
            layer=layer,
            timeout_seconds=50,
            environment={
                ALERT_RULES_TABLE.env_var: storage.alert_rules_table.table_name,
                ISSUES_TABLE.env_var: storage.issues_table.table_name,
                COUNTERS_TABLE.env_var: storage.counters_table.table_name,
                EVENT_BUS_ENV: storage.event_bus.event_bus_name,
                DASHBOARD_URL_ENV: f"{self.http_api.api_endpoint}/",
            },
        ).function
        storage.alert_rules_table.grant(
            self.alert, "dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:GetItem"
        )
        # Query: issues that moved (by_recency) and the outbox index; UpdateItem: clear what was published.
        storage.issues_table.grant(self.alert, "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:UpdateItem")
        storage.counters_table.grant(self.alert, "dynamodb:Query", "dynamodb:GetItem", "dynamodb:BatchGetItem")
        storage.event_bus.grant_put_events_to(self.alert)

        parameters_prefix = self._parameters_prefix(config)
        self.notify = ErrataFunction(
            self,
            "Notify",
            config=config,
            name="notify",
            layer=layer,
            timeout_seconds=30,
            environment={
                EMAIL_TOPIC_ENV: storage.email_topic.topic_arn,
                NOTIFICATIONS_QUEUE_ENV: storage.notifications_queue.queue_url,
                PARAMETERS_PREFIX_ENV: parameters_prefix,
                NOTIFICATION_BACKOFF_ENV: str(NOTIFICATION_BACKOFF_SECONDS),
                INTEGRATIONS_TABLE.env_var: storage.integrations_table.table_name,
            },
        ).function
        # A rule's jira/linear action: the tracker settings and the ticket claim.
        storage.integrations_table.grant(
            self.notify, "dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem"
        )
        storage.email_topic.grant_publish(self.notify)
        self.notify.add_to_role_policy(
            iam.PolicyStatement(  # a rule's raw SNS action: topics of this stage only
                actions=["sns:Publish"],
                resources=[f"arn:{self.partition}:sns:{self.region}:{self.account}:{config.prefix}-*"],
            )
        )
        self.notify.add_to_role_policy(
            iam.PolicyStatement(  # Slack webhook URLs, PagerDuty routing keys, tracker tokens (SecureString)
                actions=["ssm:GetParameter"],
                resources=[self._parameter_arn(config, "*")],
            )
        )
        storage.notifications_queue.grant(self.notify, "sqs:ChangeMessageVisibility")  # backoff
        self.notify.add_event_source(
            event_sources.SqsEventSource(storage.notifications_queue, batch_size=10, report_batch_item_failures=True)
        )

        # Beside the rule that feeds it: a queue policy in the storage stack naming the rule would be a cycle.
        self.alert_dead_letters = dead_letter_queue(
            self,
            "AlertFunctionDeadLetters",
            queue_name=f"{config.prefix}-alert-dead-letters",
            holds="domain events the alert function failed on",
            removal_policy=config.removal_policy,
        )
        route_targets: dict[str, events.IRuleTarget] = {
            "alert_function": targets.LambdaFunction(
                self.alert,
                retry_attempts=2,
                max_event_age=Duration.hours(1),
                dead_letter_queue=self.alert_dead_letters,
            ),
            "page_topic": targets.SnsTopic(storage.page_topic),
            "notify_topic": targets.SnsTopic(storage.notify_topic),
        }
        for route in ROUTES:
            events.Rule(
                self,
                f"{route.name}Rule",
                event_bus=storage.event_bus,
                description=route.description,
                event_pattern=events.EventPattern(
                    source=route.pattern["source"],
                    detail_type=route.pattern["detail-type"],
                    detail=route.pattern.get("detail"),
                ),
                targets=[route_targets[route.target]],
            )
        events.Rule(
            self,
            "MinuteEvaluatorSchedule",
            description="The minute evaluator: outbox, spikes, frequency, impact, release health",
            schedule=events.Schedule.expression(EVALUATOR_SCHEDULE),
            targets=[targets.LambdaFunction(self.alert, retry_attempts=0)],
        )

    @staticmethod
    def _parameters_prefix(config: StageConfig) -> str:
        return f"/errata/{config.stage}"

    def _parameter_arn(self, config: StageConfig, pattern: str) -> str:
        prefix = self._parameters_prefix(config)
        return f"arn:{self.partition}:ssm:{self.region}:{self.account}:parameter{prefix}/{pattern}"

    @staticmethod
    def _grant_artifacts(storage: StorageStack, function: lambda_.IFunction, *object_actions: str) -> None:
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=list(object_actions), resources=[storage.source_maps_bucket.arn_for_objects("projects/*")]
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[storage.source_maps_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": ["projects/*"]}},
            )
        )

    def _ingest_endpoint(self, config: StageConfig) -> str:
        """Where SDKs send events: the HTTP API's ingest routes, or the ingest function's own URL (no
        per-request charge; the function answers its own CORS preflight and 404s, as behind the API)."""
        if config.ingest_endpoint == "http_api":
            return self.http_api.api_endpoint
        url = self.ingest.add_function_url(auth_type=lambda_.FunctionUrlAuthType.NONE)
        # "https://<host>/": the output is the URL without the "/", as the HTTP API's endpoint is.
        return Fn.join("", ["https://", Fn.select(2, Fn.split("/", url.url))])

    def _http_api(self, config: StageConfig) -> apigwv2.HttpApi:
        http_api = apigwv2.HttpApi(self, "HttpApi", api_name=f"{config.prefix}-api", create_default_stage=False)
        access_logs = logs.LogGroup(
            self,
            "HttpApiAccessLogs",
            log_group_name=f"/aws/apigateway/{config.prefix}-api",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=config.removal_policy,
        )
        apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=http_api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=config.throttle_rate, burst_limit=config.throttle_burst),
            access_log_settings=_AccessLogs(apigwv2.LogGroupLogDestination(access_logs)),
        )
        ingest = HttpLambdaIntegration("IngestIntegration", self.ingest)
        dashboard = HttpLambdaIntegration("ApiIntegration", self.api)
        # HTTP API route keys cannot end in "/": the greedy segment takes `envelope/` and `store/`.
        http_api.add_routes(
            path="/api/{project_id}/{proxy+}",
            methods=[apigwv2.HttpMethod.POST, apigwv2.HttpMethod.OPTIONS],
            integration=ingest,
        )
        http_api.add_routes(path="/api/projects/{proxy+}", methods=[apigwv2.HttpMethod.ANY], integration=dashboard)
        # Deploy webhooks: GitHub and GitLab sign them; the function verifies (no bearer token).
        http_api.add_routes(path="/api/hooks/{proxy+}", methods=[apigwv2.HttpMethod.POST], integration=dashboard)
        http_api.add_routes(path="/api/openapi.json", methods=[apigwv2.HttpMethod.GET], integration=dashboard)
        http_api.add_routes(path="/", methods=[apigwv2.HttpMethod.GET], integration=dashboard)
        http_api.add_routes(path="/static/{name}", methods=[apigwv2.HttpMethod.GET], integration=dashboard)
        NagSuppressions.add_resource_suppressions(
            http_api,
            [
                {
                    "id": "AwsSolutions-APIG4",
                    "reason": "Ingest authenticates by the DSN public key (Sentry protocol) and the "
                    "dashboard API by bearer token, both checked in the functions; an API Gateway "
                    "authorizer cannot express 'header or query string' key auth.",
                }
            ],
            apply_to_children=True,
        )
        return http_api

    def _alarms(self, config: StageConfig, storage: StorageStack) -> None:
        five_minutes = Duration.minutes(5)
        alarms = {
            "ProcessorIteratorAge": (
                "The processor is falling behind the events stream.",
                self.process.metric("IteratorAge", statistic="Maximum", period=Duration.minutes(1)),
                config.iterator_age_alarm_seconds * 1000,
                5,
            ),
            "DeadLetterQueueDepth": (
                "Records were dead-lettered: poison records or retries exhausted.",
                storage.dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=five_minutes, statistic="Maximum"
                ),
                0,
                1,
            ),
            "Api5xx": (
                "The HTTP API answered 5xx: ingest or the dashboard API failed.",
                self.http_api.metric_server_error(period=five_minutes, statistic="Sum"),
                0,
                1,
            ),
            "ProcessorErrors": (
                "The processor function failed invocations (batches will be retried).",
                self.process.metric_errors(period=five_minutes, statistic="Sum"),
                0,
                1,
            ),
            # Partial batch failures and dead-lettered records are successful invocations: only the
            # processor's own metrics (functions/process) see them.
            "ProcessorFailedRecords": (
                "Records of a batch failed and will be retried (partial batch failure).",
                self._processor_metric("failed", five_minutes),
                0,
                1,
            ),
            "ProcessorDeadLetteredRecords": (
                "Records could not be decoded and went to the dead-letter queue.",
                self._processor_metric("dead_lettered", five_minutes),
                0,
                1,
            ),
            "NotificationsDeadLetters": (
                "Notifications failed every retry and wait in the notifications dead-letter queue.",
                storage.notifications_dead_letters.metric_approximate_number_of_messages_visible(
                    period=five_minutes, statistic="Maximum"
                ),
                0,
                1,
            ),
            "AlertDeadLetters": (
                "Domain events the alert function failed on after every retry.",
                self.alert_dead_letters.metric_approximate_number_of_messages_visible(
                    period=five_minutes, statistic="Maximum"
                ),
                0,
                1,
            ),
            "AlertFunctionErrors": (
                "The alert function failed (rules or the minute evaluator).",
                self.alert.metric_errors(period=five_minutes, statistic="Sum"),
                0,
                1,
            ),
        }
        action = cw_actions.SnsAction(storage.operations_topic)
        for construct_id, (description, metric, threshold, periods) in alarms.items():
            cloudwatch.Alarm(
                self,
                construct_id,
                alarm_description=description,
                metric=metric,
                threshold=threshold,
                evaluation_periods=periods,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ).add_alarm_action(action)

    @staticmethod
    def _processor_metric(name: str, period: Duration) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="Errata",
            metric_name=name,
            dimensions_map={"service": "process"},
            statistic="Sum",
            period=period,
        )

    def _suppress_scoped_wildcards(self) -> None:
        for function in (self.process, self.api, self.alert, self.notify):
            NagSuppressions.add_resource_suppressions(
                function.role,  # type: ignore[arg-type]
                [
                    {
                        "id": "AwsSolutions-IAM5",
                        "reason": "Scoped wildcards only: objects under the payload bucket's projects/ "
                        "prefix, the issues table's own indexes (Query by frequency, recency, users, impact, the "
                        "outbox), the releases table's own index (releases newest first), this stage's SNS "
                        "topics (raw SNS alert actions) and this stage's SSM "
                        "parameters (Slack and PagerDuty secrets, and the integrations' secrets under "
                        "integrations/); kms:GenerateDataKey* is CDK's grant to "
                        "publish to the encrypted email topic, on that one key.",
                        "appliesTo": [
                            {"regex": "/^Resource::.*EventPayloadsBucket.*\\/projects\\/\\*$/"},
                            {"regex": "/^Resource::.*SourceMapsBucket.*\\/projects\\/\\*$/"},
                            {"regex": "/^Resource::.*IssuesTable.*\\/index\\/\\*$/"},
                            {"regex": "/^Resource::.*ReleasesTable.*\\/index\\/\\*$/"},
                            {"regex": "/^Resource::arn:.*:sns:.*:errata-[a-z]+-\\*$/"},
                            {"regex": "/^Resource::arn:.*:ssm:.*:parameter\\/errata\\/[a-z]+\\/\\*$/"},
                            {"regex": "/^Resource::arn:.*:ssm:.*:parameter\\/errata\\/[a-z]+\\/integrations\\/\\*$/"},
                            "Action::kms:GenerateDataKey*",
                        ],
                    }
                ],
                apply_to_children=True,
            )
