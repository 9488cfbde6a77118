"""The CDK app. The stage comes from context: `-c stage=prod` with the cdk CLI, or `--stage prod` when run
as `python -m infra.app --outdir cdk.out/prod` without it. Synthesis makes no AWS or git calls: the stacks
are environment-agnostic (account and region resolve at deploy time)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.config import StageConfig, stage_config
from infra.stacks.services import ServicesStack
from infra.stacks.storage import StorageStack

CDK_JSON = Path(__file__).resolve().parents[1] / "cdk.json"


def add_stacks(app: cdk.App, config: StageConfig) -> tuple[StorageStack, ServicesStack]:
    storage = StorageStack(app, f"Errata-{config.stage}-Storage", config=config)
    services = ServicesStack(app, f"Errata-{config.stage}-Services", config=config, storage=storage)
    for stack in (storage, services):
        cdk.Tags.of(stack).add("project", "errata")
        cdk.Tags.of(stack).add("stage", config.stage)
    # cdk-nag's AwsSolutions pack runs on every synth; suppressions sit next to the constructs they excuse.
    cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    return storage, services


def main() -> None:
    parser = argparse.ArgumentParser(description="Synthesize Errata's stacks for one stage.")
    parser.add_argument("--stage", help="dev, staging or prod (default: the context value `stage`, else dev)")
    parser.add_argument("--outdir", help="cloud assembly folder, when run without the cdk CLI")
    parser.add_argument("--profile", help="standard or small (default: the context value `profile`, else standard)")
    args = parser.parse_args()
    if args.outdir:
        # Without the CLI, nothing reads cdk.json: pass its context (feature flags) ourselves, so both ways
        # of synthesizing produce the same templates.
        context = json.loads(CDK_JSON.read_text())["context"]
        app = cdk.App(outdir=args.outdir, context={**context, **({"stage": args.stage} if args.stage else {})})
    else:
        app = cdk.App()
    config = stage_config(
        args.stage or app.node.try_get_context("stage") or "dev",
        alarm_email=app.node.try_get_context("alarmEmail"),
        alert_email=app.node.try_get_context("alertEmail"),
        profile=args.profile or app.node.try_get_context("profile") or "standard",
    )
    add_stacks(app, config)
    app.synth()


if __name__ == "__main__":
    main()
