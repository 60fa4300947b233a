"""The outcome store: where the core's item, norm, call and feedback rows live for the export.

`open_store(url)` picks the backend: a SQLite file (the default, `DEFAULT_STORE_URL`) for now.
"""

from streams.store.base import DEFAULT_STORE_URL, OutcomeStore, StoreError, open_store
from streams.store.records import (
    CallRecord,
    FeedbackRecord,
    ItemRecord,
    NormRecord,
    OutcomeBatch,
)

__all__ = [
    "DEFAULT_STORE_URL",
    "CallRecord",
    "FeedbackRecord",
    "ItemRecord",
    "NormRecord",
    "OutcomeBatch",
    "OutcomeStore",
    "StoreError",
    "open_store",
]
