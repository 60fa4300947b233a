"""structlog set-up: configured once at start-up; modules only call ``structlog.get_logger()``.

JSON lines when stderr is not a terminal, a console renderer when it is. An allow-list processor
drops every key that is not known to be free of personal data, so a subject, a payload or a name
can never reach a log line by accident (privacy by design; see tests/unit/test_privacy.py).
"""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from collections.abc import Callable, MutableMapping
from typing import Any

import structlog

ALLOWED_KEYS = frozenset(
    {
        "event",
        "level",
        "timestamp",
        "logger",
        "reason",
        "field",
        "detail",
        "municipality",
        "partition",
        "offset",
        "type",
        "count",
        "events",
        "accepted",
        "rejected",
        "duplicates",
        "held",
        "seconds",
        "rate",
        "path",
        "store",
        "month",
        "format",
        "rows",
        "files",
        "until",
        "norms",
        "line",
        "file",
        "exc_info",
    }
)


def allow_list(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Keep only keys on the allow-list; name the dropped ones so a developer notices."""
    dropped = sorted(k for k in event_dict if k not in ALLOWED_KEYS)
    for key in dropped:
        del event_dict[key]
    if dropped:
        event_dict["dropped_keys"] = ",".join(dropped)
    return event_dict


def configure(level: str = "INFO", json: bool | None = None) -> None:
    """Configure structlog (and route stdlib logging through the same level)."""
    as_json = not sys.stderr.isatty() if json is None else json
    renderer: Any = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            allow_list,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        # resolve sys.stderr when a logger is built, not at configure time, and do not cache: the
        # CLI may be configured again (tests call main() many times, each with a fresh stderr)
        logger_factory=lambda *_: structlog.PrintLogger(sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=level, stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")
    if level != "DEBUG":  # kafka-python logs every connection attempt at INFO and ERROR
        logging.getLogger("kafka").setLevel(logging.CRITICAL)


def stdlib_logging_config(level: str = "INFO", json: bool | None = None) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` that renders stdlib records (Faust, aiokafka, kafka-python)
    through the same processors as structlog, so the worker's log is one stream of one format."""
    as_json = not sys.stderr.isatty() if json is None else json
    renderer: Any = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structlog": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    allow_list,
                    renderer,
                ],
                "foreign_pre_chain": [
                    structlog.stdlib.add_log_level,
                    structlog.stdlib.add_logger_name,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                ],
            }
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "structlog",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "aiokafka": {"level": "WARNING"},
            "kafka": {"level": "WARNING"},
        },
    }


class RejectionLog:
    """Logs rejected events once each, but at most ``per_minute`` lines per reason a minute.

    500,000 bad lines must not become 500,000 log lines: past the limit rejections are counted, and
    one summary line per reason says how many were not logged one by one (when the minute is over,
    and at :meth:`flush`). Nothing of the event itself is logged: reason, field and detail only.
    """

    def __init__(
        self,
        logger: Any,
        per_minute: int = 10,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._per_minute = per_minute
        self._clock = clock
        self._window: dict[str, tuple[float, int]] = {}  # reason -> (window start, logged)
        self._suppressed: Counter[str] = Counter()

    def rejected(self, reason: str, field: str | None, detail: str) -> None:
        now = self._clock()
        start, logged = self._window.get(reason, (now, 0))
        if now - start >= 60.0:
            self._summarise(reason)
            start, logged = now, 0
        if logged < self._per_minute:
            self._log.warning("event rejected", reason=reason, field=field, detail=detail)
            self._window[reason] = (start, logged + 1)
        else:
            self._window[reason] = (start, logged)
            self._suppressed[reason] += 1

    def _summarise(self, reason: str) -> None:
        count = self._suppressed.pop(reason, 0)
        if count:
            self._log.warning(
                "more events rejected, not logged one by one", reason=reason, count=count
            )

    def flush(self) -> None:
        """Write the summary lines of everything not logged one by one so far."""
        for reason in sorted(self._suppressed):
            self._summarise(reason)
