"""Outages of the parts the worker depends on, logged once per change of state, never per retry.

While the Kafka broker is down, aiokafka logs every failed connection, metadata request, fetch,
heartbeat and produce: well over a thousand lines in twenty seconds. An `Incident` turns that
into two lines, one when the part becomes unreachable (with the first error) and one when it is
back (how long it was gone and how many errors it caused), and keeps the state for /metrics
(`contact_worker_broker_connected`, `contact_worker_store_errors_total`).

`KafkaLogFilter` sits on aiokafka's loggers: a warning or error that says a connection failed
opens the broker's incident (or counts in it) instead of being logged; every other record passes.
The worker itself reports successes (a fetch, a commit, a delivered message) and failures of the
calls it makes (`Incident.success`, `Incident.failure`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

# What aiokafka writes when a broker cannot be reached or a request to it failed (its messages
# as of 0.14; a new wording that is not matched is only logged as before, nothing is lost).
CONNECTION_TROUBLE = re.compile(
    r"Unable connect|Unable to update metadata|Failed fetch messages|Coordinator Request failed|"
    r"Heartbeat send request failed|Heartbeat session expired|coordinator dead|Error sending|"
    r"LeaveGroup request failed|Got error produce response|Connection|Connect|NodeNotReady|"
    r"RequestTimedOut|timed out|Unable to request metadata|Failed to connect",
    re.IGNORECASE,
)
LEADERSHIP_CHANGE = re.compile(
    r"NotLeaderForPartition|LeaderNotAvailable|NotLeaderOrFollower|UnknownTopicOrPartition"
)
"""A partition's leader moved or a new topic's leader is still being elected: the broker
answers, the client retries by itself; never a connection outage (a new topic's first produce
gets one of these on a single broker too)."""


class Incident:
    """One dependency's reachability: logs when it goes and when it comes back, counts errors."""

    def __init__(
        self,
        what: str,
        logger: Any,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self._log = logger
        self._clock = clock
        self.down = False
        self.since: float | None = None  # when it went down (monotonic)
        self.errors = 0  # errors during the current incident
        self.errors_total = 0  # errors ever
        self.incidents = 0

    def failure(self, detail: str) -> None:
        """An error talking to it; the first one of an incident is logged, the rest counted."""
        self.errors += 1
        self.errors_total += 1
        if not self.down:
            self.down = True
            self.since = self._clock()
            self.incidents += 1
            self._log.error(
                f"{self.what} unreachable; retrying, errors are counted and not logged one by one",
                detail=detail[:300],
            )

    def success(self) -> None:
        """It answered; if it was down, log that it is back, for how long it was gone and how
        many errors that caused."""
        if not self.down:
            return
        gone = self._clock() - (self.since or self._clock())
        self._log.warning(f"{self.what} reachable again", seconds=round(gone, 1), count=self.errors)
        self.down = False
        self.since = None
        self.errors = 0

    def down_for(self) -> float:
        """Seconds since it went down (0 when up)."""
        return 0.0 if self.since is None else self._clock() - self.since


class KafkaLogFilter(logging.Filter):
    """Connection errors of aiokafka's loggers go to an `Incident` instead of the log."""

    def __init__(self, incident: Incident) -> None:
        super().__init__()
        self.incident = incident
        self.suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        message = record.getMessage()
        if not self.incident.down and LEADERSHIP_CHANGE.search(message):
            return True
        if self.incident.down or CONNECTION_TROUBLE.search(message):
            self.suppressed += 1
            self.incident.failure(message)
            return False
        return True

    def install(self, prefix: str = "aiokafka") -> list[str]:
        """Attach to every logger under ``prefix`` (a logger's filters do not apply to its
        children, so each gets it); returns their names."""
        names = _loggers(prefix)
        for name in names:
            logger = logging.getLogger(name)
            if self not in logger.filters:
                logger.addFilter(self)
        return names

    def uninstall(self, prefix: str = "aiokafka") -> None:
        for name in _loggers(prefix):
            logging.getLogger(name).removeFilter(self)


def _loggers(prefix: str) -> list[str]:
    """``prefix`` and the names of the loggers under it that exist now."""
    found = {
        name
        for name, logger in list(logging.root.manager.loggerDict.items())
        if name.startswith(prefix + ".") and isinstance(logger, logging.Logger)
    }
    return sorted({prefix, *found})
