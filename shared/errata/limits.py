"""The AWS limits Errata's code relies on, stated once, each with the page that states it.

Kinesis Data Streams, PutRecords (docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html):
up to 500 records and 5 MiB per call, each record up to 1 MiB counting its partition key.
"""

from __future__ import annotations

KINESIS_PUT_RECORDS_MAX_RECORDS = 500
KINESIS_PUT_RECORDS_MAX_BYTES = 5 * 1024 * 1024
KINESIS_RECORD_MAX_BYTES = 1024 * 1024
