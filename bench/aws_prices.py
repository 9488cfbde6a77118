"""AWS list prices the cost bench turns counts into dollars with: one region, one date, on-demand, no free
tier (a free tier hides the per-event cost a growing team pays). Change a price here and every figure
follows; bench/cost.py prints the date and region beside its SUMMARY line.

Sources: the public pricing pages of each service (aws.amazon.com/<service>/pricing), read for us-east-1.
DynamoDB on-demand prices are the ones after the November 2024 cut (writes $0.625, reads $0.125 per million
request units). Lambda runs on arm64 (infra/constructs/function.py).
"""

from __future__ import annotations

DATE = "2026-12-03"
REGION = "us-east-1"
HOURS_PER_MONTH = 730

# Per unit, in US dollars.
DYNAMODB_WRITE_REQUEST_UNIT = 0.625e-6  # on-demand: 1 KB of a standard write (2 per KB when transactional)
DYNAMODB_READ_REQUEST_UNIT = 0.125e-6  # on-demand: 4 KB strongly consistent, 8 KB eventually consistent
DYNAMODB_STORAGE_GB_MONTH = 0.25
S3_PUT = 0.005e-3  # PUT, COPY, POST, LIST
S3_GET = 0.0004e-3  # GET, HEAD and the rest
S3_STORAGE_GB_MONTH = 0.023
KINESIS_SHARD_HOUR = 0.015  # provisioned
KINESIS_PUT_PAYLOAD_UNIT = 0.014e-6  # provisioned: 25 KB of a record
KINESIS_ON_DEMAND_STREAM_HOUR = 0.04
KINESIS_ON_DEMAND_GB_IN = 0.08
LAMBDA_REQUEST = 0.20e-6
LAMBDA_GB_SECOND_ARM = 0.0000133334
API_GATEWAY_HTTP_REQUEST = 1.00e-6  # HTTP API, first 300 million a month; metered per 512 KB
EVENTBRIDGE_EVENT = 1.00e-6  # custom events, per 64 KB chunk
SNS_PUBLISH = 0.50e-6
SQS_REQUEST = 0.40e-6  # standard queue, per 64 KB chunk
CLOUDWATCH_LOGS_GB = 0.50  # ingested (the embedded metric format is log data too)
CLOUDWATCH_ALARM_MONTH = 0.10  # a standard-resolution metric alarm
CLOUDWATCH_METRIC_MONTH = 0.30  # a custom metric (one name and dimension set), first 10,000
SECRETS_MANAGER_SECRET_MONTH = 0.40
KMS_KEY_MONTH = 1.00

# Typical in-region latencies of one call from Lambda, for billed duration (Lambda bills wall time, and a
# handler waits on each call it makes). Medians as seen from a warm function; concurrency within one
# invocation is not modelled, so durations are an upper bound where a handler calls in parallel.
CALL_LATENCY_SECONDS = {
    ("dynamodb", "GetItem"): 0.004,
    ("dynamodb", "BatchGetItem"): 0.006,
    ("dynamodb", "Query"): 0.006,
    ("dynamodb", "PutItem"): 0.006,
    ("dynamodb", "UpdateItem"): 0.006,
    ("dynamodb", "DeleteItem"): 0.006,
    ("dynamodb", "BatchWriteItem"): 0.010,
    ("dynamodb", "TransactWriteItems"): 0.020,
    ("dynamodb", "TransactGetItems"): 0.010,
    ("s3", "PutObject"): 0.030,
    ("s3", "GetObject"): 0.015,
    ("s3", "HeadObject"): 0.010,
    ("s3", "ListObjectsV2"): 0.020,
    ("kinesis", "PutRecords"): 0.015,
    ("kinesis", "PutRecord"): 0.012,
    ("events", "PutEvents"): 0.015,
    ("sqs", "SendMessage"): 0.010,
    ("sqs", "SendMessageBatch"): 0.012,
    ("sns", "Publish"): 0.015,
}
DEFAULT_CALL_LATENCY_SECONDS = 0.010
# What Lambda logs per invocation by itself (the START, END and REPORT lines, about 320 bytes), billed as log
# data, by the functions' system log level: those events are INFO, so a function at WARN sends none for an
# invocation that succeeds (Lambda's "Log-level filtering", event mapping for system logs). DEBUG sends more
# events than these three: 320 is its floor, not its measure.
LAMBDA_PLATFORM_LOG_BYTES = {"DEBUG": 320, "INFO": 320, "WARN": 0}
