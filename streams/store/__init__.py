"""The outcome store: where the core's item, norm, call and feedback rows live for the export,
and where the live worker keeps a checkpoint (its state and next offset) per Kafka partition.

`open_store(url)` picks the backend: a SQLite file (the default, `DEFAULT_STORE_URL`, for one
worker) or a PostgreSQL database (`postgresql://…`, shared by several workers).
"""

from streams.core.rows import (
    CallRecord,
    FeedbackRecord,
    ItemRecord,
    NormRecord,
    OutcomeBatch,
)
from streams.store.base import (
    DEFAULT_STORE_URL,
    Checkpoint,
    OutcomeStore,
    StoreError,
    open_store,
)

__all__ = [
    "DEFAULT_STORE_URL",
    "CallRecord",
    "Checkpoint",
    "FeedbackRecord",
    "ItemRecord",
    "NormRecord",
    "OutcomeBatch",
    "OutcomeStore",
    "StoreError",
    "open_store",
]
