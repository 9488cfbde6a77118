"""Where each function finds its resources: physical names passed in by CDK (or the local stack) as
environment variables. Read when a function first runs, never at import."""

from __future__ import annotations

import os

from pydantic import BaseModel

from errata.alerts.routes import NOTIFICATION_BACKOFF_SECONDS
from errata.store.alert_rules import ALERT_RULES_TABLE
from errata.store.counters import COUNTERS_TABLE
from errata.store.integrations import INTEGRATIONS_TABLE
from errata.store.issues import ISSUES_TABLE
from errata.store.projects import PROJECTS_TABLE
from errata.store.releases import RELEASES_TABLE
from errata.store.stream_positions import STREAM_POSITIONS_TABLE
from errata.store.user_issues import USER_ISSUES_TABLE

EVENTS_STREAM_ENV = "ERRATA_EVENTS_STREAM"
EVENT_PAYLOADS_BUCKET_ENV = "ERRATA_EVENT_PAYLOADS_BUCKET"
SOURCE_MAPS_BUCKET_ENV = "ERRATA_SOURCE_MAPS_BUCKET"
DEAD_LETTER_QUEUE_ENV = "ERRATA_DEAD_LETTER_QUEUE_URL"
EVENT_BUS_ENV = "ERRATA_EVENT_BUS"
DASHBOARD_URL_ENV = "ERRATA_DASHBOARD_URL"
EMAIL_TOPIC_ENV = "ERRATA_EMAIL_TOPIC_ARN"
NOTIFICATIONS_QUEUE_ENV = "ERRATA_NOTIFICATIONS_QUEUE_URL"
PARAMETERS_PREFIX_ENV = "ERRATA_PARAMETERS_PREFIX"
PAGERDUTY_URL_ENV = "ERRATA_PAGERDUTY_EVENTS_URL"
OUTBOX_ENV = "ERRATA_OUTBOX_DIR"  # local only: where undelivered notifications become files
NOTIFICATION_BACKOFF_ENV = "ERRATA_NOTIFICATION_BACKOFF_SECONDS"
LINEAR_API_URL_ENV = "ERRATA_LINEAR_API_URL"  # tests and the local stack point it at a local server
DEAD_LETTER_AFTER_ENV = "ERRATA_DEAD_LETTER_AFTER_SECONDS"
# Dashboard sign-in through a Cognito user pool (errata.cognito); unset, API tokens only.
COGNITO_ISSUER_ENV = "ERRATA_COGNITO_ISSUER"
COGNITO_CLIENT_ID_ENV = "ERRATA_COGNITO_CLIENT_ID"
COGNITO_DOMAIN_URL_ENV = "ERRATA_COGNITO_DOMAIN_URL"
COGNITO_JWKS_URL_ENV = "ERRATA_COGNITO_JWKS_URL"  # tests: the embedded AWS serves the pool's keys
# A record failing this long is dead-lettered with its data by the processor; CDK sets half the mapping's
# maximum record age, so the mapping never gives up on a record with only its sequence number.
DEAD_LETTER_AFTER_SECONDS = 3 * 3600


class Settings(BaseModel):
    projects_table: str = ""
    issues_table: str = ""
    stream_positions_table: str = ""
    counters_table: str = ""
    user_issues_table: str = ""
    releases_table: str = ""
    events_stream: str = ""
    event_payloads_bucket: str = ""
    source_maps_bucket: str = ""
    dead_letter_queue_url: str = ""
    event_bus: str = ""
    alert_rules_table: str = ""
    integrations_table: str = ""
    linear_api_url: str = ""
    dashboard_url: str = ""
    email_topic_arn: str = ""
    notifications_queue_url: str = ""
    parameters_prefix: str = "/errata/local"
    pagerduty_url: str = ""
    outbox_dir: str = ""
    notification_backoff_seconds: int = NOTIFICATION_BACKOFF_SECONDS
    dead_letter_after_seconds: int = DEAD_LETTER_AFTER_SECONDS
    cognito_issuer: str = ""
    cognito_client_id: str = ""
    cognito_domain_url: str = ""
    cognito_jwks_url: str = ""

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            projects_table=env.get(PROJECTS_TABLE.env_var, ""),
            issues_table=env.get(ISSUES_TABLE.env_var, ""),
            stream_positions_table=env.get(STREAM_POSITIONS_TABLE.env_var, ""),
            counters_table=env.get(COUNTERS_TABLE.env_var, ""),
            user_issues_table=env.get(USER_ISSUES_TABLE.env_var, ""),
            releases_table=env.get(RELEASES_TABLE.env_var, ""),
            events_stream=env.get(EVENTS_STREAM_ENV, ""),
            event_payloads_bucket=env.get(EVENT_PAYLOADS_BUCKET_ENV, ""),
            source_maps_bucket=env.get(SOURCE_MAPS_BUCKET_ENV, ""),
            dead_letter_queue_url=env.get(DEAD_LETTER_QUEUE_ENV, ""),
            event_bus=env.get(EVENT_BUS_ENV, ""),
            alert_rules_table=env.get(ALERT_RULES_TABLE.env_var, ""),
            integrations_table=env.get(INTEGRATIONS_TABLE.env_var, ""),
            linear_api_url=env.get(LINEAR_API_URL_ENV, ""),
            dashboard_url=env.get(DASHBOARD_URL_ENV, ""),
            email_topic_arn=env.get(EMAIL_TOPIC_ENV, ""),
            notifications_queue_url=env.get(NOTIFICATIONS_QUEUE_ENV, ""),
            parameters_prefix=env.get(PARAMETERS_PREFIX_ENV, "/errata/local"),
            pagerduty_url=env.get(PAGERDUTY_URL_ENV, ""),
            outbox_dir=env.get(OUTBOX_ENV, ""),
            notification_backoff_seconds=int(env.get(NOTIFICATION_BACKOFF_ENV, str(NOTIFICATION_BACKOFF_SECONDS))),
            dead_letter_after_seconds=int(env.get(DEAD_LETTER_AFTER_ENV, str(DEAD_LETTER_AFTER_SECONDS))),
            cognito_issuer=env.get(COGNITO_ISSUER_ENV, ""),
            cognito_client_id=env.get(COGNITO_CLIENT_ID_ENV, ""),
            cognito_domain_url=env.get(COGNITO_DOMAIN_URL_ENV, ""),
            cognito_jwks_url=env.get(COGNITO_JWKS_URL_ENV, ""),
        )

    def as_env(self) -> dict[str, str]:
        """The inverse of `from_env`, for the local stack and for CDK."""
        return {
            PROJECTS_TABLE.env_var: self.projects_table,
            ISSUES_TABLE.env_var: self.issues_table,
            STREAM_POSITIONS_TABLE.env_var: self.stream_positions_table,
            COUNTERS_TABLE.env_var: self.counters_table,
            USER_ISSUES_TABLE.env_var: self.user_issues_table,
            RELEASES_TABLE.env_var: self.releases_table,
            EVENTS_STREAM_ENV: self.events_stream,
            EVENT_PAYLOADS_BUCKET_ENV: self.event_payloads_bucket,
            SOURCE_MAPS_BUCKET_ENV: self.source_maps_bucket,
            DEAD_LETTER_QUEUE_ENV: self.dead_letter_queue_url,
            EVENT_BUS_ENV: self.event_bus,
            ALERT_RULES_TABLE.env_var: self.alert_rules_table,
            INTEGRATIONS_TABLE.env_var: self.integrations_table,
            LINEAR_API_URL_ENV: self.linear_api_url,
            DASHBOARD_URL_ENV: self.dashboard_url,
            EMAIL_TOPIC_ENV: self.email_topic_arn,
            NOTIFICATIONS_QUEUE_ENV: self.notifications_queue_url,
            PARAMETERS_PREFIX_ENV: self.parameters_prefix,
            PAGERDUTY_URL_ENV: self.pagerduty_url,
            OUTBOX_ENV: self.outbox_dir,
            NOTIFICATION_BACKOFF_ENV: str(self.notification_backoff_seconds),
            DEAD_LETTER_AFTER_ENV: str(self.dead_letter_after_seconds),
            COGNITO_ISSUER_ENV: self.cognito_issuer,
            COGNITO_CLIENT_ID_ENV: self.cognito_client_id,
            COGNITO_DOMAIN_URL_ENV: self.cognito_domain_url,
            COGNITO_JWKS_URL_ENV: self.cognito_jwks_url,
        }
