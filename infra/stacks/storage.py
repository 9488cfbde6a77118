"""Stateful resources: the stream, tables, buckets, dead-letter queue, event bus and alert topics. Kept apart
from the functions so a redeploy of code never risks data, and RETAINed outside dev."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagSuppressions
from constructs import Construct

from errata import naming
from errata.alerts.routes import (
    EMAIL_TOPIC,
    NOTIFICATION_BACKOFF_SECONDS,
    NOTIFICATION_MAX_RECEIVES,
    NOTIFICATIONS_DEAD_LETTERS,
    NOTIFICATIONS_QUEUE,
    NOTIFY_TOPIC,
    PAGE_TOPIC,
)
from errata.naming import physical_name
from errata.store.alert_rules import ALERT_RULES_TABLE
from errata.store.counters import COUNTERS_TABLE
from errata.store.integrations import INTEGRATIONS_TABLE
from errata.store.issues import ISSUES_TABLE
from errata.store.projects import PROJECTS_TABLE
from errata.store.releases import RELEASES_TABLE
from errata.store.stream_positions import STREAM_POSITIONS_TABLE
from errata.store.user_issues import USER_ISSUES_TABLE
from infra.config import StageConfig
from infra.constructs.queues import dead_letter_queue
from infra.constructs.tables import table_from_spec


class StorageStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        prefix = config.prefix

        self.projects_table: dynamodb.TableV2 = table_from_spec(self, "ProjectsTable", PROJECTS_TABLE, config)
        self.issues_table = table_from_spec(self, "IssuesTable", ISSUES_TABLE, config)
        self.stream_positions_table = table_from_spec(self, "StreamPositionsTable", STREAM_POSITIONS_TABLE, config)
        self.counters_table = table_from_spec(self, "CountersTable", COUNTERS_TABLE, config)
        self.user_issues_table = table_from_spec(self, "UserIssuesTable", USER_ISSUES_TABLE, config)
        self.releases_table = table_from_spec(self, "ReleasesTable", RELEASES_TABLE, config)
        self.alert_rules_table = table_from_spec(self, "AlertRulesTable", ALERT_RULES_TABLE, config)
        self.integrations_table = table_from_spec(self, "IntegrationsTable", INTEGRATIONS_TABLE, config)

        provisioned = config.stream.mode == "provisioned"
        self.events_stream = kinesis.Stream(
            self,
            "EventsStream",
            stream_name=physical_name(prefix, naming.EVENTS_STREAM),
            stream_mode=kinesis.StreamMode.PROVISIONED if provisioned else kinesis.StreamMode.ON_DEMAND,
            shard_count=config.stream.shards if provisioned else None,
            retention_period=Duration.hours(config.stream.retention_hours),
            encryption=kinesis.StreamEncryption.MANAGED,
            removal_policy=config.removal_policy,
        )
        self.access_logs_bucket = s3.Bucket(
            self,
            "AccessLogsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(config.log_retention_days))],
            removal_policy=config.removal_policy,
        )
        NagSuppressions.add_resource_suppressions(
            self.access_logs_bucket,
            [{"id": "AwsSolutions-S1", "reason": "This is the access-log bucket; logging it would recurse."}],
        )
        self.event_payloads_bucket = self._bucket(
            "EventPayloadsBucket",
            physical_name(prefix, naming.EVENT_PAYLOADS_BUCKET),
            config.payload_retention_days,
            config,
        )
        self.source_maps_bucket = self._bucket(
            "SourceMapsBucket",
            physical_name(prefix, naming.SOURCE_MAPS_BUCKET),
            config.source_map_retention_days,
            config,
        )

        self.dead_letter_queue = dead_letter_queue(
            self,
            "DeadLetterQueue",
            queue_name=physical_name(prefix, naming.DEAD_LETTER_QUEUE),
            holds="poison records and the processor's on-failure destination",
            removal_policy=config.removal_policy,
        )

        self.user_pool: cognito.UserPool | None = None
        self.user_pool_domain: cognito.UserPoolDomain | None = None
        if config.dashboard_login == "cognito":
            self.user_pool, self.user_pool_domain = self._dashboard_users(config)

        self.event_bus = events.EventBus(self, "EventBus", event_bus_name=physical_name(prefix, naming.EVENT_BUS))
        # A customer-managed key: the AWS-managed alias/aws/sns key cannot be used by EventBridge (rule
        # targets) or CloudWatch (alarm actions), so topics under it would never receive an alert.
        self.alerts_key = kms.Key(
            self,
            "AlertsKey",
            alias=f"alias/{prefix}-alerts",
            description="Errata alert and operations topics",
            enable_key_rotation=True,
            removal_policy=config.removal_policy,
        )
        self.alerts_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowEventBridgeAndCloudWatchToPublish",
                principals=[
                    iam.ServicePrincipal("events.amazonaws.com"),
                    iam.ServicePrincipal("cloudwatch.amazonaws.com"),
                ],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            )
        )
        self.page_topic = self._topic("PageTopic", physical_name(prefix, PAGE_TOPIC))
        self.notify_topic = self._topic("NotifyTopic", physical_name(prefix, NOTIFY_TOPIC))
        self.email_topic = self._topic("EmailTopic", physical_name(prefix, EMAIL_TOPIC))
        self.operations_topic = self._topic("OperationsTopic", f"{prefix}-operations")
        if config.alert_email:
            self.email_topic.add_subscription(subscriptions.EmailSubscription(config.alert_email))
        if config.alarm_email:
            self.operations_topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))

        # Page and notify topics feed the notifier through one queue: failed deliveries are retried with
        # backoff (the notifier sets each message's visibility), then land in the dead letters.
        self.notifications_dead_letters = dead_letter_queue(
            self,
            "NotificationsDeadLetters",
            queue_name=physical_name(prefix, NOTIFICATIONS_DEAD_LETTERS),
            holds="notifications that failed every retry",
            removal_policy=config.removal_policy,
        )
        self.notifications_queue = sqs.Queue(
            self,
            "NotificationsQueue",
            queue_name=physical_name(prefix, NOTIFICATIONS_QUEUE),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(2 * NOTIFICATION_BACKOFF_SECONDS),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.notifications_dead_letters, max_receive_count=NOTIFICATION_MAX_RECEIVES
            ),
            removal_policy=config.removal_policy,
        )
        for topic in (self.page_topic, self.notify_topic):
            topic.add_subscription(subscriptions.SqsSubscription(self.notifications_queue, raw_message_delivery=True))

    def _dashboard_users(self, config: StageConfig) -> tuple[cognito.UserPool, cognito.UserPoolDomain]:
        """The people who sign in to the dashboard (no self sign-up: an admin invites them), with MFA, and
        the groups that grant scopes. Kept with the data: a redeploy of the services never loses a user."""
        pool = cognito.UserPool(
            self,
            "DashboardUsers",
            user_pool_name=f"{config.prefix}-dashboard",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            password_policy=cognito.PasswordPolicy(
                min_length=12, require_digits=True, require_lowercase=True, require_uppercase=True, require_symbols=True
            ),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            removal_policy=config.removal_policy,
        )
        domain = pool.add_domain(
            "HostedUi",
            cognito_domain=cognito.CognitoDomainOptions(domain_prefix=f"{config.prefix}-{self.account}"),
        )
        for scope in ("project:read", "project:write", "project:admin"):
            cognito.CfnUserPoolGroup(
                self,
                f"Group{scope.split(':')[1].title()}",
                user_pool_id=pool.user_pool_id,
                group_name=f"errata:{scope}",
                description=f"{scope} on every project (one project: a group named errata:<project id>:{scope})",
            )
        return pool, domain

    def _topic(self, construct_id: str, name: str) -> sns.Topic:
        return sns.Topic(self, construct_id, topic_name=name, master_key=self.alerts_key, enforce_ssl=True)

    def _bucket(self, construct_id: str, name: str, retention_days: int, config: StageConfig) -> s3.Bucket:
        return s3.Bucket(
            self,
            construct_id,
            # Bucket names are global: the account and region make them unique per deployment.
            bucket_name=f"{name}-{self.account}-{self.region}",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=False,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix=f"{name}/",
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(retention_days))],
            removal_policy=config.removal_policy,
        )
