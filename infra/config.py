"""Per-stage configuration, in one place. The stage comes from CDK context (`-c stage=prod`)."""

from __future__ import annotations

from typing import Literal

from aws_cdk import RemovalPolicy
from pydantic import BaseModel, ConfigDict, Field, model_validator

Stage = Literal["dev", "staging", "prod"]
# "small": a stage for a small team (about a million events a month), whose fixed monthly cost is what
# matters: one provisioned shard instead of an on-demand stream ($10.95 against $29.20 a month), ingest at
# the function URL (no per-request gateway charge), a 3-second batching window (batches hold more events,
# new issues still visible within 5 s), API tokens for the dashboard. bench/cost.py prices it.
Profile = Literal["standard", "small"]


class StreamConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    mode: Literal["on_demand", "provisioned"] = "on_demand"
    shards: int = Field(default=1, ge=1)
    retention_hours: int = Field(default=24, ge=24, le=720)  # stream positions expire after 31 days


class ProcessorConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    batch_size: int = Field(default=100, ge=1, le=10_000)
    batching_window_seconds: int = Field(default=1, ge=0, le=300)
    # The mapping's TumblingWindowInSeconds: the processor sums a shard's batches over this window and writes
    # each item once at its end; new issues (and status changes) are written at once, so only counts wait
    # (docs/decisions/0009-write-path-cost.md, step 9). 0: each batch writes what it adds.
    tumbling_window_seconds: int = Field(default=30, ge=0, le=900)
    # None: retried until max_record_age (the processor dead-letters at half of it, with the data).
    retry_attempts: int | None = Field(default=None, ge=0, le=10_000)
    max_record_age_hours: int = Field(default=6, ge=1, le=168)
    # Idempotency needs one in-order invocation per shard (docs/decisions/0002-idempotency.md): scale with
    # shards, not with this factor, until positions are kept per partition-key range.
    parallelization_factor: int = Field(default=1, ge=1, le=1)
    memory_mb: int = 1024
    timeout_seconds: int = 60


class StageConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    stage: Stage
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_retention_days: int = 30
    payload_retention_days: int = 90
    source_map_retention_days: int = 365
    stream: StreamConfig = StreamConfig()
    processor: ProcessorConfig = ProcessorConfig()
    alarm_email: str | None = None
    alert_email: str | None = None
    # API Gateway throttling for the whole HTTP API (requests per second, burst).
    throttle_rate: int = 500
    throttle_burst: int = 1000
    # Where SDKs send events (the DSN's host): "http_api", the HTTP API beside the dashboard (throttled as
    # above, $1.00 per million requests); "function_url", the ingest function's own URL: no per-request
    # charge, no gateway throttling (each project's quota still answers 429), and, when set, reserved
    # concurrency caps what a flood can cost (docs/decisions/0009-write-path-cost.md, step 5).
    ingest_endpoint: Literal["http_api", "function_url"] = "http_api"
    ingest_reserved_concurrency: int | None = Field(default=None, ge=1)
    iterator_age_alarm_seconds: int = 60
    # How people sign in to the dashboard: "cognito", a user pool per stage (hosted UI, MFA, groups grant
    # scopes: errata.store.projects.grant_of_groups) beside API tokens; "token", API tokens only (made by
    # `errata token create`, optionally kept in SSM for the team): for small teams.
    dashboard_login: Literal["cognito", "token"] = "token"

    @model_validator(mode="after")
    def _provisioned_shards_only_when_provisioned(self) -> StageConfig:
        if self.stream.mode == "on_demand" and self.stream.shards != 1:
            raise ValueError("shards are set only for a provisioned stream")
        return self

    @property
    def prefix(self) -> str:
        return f"errata-{self.stage}"

    @property
    def is_production(self) -> bool:
        return self.stage == "prod"

    @property
    def removal_policy(self) -> RemovalPolicy:
        return RemovalPolicy.DESTROY if self.stage == "dev" else RemovalPolicy.RETAIN

    @property
    def point_in_time_recovery(self) -> bool:
        return self.is_production


# Lambda's own log events (start, runtime done, report) are INFO: at WARN a successful invocation sends none
# to CloudWatch Logs, which bills every byte (bench/cost.py prices what this leaves).
SYSTEM_LOG_LEVEL = "WARN"

STAGES: dict[str, StageConfig] = {
    "dev": StageConfig(stage="dev", log_level="DEBUG", log_retention_days=7, payload_retention_days=14),
    "staging": StageConfig(stage="staging", payload_retention_days=30, dashboard_login="cognito"),
    "prod": StageConfig(
        stage="prod",
        dashboard_login="cognito",
        log_retention_days=90,
        payload_retention_days=90,
        stream=StreamConfig(mode="provisioned", shards=2, retention_hours=48),
        processor=ProcessorConfig(batch_size=500, batching_window_seconds=2),
        throttle_rate=2000,
        throttle_burst=5000,
        ingest_endpoint="function_url",
    ),
}


def stage_config(
    stage: str, alarm_email: str | None = None, alert_email: str | None = None, profile: str = "standard"
) -> StageConfig:
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}: choose one of {', '.join(STAGES)}")
    if profile not in ("standard", "small"):
        raise ValueError(f"unknown profile {profile!r}: choose standard or small")
    config = STAGES[stage].model_copy(update={"alarm_email": alarm_email, "alert_email": alert_email})
    if profile == "small":
        config = config.model_copy(
            update={
                "stream": StreamConfig(mode="provisioned", shards=1, retention_hours=24),
                "processor": config.processor.model_copy(update={"batch_size": 500, "batching_window_seconds": 3}),
                "ingest_endpoint": "function_url",
                "dashboard_login": "token",
            }
        )
    return config
