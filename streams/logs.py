"""structlog set-up and the redaction layer: configured once at start-up; modules only call
``structlog.get_logger()``.

JSON lines when stderr is not a terminal, a console renderer when it is. An allow-list processor
drops every key that is not known to be free of personal data, so a subject, a payload or a name
can never reach a log line by accident (privacy by design; see tests/unit/test_privacy.py).

Secrets never reach a log line, an error message or a traceback: every line passes `redact`, one
layer for all of them.

- `SECRETS` holds the secret values this process knows: every ``SecretStr`` of its settings
  (`register_settings`), the passwords of store URLs (`register_url`, called by ``open_store``),
  and, from the moment `configure` runs, every ``CONTACTMON_*`` environment variable whose name
  says it holds a secret (``..._PASSWORD``, ``..._SECRET``, ``..._TOKEN``) or that is a URL with a
  password (`register_environment`). Each value is masked as it is, percent-encoded, and escaped
  as JSON and ``repr`` would escape it, wherever it appears in the text.
- Besides the known values, the password of any ``scheme://user:password@host`` URL and the value
  of any ``password=...`` (libpq, kafka-python's config) or ``'password': ...`` (a dict's repr,
  JSON) are masked, whoever's they are.

Where the layer sits: a structlog processor (`redact_event`, after the exception is formatted)
and a last one on the rendered line (`redact_rendered`), in both `configure` (the CLI) and
`stdlib_logging_config` (the worker's bridge for Faust, aiokafka, kafka-python and psycopg, which
log through the standard library). Standard-library records are also redacted when they are made
(a log record factory), whichever handler writes them; uncaught exceptions are printed redacted
(``sys.excepthook`` and ``threading.excepthook``). Error types that carry user input, such as
``StoreError``, redact their own message.
"""

from __future__ import annotations

import json as jsonlib
import logging
import os
import re
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Mapping, MutableMapping
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

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


# ---- secrets -------------------------------------------------------------------------------

MASK = "***"
"""What a secret is replaced by."""

MIN_SECRET_LENGTH = 3
"""Shorter values are not masked as known values: masking every "ab" would garble every line
(a URL's password and a ``password=`` value are masked whatever their length)."""

# the password of scheme://user:password@host (greedy up to the last @ of the word: a password
# with an unescaped @ is masked whole; masking a little too much is harmless)
# (it starts at "://", a literal the regex engine finds fast; the scheme does not matter)
_URL_PASSWORD = re.compile(r"(://[^\s/?#@:'\"]*:)[^\s'\"]*@")
_SECRET_KEY = r"[\w.\-]*(?:password|passwd|pwd|secret)"
_VALUE = r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s&;,'")}\]]+)"""
# password=value, password = 'value' (libpq key=value strings, query strings, keyword arguments)
_SECRET_PARAM = re.compile(rf"(?i)(\b{_SECRET_KEY}\s*=\s*){_VALUE}")
# 'password': value, "password": value (a dict's repr, JSON)
_SECRET_ITEM = re.compile(rf"""(?i)(['"]{_SECRET_KEY}['"]\s*:\s*){_VALUE}""")

_SECRET_WORDS = ("password", "passwd", "pwd", "secret")
_SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN)", re.IGNORECASE)


def _variants(secret: str) -> set[str]:
    """The ways ``secret`` can be written into text: as is, percent-encoded, JSON- and
    repr-escaped."""
    return {
        secret,
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        jsonlib.dumps(secret)[1:-1],
        jsonlib.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
    }


class Redactor:
    """Masks secrets in text: the values registered with `add`, URL passwords and password
    parameters. Thread-safe; registering is rare (start-up), redacting is every line."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._known: re.Pattern[str] | None = None

    def add(self, secret: object) -> None:
        """Remember a secret value (a str or a pydantic ``SecretStr``); None and "" are ignored."""
        value = _secret_value(secret)
        if value is None or len(value) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            new = {v for v in _variants(value) if len(v) >= MIN_SECRET_LENGTH} - self._secrets
            if not new:
                return
            self._secrets |= new
            ordered = sorted(self._secrets, key=lambda v: (-len(v), v))  # longest first
            self._known = re.compile("|".join(re.escape(v) for v in ordered))

    def clear(self) -> None:
        """Forget every registered value (for tests)."""
        with self._lock:
            self._secrets.clear()
            self._known = None

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and value in self._secrets

    def __call__(self, text: str) -> str:
        """``text`` with every secret in it masked."""
        known = self._known
        if known is not None:
            text = known.sub(MASK, text)  # (a str replacement: no template to expand)
        if "://" in text and "@" in text:
            text = _URL_PASSWORD.sub(_mask_url, text)
        lowered = text.lower()
        if any(word in lowered for word in _SECRET_WORDS):  # the patterns only when they can match
            if "=" in text:
                text = _SECRET_PARAM.sub(_mask_value, text)
            if ":" in text:
                text = _SECRET_ITEM.sub(_mask_value, text)
        return text


def _mask_url(match: re.Match[str]) -> str:
    return f"{match.group(1)}{MASK}@"


def _mask_value(match: re.Match[str]) -> str:
    return f"{match.group(1)}{MASK}"


def _secret_value(secret: object) -> str | None:
    if secret is None:
        return None
    getter = getattr(secret, "get_secret_value", None)  # pydantic's SecretStr
    value = getter() if callable(getter) else secret
    return value if isinstance(value, str) and value else None


SECRETS = Redactor()
"""The secrets of this process; `redact` masks them."""


def redact(text: str) -> str:
    """``text`` with every known secret, URL password and password parameter masked."""
    return SECRETS(text)


def register_secret(secret: object) -> None:
    """Mask this value (a str or ``SecretStr``) wherever it appears from now on."""
    SECRETS.add(secret)


def url_secrets(url: str) -> list[str]:
    """The passwords a URL or a libpq ``key=value`` string carries: in its user info (as
    written and decoded) and in ``password=`` parameters. Never raises."""
    found: list[str] = []
    for match in _SECRET_PARAM.finditer(url):
        value = match.group(2)
        if value[:1] in "'\"" and value[-1:] == value[:1] and len(value) >= 2:
            value = value[1:-1]
        found += [value, unquote(value)]
    if "://" in url:
        userinfo = url.partition("://")[2]
        userinfo = re.split(r"[/?#\s]", userinfo, maxsplit=1)[0]
        if "@" in userinfo:
            credentials = userinfo.rpartition("@")[0]
            if ":" in credentials:
                password = credentials.partition(":")[2]
                found += [password, unquote(password)]
        try:
            query = urlsplit(url).query
        except ValueError:
            query = url.partition("?")[2]
        found += [v for k, v in parse_qsl(query) if _SECRET_NAME.search(k)]
    return [value for value in found if value]


def register_url(url: str) -> None:
    """Mask the passwords in this URL (see `url_secrets`) from now on."""
    for secret in url_secrets(url):
        SECRETS.add(secret)


def register_settings(settings: Any) -> None:
    """Mask every secret of a pydantic settings model: each ``SecretStr`` field, and the
    passwords of each text field that is a URL (the store URL)."""
    for name in type(settings).model_fields:
        value = getattr(settings, name, None)
        if hasattr(value, "get_secret_value"):
            SECRETS.add(value)
        elif isinstance(value, str) and ("://" in value or "=" in value):
            register_url(value)


def register_environment(environ: Mapping[str, str] | None = None) -> None:
    """Mask the secrets of the ``CONTACTMON_*`` variables: those whose name says secret
    (``..._PASSWORD``, ``..._SECRET``, ``..._TOKEN``) and the passwords in URL values."""
    environ = os.environ if environ is None else environ
    for name, value in environ.items():
        if not name.upper().startswith("CONTACTMON_") or not value:
            continue
        if _SECRET_NAME.search(name.upper().removeprefix("CONTACTMON_")):
            if name.upper().endswith(("_FILE", "_PATH")):
                continue  # a path to a secret, not the secret
            SECRETS.add(value)
        elif "://" in value or "=" in value:
            register_url(value)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return SECRETS(value)
    if isinstance(value, Mapping):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(v) for v in value]
    if isinstance(value, BaseException):
        return SECRETS(f"{type(value).__name__}: {value}")
    if value is None or isinstance(value, bool | int | float):
        return value
    return SECRETS(repr(value))


def redact_event(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask secrets in every value (after ``format_exc_info``)."""
    for key, value in list(event_dict.items()):
        if key.startswith("_"):  # ProcessorFormatter's _record, _from_structlog
            continue
        event_dict[key] = _redact_value(value)
    return event_dict


def redact_rendered(_logger: Any, _name: str, line: Any) -> Any:
    """structlog processor after the renderer: mask secrets in the rendered line itself."""
    if isinstance(line, str):
        return SECRETS(line)
    if isinstance(line, bytes):
        return SECRETS(line.decode("utf-8", "replace")).encode()
    return line


# ---- the standard library's records and uncaught exceptions --------------------------------


def _redact_record(record: logging.LogRecord) -> None:
    """Mask secrets in a record's message and exception text, in place."""
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: leave it to the handler to report
        return
    masked = SECRETS(message)
    if masked != message:
        record.msg, record.args = masked, ()
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        record.exc_text = SECRETS("".join(traceback.format_exception(*record.exc_info)).rstrip())


def _install_record_factory() -> None:
    """Redact every standard-library log record when it is made (once per process)."""
    current = logging.getLogRecordFactory()
    if getattr(current, "contactmon_redacting", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        _redact_record(record)
        return record

    factory.contactmon_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def _print_exception(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    sys.stderr.write(SECRETS(text))
    sys.stderr.flush()


def _thread_exception(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "a thread"
    sys.stderr.write(f"Exception in {name}:\n")
    _print_exception(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback)


def install_redaction() -> None:
    """Redact standard-library records at birth and uncaught exceptions; register the
    environment's secrets. Idempotent; `configure` calls it."""
    register_environment()
    _install_record_factory()
    sys.excepthook = _print_exception
    threading.excepthook = _thread_exception


class RedactingFormatter(logging.Formatter):
    """A plain ``logging.Formatter`` whose output passes `redact` (the CLI's stdlib handler)."""

    def format(self, record: logging.LogRecord) -> str:
        return SECRETS(super().format(record))


def _renderer(as_json: bool) -> Any:
    if as_json:
        return structlog.processors.JSONRenderer()
    # plain tracebacks: a pretty one (rich) would print the frames' local variables
    return structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)


def configure(level: str = "INFO", json: bool | None = None) -> None:
    """Configure structlog (and route stdlib logging through the same level), with redaction."""
    install_redaction()
    as_json = not sys.stderr.isatty() if json is None else json
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            allow_list,
            structlog.processors.format_exc_info,
            redact_event,
            _renderer(as_json),
            redact_rendered,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        # resolve sys.stderr when a logger is built, not at configure time, and do not cache: the
        # CLI may be configured again (tests call main() many times, each with a fresh stderr)
        logger_factory=lambda *_: structlog.PrintLogger(sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=level, stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")
    for handler in logging.getLogger().handlers:
        if type(handler.formatter) is logging.Formatter:  # basicConfig's: make it redact
            handler.setFormatter(RedactingFormatter(handler.formatter._fmt))
    if level != "DEBUG":  # kafka-python logs every connection attempt at INFO and ERROR
        logging.getLogger("kafka").setLevel(logging.CRITICAL)


def stdlib_logging_config(level: str = "INFO", json: bool | None = None) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` that renders stdlib records (Faust, aiokafka, kafka-python,
    psycopg) through the same processors as structlog, redaction included, so the worker's log
    is one stream of one format."""
    install_redaction()
    as_json = not sys.stderr.isatty() if json is None else json
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structlog": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    allow_list,
                    structlog.processors.format_exc_info,
                    redact_event,
                    _renderer(as_json),
                    redact_rendered,
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
