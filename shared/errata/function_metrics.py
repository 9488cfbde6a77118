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
