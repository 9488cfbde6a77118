"""Each function's CloudWatch metrics (embedded metric format, through Powertools)."""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Metrics

NAMESPACE = "Errata"


def function_metrics(service: str) -> Metrics:
    """An invocation that adds no metric is normal here (a batch of redeliveries, an ingest request refused
    before counting): Powertools warns about each one, and its docs suggest filtering that warning."""
    warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
    return Metrics(namespace=NAMESPACE, service=service)


def nonzero_counts(counts: dict[str, int], leave_out: frozenset[str] = frozenset()) -> dict[str, int]:
    """The counts worth publishing. CloudWatch bills a custom metric for each hour it receives data, zeros
    included: the rare counts (failed, dead-lettered, conflicts) would cost all month for nothing. The
    alarms on them treat missing data as not breaching (infra/stacks/services.py). `leave_out`: counts the
    function's log line carries for diagnosis, not worth a metric each ($0.30 a month)."""
    return {name: value for name, value in counts.items() if value and name not in leave_out}
