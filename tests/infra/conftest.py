"""Both stages synthesized once per session (jsii start-up dominates: ~10 s for the first stack)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from infra.app import CDK_JSON, add_stacks
from infra.config import StageConfig, stage_config
from infra.stacks.services import ServicesStack
from infra.stacks.storage import StorageStack


@dataclass
class SynthesizedStage:
    config: StageConfig
    storage_stack: StorageStack
    services_stack: ServicesStack
    storage: Template
    services: Template
    outdir: Path

    def templates(self) -> list[Path]:
        return sorted(self.outdir.glob("*.template.json"))


@pytest.fixture(scope="session")
def stages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SynthesizedStage]:
    context = json.loads(CDK_JSON.read_text())["context"]
    result = {}
    # "small": prod with the small-team profile (infra/config.py).
    for name, stage, profile in (("dev", "dev", "standard"), ("prod", "prod", "standard"), ("small", "prod", "small")):
        outdir = tmp_path_factory.mktemp(f"cdk-{name}")
        config = stage_config(stage, alarm_email="oncall@example.com", alert_email="team@example.com", profile=profile)
        app = cdk.App(outdir=str(outdir), context={**context, "stage": stage})
        storage, services = add_stacks(app, config)
        app.synth()
        result[name] = SynthesizedStage(
            config, storage, services, Template.from_stack(storage), Template.from_stack(services), outdir
        )
    return result


@pytest.fixture(params=["dev", "prod"])
def stage(request: pytest.FixtureRequest, stages: dict[str, SynthesizedStage]) -> SynthesizedStage:
    return stages[request.param]
