"""One thread for every call to the outcome store, so the event loop never waits for it.

Checkpoints and claims are disk or network I/O that can take a while (a checkpoint is megabytes,
a PostgreSQL server may be slow to answer); run on the event loop they would hold up the Kafka
heartbeats and /metrics. Every store call of the worker goes through this one thread: SQLite
connections may only be used in the thread that opened them, so the store is opened, used and
closed here (`StoreThread.call` for the synchronous start-up and shut-down, `StoreThread.run`
from the event loop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class StoreThread:
    """A single worker thread that runs store calls in order."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="contactmon-store")

    def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` in the store thread and wait for it (outside the event loop)."""
        return self._executor.submit(fn, *args, **kwargs).result()

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` in the store thread; the event loop goes on meanwhile."""
        return await asyncio.wrap_future(self._executor.submit(fn, *args, **kwargs))

    def shutdown(self, *, wait: bool = True) -> None:
        self._executor.shutdown(wait=wait, cancel_futures=True)
