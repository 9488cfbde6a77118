"""One factory for every Errata function: same runtime, architecture, layer, logging and naming."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from cdk_nag import NagSuppressions
from constructs import Construct

from infra.config import SYSTEM_LOG_LEVEL, StageConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = REPO_ROOT / ".build"
LAYER_DIR = BUILD_DIR / "layer"
RUNTIME = lambda_.Runtime.PYTHON_3_12
# Graviton: ~20% cheaper per GB-second, and every runtime dependency ships aarch64 wheels (tests/infra).
ARCHITECTURE = lambda_.Architecture.ARM_64

_LOG_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
}


def built_asset(*parts: str) -> str:
    path = BUILD_DIR.joinpath(*parts)
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is missing: run `make build` first")
    return str(path)


class SharedLayer(Construct):
    """The runtime dependencies and the `errata` domain package, built by `make build` without Docker."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            code=lambda_.Code.from_asset(built_asset("layer")),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="Errata: shared domain package and runtime dependencies",
        )


class ErrataFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        name: str,
        layer: lambda_.ILayerVersion,
        environment: dict[str, str],
        memory_mb: int = 512,
        timeout_seconds: int = 10,
        reserved_concurrency: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/lambda/{config.prefix}-{name}",
            retention=_LOG_RETENTION[config.log_retention_days],
            removal_policy=RemovalPolicy.DESTROY if config.stage == "dev" else RemovalPolicy.RETAIN,
        )
        # A role of its own instead of AWSLambdaBasicExecutionRole, whose logs permissions are on every log
        # group of the account ("Resource": "*"): this one may write to this function's log group only.
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{config.prefix}-{name}: writes its own logs; grants are added per resource",
        )
        self.log_group.grant_write(role)
        self.function = lambda_.Function(
            self,
            "Function",
            role=role,
            function_name=f"{config.prefix}-{name}",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler="handler.lambda_handler",
            code=lambda_.Code.from_asset(built_asset("functions", name)),
            layers=[layer],
            memory_size=memory_mb,
            timeout=Duration.seconds(timeout_seconds),
            reserved_concurrent_executions=reserved_concurrency,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=getattr(lambda_.ApplicationLogLevel, config.log_level),
            system_log_level_v2=getattr(lambda_.SystemLogLevel, SYSTEM_LOG_LEVEL),
            environment={
                **environment,
                "POWERTOOLS_SERVICE_NAME": name,
                "POWERTOOLS_METRICS_NAMESPACE": "Errata",
                "POWERTOOLS_LOG_LEVEL": config.log_level,
                "ERRATA_STAGE": config.stage,
            },
        )
        NagSuppressions.add_resource_suppressions(
            self.function,
            [
                {
                    "id": "AwsSolutions-L1",
                    "reason": "Pinned to python3.12: the layer is built and tested for cp312 wheels "
                    "(make build, tests/infra); a runtime bump is a deliberate change with its own rebuild.",
                },
            ],
        )
