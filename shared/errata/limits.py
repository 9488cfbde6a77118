"""The AWS limits Errata's code relies on, stated once, each with the page that states it, and the limits
ingest enforces because of them.

Kinesis Data Streams, PutRecords (docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html):
up to 500 records and 5 MiB per call, each record up to 1 MiB counting its partition key.

API Gateway HTTP APIs (docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html): a
request body of at most 10 MB; API Gateway itself answers a larger one with 413.

Lambda (docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html): a synchronous invocation's
request is at most 6 MB. API Gateway base64-encodes a binary body (a gzip'd envelope is one) into that
request, so a body over about 4.5 MB never reaches the function and the client gets API Gateway's error, not
Errata's. Ingest's own limit is therefore below it: every request the function sees and refuses for size gets
Errata's 413 with the reason.

DynamoDB (docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html): an item is at most
400 KB; a partition key value at most 2,048 bytes, a sort key value 1,024 bytes; a number has at most 38
digits of precision; a transaction holds at most 100 items. errata.normalization keeps event values within
the key limits; the counters bound what grows.
"""

from __future__ import annotations

KINESIS_PUT_RECORDS_MAX_RECORDS = 500
KINESIS_PUT_RECORDS_MAX_BYTES = 5 * 1024 * 1024
KINESIS_RECORD_MAX_BYTES = 1024 * 1024

API_GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024
LAMBDA_MAX_REQUEST_BYTES = 6 * 1024 * 1024
# The largest body whose base64 form, with the rest of API Gateway's event (headers, context: a few KB),
# fits the Lambda request: 6 MiB * 3/4 = 4.5 MiB, less a margin for the event around it.
INGEST_MAX_BODY_BYTES = 4 * 1024 * 1024
# Relay's defaults: the decompressed envelope, and each event item in it.
INGEST_MAX_DECOMPRESSED_BYTES = 20 * 1024 * 1024
INGEST_MAX_EVENT_BYTES = 1024 * 1024

DYNAMODB_ITEM_MAX_BYTES = 400 * 1024
# No item the processor writes grows past this, whatever the events hold (tests/integration/test_item_caps.py,
# whose largest values make a tag day of ~16 KB and an issue of ~6 KB): strings are cut by
# errata.normalization, lists of users and tag values are bounded (errata.store.counters), sketches have a
# fixed size, and an item keeps the marks of the shards that wrote it within the last
# errata.store.shard_marks.STALE_AFTER_DAYS only (~90 bytes each: the rest of the cap holds ~500 of them).
ITEM_CAP_BYTES = 64 * 1024
DYNAMODB_PARTITION_KEY_MAX_BYTES = 2048
DYNAMODB_SORT_KEY_MAX_BYTES = 1024
DYNAMODB_TRANSACTION_MAX_ITEMS = 100
