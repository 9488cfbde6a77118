"""`errata`: the command line. `errata dev` runs the whole pipeline locally; `errata sourcemaps upload` and
`errata proguard upload` send a release's artifacts (the SDK's uploader, errata_sdk.artifacts)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import threading
from pathlib import Path

from errata_sdk import artifacts, difs


def _dev(args: argparse.Namespace) -> int:
    stopped = threading.Event()
    # Ctrl-C reaches us twice under `uv run` (from the terminal and forwarded by uv): a handler that only sets
    # the event makes the second one harmless, where a KeyboardInterrupt would break the shutdown. Installed
    # before start-up, so a Ctrl-C while it starts stops it once started instead of printing a traceback.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    from errata_local.stack import DEV_EVENT_SOURCE, AlertingOptions, LocalStack, PortInUse

    data_dir = Path(args.data_dir).resolve()
    if args.reset:
        _reset(data_dir)
    outbox = Path(args.outbox) if args.outbox else data_dir / "outbox"
    alerting = AlertingOptions(
        outbox=outbox,
        slack_webhook=args.slack_webhook or os.environ.get("ERRATA_SLACK_WEBHOOK_URL"),
        pagerduty_routing_key=args.pagerduty_key or os.environ.get("ERRATA_PAGERDUTY_ROUTING_KEY"),
    )
    stack = LocalStack(
        port=args.port, alerting=alerting, data_dir=data_dir, event_source=DEV_EVENT_SOURCE, processor_process=True
    )
    try:
        info = stack.start()
    except PortInUse as exc:
        print(f"errata dev: {exc}", file=sys.stderr)
        return 2
    print(f"DSN: {info.dsn}")
    print(f"API token: {info.api_token}")
    # The token in the address logs the page in once; the page then drops it from the address bar.
    print(f"Dashboard: {info.base_url}/?token={info.api_token}#/projects/{info.project_id}/issues")
    print(
        f"Source maps: {Path(sys.executable).parent / 'errata'} sourcemaps upload --api {info.base_url} "
        f"--token {info.api_token} "
        f"--project {info.project_id} --release <release> <build dir>"
    )
    print(f"Outbox: {info.outbox}  (notifications: email as .eml, Slack/PagerDuty as the JSON they would post)")
    state = data_dir / "dev.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(
        json.dumps(
            {
                "base_url": info.base_url,
                "dsn": info.dsn,
                "api_token": info.api_token,
                "project_id": info.project_id,
                "aws_endpoint": info.aws_endpoint,  # for `errata redrive --local`
                "dead_letter_queue_url": info.settings.dead_letter_queue_url,
                "events_stream": info.settings.events_stream,
            }
        )
    )
    state.chmod(0o600)  # it holds the token
    print("Demo: run `make demo` in another terminal to send a few realistic errors")
    print(
        f"State: {data_dir} (issues, counts, payloads, this DSN and token survive a restart; "
        "`make dev RESET=1` starts clean). Ctrl-C stops it.",
        flush=True,
    )
    ancestors = _ancestors()
    try:
        while not stopped.wait(0.5):
            if not all(_alive(pid) for pid in ancestors):
                break  # `make` or `uv` was stopped alone (an IDE's stop button): stop with it
    finally:
        state.unlink(missing_ok=True)
        stack.stop()
        print("Errata stopped.", flush=True)
    return 0


def _reset(data_dir: Path) -> None:
    """`make dev RESET=1`: the embedded AWS's state and the credentials go; the outbox's files stay."""
    from errata_local.stack import AWS_STATE_DIR, CREDENTIALS_FILE

    shutil.rmtree(data_dir / AWS_STATE_DIR, ignore_errors=True)
    (data_dir / CREDENTIALS_FILE).unlink(missing_ok=True)
    print(f"Reset: {data_dir} starts clean")


def _ancestors() -> list[int]:
    """The processes that started this one (`uv run`, `make`, the shell), four at most. Signals from a
    terminal reach them all, but a tool that stops only `make` would leave the stack running."""
    pids: list[int] = []
    pid = os.getppid()
    while pid > 1 and len(pids) < 4:
        pids.append(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        pid = int(stat.rsplit(")", 1)[1].split()[1])  # the parent's pid
    return pids


def _alive(pid: int) -> bool:
    """Running: its /proc entry exists and is not a zombie (a killed `make` its shell has not reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _demo(args: argparse.Namespace) -> int:
    from errata_local import demo

    return demo.run(Path(args.state))


def _project_create(args: argparse.Namespace) -> int:
    from errata_local import admin

    store = admin.projects_store(args.stage)
    project = admin.create_project(store, args.name, args.project_id)
    ingest_url = args.ingest_url or admin.ingest_url_of(args.stage)
    print(f"Project: {project.project_id} ({project.name})")
    print(f"DSN: {admin.dsn_for(ingest_url, project.public_keys[0], project.project_id)}")
    return 0


def _token_create(args: argparse.Namespace) -> int:
    from errata_local import admin

    token = admin.create_api_token(admin.projects_store(args.stage), args.name, args.project_id, args.scope)
    scope = f"For: {'project ' + args.project_id if args.project_id else 'every project'}, {args.scope}"
    if args.ssm:
        parameter = admin.keep_token_in_ssm(args.stage, args.name, token)
        print(f"API token kept in SSM: {parameter}")
        print(scope)
        print(
            f"Read it: aws ssm get-parameter --with-decryption --name {parameter} --query Parameter.Value --output text"
        )
        return 0
    print(f"API token: {token}")
    print(scope)
    print("It is stored hashed and cannot be shown again.")
    return 0


def _redrive(args: argparse.Namespace) -> int:
    import boto3

    from errata.naming import DEAD_LETTER_QUEUE, EVENTS_STREAM, physical_name
    from errata.redrive import Redrive
    from errata_local.aws import local_aws_environment

    if args.local:
        state = json.loads(Path(args.state).read_text())
        os.environ.update(local_aws_environment(state["aws_endpoint"]))
        queue_url, stream = state["dead_letter_queue_url"], state["events_stream"]
    else:
        prefix = f"errata-{args.stage}"
        sqs = boto3.client("sqs")
        queue_url = sqs.get_queue_url(QueueName=physical_name(prefix, DEAD_LETTER_QUEUE))["QueueUrl"]
        stream = physical_name(prefix, EVENTS_STREAM)
    report = Redrive(boto3.client("sqs"), queue_url, boto3.client("kinesis"), stream).run(
        limit=args.limit, dry_run=args.dry_run
    )
    verb = "would put" if args.dry_run else "put"
    print(f"{report.messages} dead-lettered messages read; {verb} {report.records} records back on {stream}")
    for reason in report.kept:
        print(f"kept: {reason}")
    return 0 if not report.kept else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="errata", description="Errata: error monitoring on AWS.")
    commands = parser.add_subparsers(dest="command", required=True)
    dev = commands.add_parser("dev", help="run the whole pipeline locally on an embedded AWS (moto)")
    dev.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")), help="HTTP port (default 8000)")
    dev.add_argument(
        "--data-dir",
        default=os.environ.get("DATA_DIR") or ".errata",
        help="where the local state is kept across restarts (default .errata)",
    )
    dev.add_argument("--reset", action="store_true", help="start clean: forget the data directory's state")
    dev.add_argument("--outbox", help="where notifications land (default <data dir>/outbox)")
    dev.add_argument("--slack-webhook", help="a Slack incoming-webhook URL: notifications are posted there")
    dev.add_argument("--pagerduty-key", help="a PagerDuty Events API v2 routing key: pages are sent there")
    dev.set_defaults(run=_dev)

    demo = commands.add_parser("demo", help="send a few realistic errors to a running `errata dev`")
    demo.add_argument("--state", default=".errata/dev.json", help="what `errata dev` wrote at start")
    demo.set_defaults(run=_demo)

    project = commands.add_parser("project", help="projects of a deployed stage (uses your AWS credentials)")
    project_commands = project.add_subparsers(dest="action", required=True)
    create = project_commands.add_parser("create", help="create a project and print its DSN")
    create.add_argument("--stage", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--project-id", help="numeric id (default: a random 7-digit one)")
    create.add_argument("--ingest-url", help="default: the IngestUrl output of Errata-<stage>-Services")
    create.set_defaults(run=_project_create)

    token = commands.add_parser("token", help="dashboard API tokens of a deployed stage")
    token_commands = token.add_subparsers(dest="action", required=True)
    token_create = token_commands.add_parser("create", help="create an API token and print it once")
    token_create.add_argument("--stage", required=True)
    token_create.add_argument("--name", required=True, help="who or what the token is for")
    token_create.add_argument("--project-id", help="limit the token to one project (default: every project)")
    token_create.add_argument(
        "--scope",
        choices=["project:read", "project:write", "project:admin"],
        default="project:admin",
        help="read: see issues; write: change status, deploys, alert rules, uploads; admin: project settings",
    )
    token_create.add_argument(
        "--ssm",
        action="store_true",
        help="keep the token in SSM Parameter Store (SecureString /errata/<stage>/dashboard-tokens/<name>) for "
        "the team to read, instead of printing it",
    )
    token_create.set_defaults(run=_token_create)

    redrive = commands.add_parser(
        "redrive", help="put dead-lettered records back on the events stream, once their cause is fixed"
    )
    where = redrive.add_mutually_exclusive_group(required=True)
    where.add_argument("--stage", help="a deployed stage (uses your AWS credentials)")
    where.add_argument("--local", action="store_true", help="the running `errata dev`")
    redrive.add_argument("--state", default=".errata/dev.json", help="with --local: what `errata dev` wrote")
    redrive.add_argument("--limit", type=int, default=10_000, help="messages to read at most")
    redrive.add_argument("--dry-run", action="store_true", help="only say what would be put back")
    redrive.set_defaults(run=_redrive)

    artifacts.add_commands(commands)  # sourcemaps upload, proguard upload: the SDK's own uploader
    difs.add_commands(commands)  # difs upload: native debug files
    args = parser.parse_args(argv)
    return artifacts.run(args)


if __name__ == "__main__":
    sys.exit(main())
