"""The processor's domain, along its data path: a Kinesis record is staged (errata.processing.staged),
a batch's records are summed per item they add to (errata.processing.aggregation), and each item is written
once per batch before the shard's position moves (errata.processing.batch)."""

from errata.processing.batch import TRANSIENT_ERRORS, BatchSummary, ConcurrentShardWriter, IssueBatch

__all__ = ["TRANSIENT_ERRORS", "BatchSummary", "ConcurrentShardWriter", "IssueBatch"]
