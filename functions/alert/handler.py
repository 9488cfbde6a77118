"""Alert rules: domain events from the bus become notifications; the minute schedule publishes the outbox's
leftovers and evaluates the time-based conditions (spike, frequency, impact, release health)."""

from __future__ import annotations

from dataclasses import asdict
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from errata.function_metrics import function_metrics, nonzero_counts
from errata.models.alerts import AlertDetail
from errata.settings import Settings
from errata.timefmt import utc_now
from errata.wiring import Clients, cached_alert_engine, minute_evaluator

logger = Logger(service="alert")
metrics = function_metrics("alert")


# In the "evaluated" log line only: how much the evaluator read, not what it found.
DIAGNOSTIC_COUNTS = frozenset({"projects", "issues"})


@cache
def _wired() -> tuple[Settings, Clients]:
    return Settings.from_env(), Clients()


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("source") == "aws.events":  # the minute schedule
        summary = asdict(minute_evaluator(*_wired()).run(utc_now()))
        for name, value in nonzero_counts(summary, leave_out=DIAGNOSTIC_COUNTS).items():
            metrics.add_metric(name=f"evaluator_{name}", unit=MetricUnit.Count, value=value)
        logger.info("evaluated", extra=summary)
        return summary
    bus_event = parse(event=event, model=EventBridgeModel)
    detail = AlertDetail.model_validate(bus_event.detail)
    notifications = cached_alert_engine(*_wired()).on_domain_event(bus_event.detail_type, detail, utc_now())
    metrics.add_metric(name="notifications", unit=MetricUnit.Count, value=len(notifications))
    logger.info("alert rules applied", extra={"trigger": event["detail-type"], "notifications": len(notifications)})
    return {"notifications": len(notifications)}
