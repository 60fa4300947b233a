"""Waiting in tests: poll the condition itself, never sleep a fixed time and hope.

    wait_until("the worker owns its partitions", lambda: worker.owned() > 0)
    rows = wait_until("Prometheus has the series", lambda: query(port, expr), timeout=30)

`wait_until` returns as soon as the check gives a truthy value (and returns that value), and
fails the test with an AssertionError naming what it waited for, how long, and what the check
last gave, when the timeout passes first. A check may raise one of the `ignoring` exceptions while
a part is still coming up (a refused connection, say): that counts as "not yet".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 90.0
DEFAULT_EVERY_S = 0.2


class WaitTimeout(AssertionError):
    """A condition did not hold in time (an AssertionError: it fails the test, never skips it)."""


def wait_until(
    what: str,
    check: Callable[[], T],
    timeout: float = DEFAULT_TIMEOUT_S,
    every: float = DEFAULT_EVERY_S,
    *,
    ignoring: tuple[type[BaseException], ...] = (),
    detail: Callable[[], str] | None = None,
) -> T:
    """Poll ``check`` every ``every`` seconds until it gives a truthy value, and return that value.

    After ``timeout`` seconds fail with a message naming ``what``, the last value (or the last
    ignored exception) and, when given, ``detail()`` (a log tail, say). The check always runs
    once more at the deadline, so a slow check still gets its last chance.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = check()
        except ignoring as exc:
            last = exc
        else:
            if result:
                return result
            last = result
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        time.sleep(min(every, remaining))
    lines = [f"timed out after {timeout:g} s waiting for {what}", f"last seen: {last!r}"]
    if detail is not None:
        lines.append(detail())
    raise WaitTimeout("\n".join(lines))
