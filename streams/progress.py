"""Progress on the terminal for the commands that take a while: ``replay``, ``simulate --to kafka``.

One line on stderr, redrawn in place by tqdm: how far (with a bar, a percentage and the time left
when the total is known), the rate, and a short note of the caller's (the events read, the event
time reached). It is shown only when its stream is a terminal: in logs, CI and pipes it writes
nothing at all, and the command's own summary line is all that is left there. Work done within
`REFRESH_S` shows no line either (nor does a command still waiting for Kafka before it sends). On a
terminal the last state stays on its line when it closes; what is written next starts on its own.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import IO, Never, Self

from tqdm import tqdm

__all__ = ["REFRESH_S", "Progress"]

# The line first shows after this long (so a short run shows none), then redraws as often.
REFRESH_S = 0.5


class Progress:
    """One progress line; moved with `to`, ended with `close` (or as a context manager).

    ``total``: where the work ends, in ``unit`` (None: unknown, then no bar and no time left).
    Counts are shown scaled (13.7k), bytes (``unit="B"``) in KiB, MiB and so on. ``file``: where
    the line goes (default stderr). ``terminal``: None shows it only when ``file`` is a terminal;
    True or False decide regardless (tests).
    """

    def __init__(
        self,
        desc: str,
        *,
        total: float | None = None,
        unit: str = " events",
        file: IO[str] | None = None,
        terminal: bool | None = None,
    ) -> None:
        in_bytes = unit == "B"
        self._bar: tqdm[Never] = tqdm(
            desc=desc,
            total=total,
            unit=unit,
            unit_scale=True,  # 13.7k events, 4.04MiB, 1.2k events/s
            unit_divisor=1024 if in_bytes else 1000,
            file=sys.stderr if file is None else file,
            disable=None if terminal is None else not terminal,
            delay=REFRESH_S,
            mininterval=REFRESH_S,
            miniters=0,  # look at the clock on every `to`: callers already call it sparingly
            dynamic_ncols=True,
            leave=True,
        )
        self._drawn = False

    def to(self, position: float, note: str | None = None) -> None:
        """Move to ``position`` (from the start, in the unit), with ``note`` after the rate."""
        if self._bar.disable:
            return
        if note is not None:
            self._bar.set_postfix_str(note, refresh=False)
        if self._bar.update(position - self._bar.n):
            self._drawn = True

    @contextmanager
    def aside(self) -> Iterator[None]:
        """Write something else to the terminal in this block (a log line): the progress line is
        taken away first and drawn again after, so neither runs into the other."""
        if not self._drawn:
            yield
            return
        self._bar.clear()
        try:
            yield
        finally:
            self._bar.refresh()

    def close(self) -> None:
        """Draw the last state and end the line; later calls do nothing."""
        self._bar.close()
        self._drawn = False

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
