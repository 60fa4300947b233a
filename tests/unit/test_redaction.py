"""The redaction layer (`streams.logs`): secrets never reach a log line, an error or a traceback."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from streams import logs
from streams.live.settings import WorkerSettings, load_settings
from streams.logs import (
    MASK,
    Redactor,
    configure,
    redact,
    register_environment,
    register_secret,
    register_settings,
    stdlib_logging_config,
    url_secrets,
)
from streams.store import StoreError

CANARY = "canary-Secr3t-71b9"  # a value that must never show up in any text
DB_CANARY = "canary-Db-55e0"
METRICS_CANARY = "canary-Metrics-2c4d"


@pytest.fixture(autouse=True)
def fresh_secrets() -> Iterator[None]:
    """Each test starts with no registered secrets and leaves logging as it found it."""
    logs.SECRETS.clear()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    kafka_level = logging.getLogger("kafka").level
    try:
        yield
    finally:
        logs.SECRETS.clear()
        root.handlers[:] = handlers
        root.setLevel(level)
        logging.getLogger("kafka").setLevel(kafka_level)
        structlog.reset_defaults()


class TestKnownValues:
    """A registered value is masked wherever and however it is written."""

    @pytest.mark.parametrize(
        "text",
        [
            f"plain {CANARY} text",
            f"{{'sasl_plain_password': '{CANARY}'}}",
            json.dumps({"nested": {"value": CANARY}}),
            f"quoted {CANARY!r}",
            f"at the end:{CANARY}",
        ],
    )
    def test_the_value_is_masked(self, text: str) -> None:
        register_secret(CANARY)
        assert CANARY not in redact(text)
        assert MASK in redact(text)

    def test_escaped_and_encoded_forms_are_masked_too(self) -> None:
        secret = 'pa"ss\\wo rd/ü'
        register_secret(secret)
        for text in (
            json.dumps({"x": secret}),
            repr(secret),
            "postgresql://u:pa%22ss%5Cwo%20rd%2F%C3%BC@h/db",
            "a=pa%22ss%5Cwo+rd%2F%C3%BC",
        ):
            masked = redact(text)
            assert MASK in masked, text
            assert "ss\\wo" not in masked
            assert "ss%5Cwo" not in masked
            assert "ss\\\\wo" not in masked

    def test_a_longer_secret_containing_a_shorter_one_is_masked_whole(self) -> None:
        register_secret("abcdef")
        register_secret("xxabcdefyy")
        assert redact("xxabcdefyy and abcdef") == f"{MASK} and {MASK}"

    def test_a_secret_str_is_registered_by_its_value(self) -> None:
        settings = load_settings(
            WorkerSettings,
            {
                "CONTACTMON_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "CONTACTMON_SASL_MECHANISM": "SCRAM-SHA-512",
                "CONTACTMON_SASL_USERNAME": "contactmon",
                "CONTACTMON_SASL_PASSWORD": CANARY,
                "CONTACTMON_STORE_URL": f"postgresql://contactmon:{DB_CANARY}@db:5432/contactmon",
                "CONTACTMON_METRICS_USERNAME": "prometheus",
                "CONTACTMON_METRICS_PASSWORD": METRICS_CANARY,
            },
        )
        register_settings(settings)
        text = f"{CANARY} {DB_CANARY} {METRICS_CANARY}"
        assert redact(text) == f"{MASK} {MASK} {MASK}"

    def test_short_values_are_not_masked_as_values(self) -> None:
        register_secret("ab")
        assert redact("about a tab") == "about a tab"

    def test_none_and_empty_are_ignored(self) -> None:
        register_secret(None)
        register_secret("")
        assert redact("nothing to hide") == "nothing to hide"

    def test_registering_from_threads_is_safe(self) -> None:
        values = [f"secret-value-{i:03d}" for i in range(200)]
        threads = [threading.Thread(target=register_secret, args=(v,)) for v in values]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert redact("".join(values)) == MASK * 200


class TestPatterns:
    """URL passwords and password parameters are masked whoever they belong to."""

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("postgresql://u:hunter2@h:5432/db", f"postgresql://u:{MASK}@h:5432/db"),
            ("postgresql+psycopg://u:hunter2@h/db", f"postgresql+psycopg://u:{MASK}@h/db"),
            ("https://:hunter2@h/x", f"https://:{MASK}@h/x"),
            ("kafka://u:p@ss@w0rd@h:9092", f"kafka://u:{MASK}@h:9092"),
            (
                "postgresql://u@h/db?password=hunter2&x=1",
                f"postgresql://u@h/db?password={MASK}&x=1",
            ),
            ("host=db password=hunter2 dbname=x", f"host=db password={MASK} dbname=x"),
            ("host=db password = 'hunter 2' dbname=x", f"host=db password = {MASK} dbname=x"),
            ("sasl_plain_password=hunter2, x=1", f"sasl_plain_password={MASK}, x=1"),
            ("{'sasl_plain_password': 'hunter2'}", f"{{'sasl_plain_password': {MASK}}}"),
            ('{"password": "hunter2", "a": 1}', f'{{"password": {MASK}, "a": 1}}'),
            ("client_secret=hunter2", f"client_secret={MASK}"),
        ],
    )
    def test_masked(self, text: str, expected: str) -> None:
        assert redact(text) == expected

    @pytest.mark.parametrize(
        "text",
        [
            "http://127.0.0.1:6066/metrics",
            "postgresql://contactmon@db:5432/contactmon",
            "CONTACTMON_SASL_PASSWORD: required when CONTACTMON_SECURITY_PROTOCOL is SASL_SSL",
            "password_file=/etc/prometheus/metrics.password",
            "kanarie@example.nl wrote at 12:00",
        ],
    )
    def test_left_alone(self, text: str) -> None:
        assert redact(text) == text

    def test_url_secrets_finds_user_info_and_parameters(self) -> None:
        found = url_secrets("postgresql://u:p%40ss@h/db?password=q1&sslpassword=q2")
        assert {"p%40ss", "p@ss", "q1", "q2"} <= set(found)
        assert url_secrets("host=db password='a b' dbname=x") == ["a b", "a b"]
        assert url_secrets("sqlite:///contactmon.sqlite3") == []

    def test_url_secrets_never_raises(self) -> None:
        for text in ("postgresql://u:pw@[::1/db", "://", "a=", "postgresql://@", "%%%"):
            url_secrets(text)

    def test_a_redactor_of_its_own(self) -> None:
        mine = Redactor()
        mine.add("only-mine-secret")
        assert mine("only-mine-secret") == MASK
        assert redact("only-mine-secret") == "only-mine-secret"
        assert "only-mine-secret" in mine


class TestEnvironment:
    """configure() registers the CONTACTMON_* secrets before anything is logged."""

    def test_secret_names_and_url_passwords(self) -> None:
        register_environment(
            {
                "CONTACTMON_SASL_PASSWORD": CANARY,
                "CONTACTMON_SMTP_PASSWORD": "smtp-secret-1",
                "CONTACTMON_STORE_URL": f"postgresql://u:{DB_CANARY}@db/x",
                "CONTACTMON_METRICS_PASSWORD_FILE": "/etc/not-a-secret",
                "OTHER_PASSWORD": "not-ours-1",
            }
        )
        assert redact(f"{CANARY} smtp-secret-1 {DB_CANARY}") == f"{MASK} {MASK} {MASK}"
        assert redact("/etc/not-a-secret not-ours-1") == "/etc/not-a-secret not-ours-1"


class TestStructlog:
    """Lines of our own code: event, values and exception text, JSON and console alike."""

    @pytest.mark.parametrize("as_json", [True, False])
    def test_every_part_of_a_line_is_masked(
        self, as_json: bool, capsys: pytest.CaptureFixture[str]
    ) -> None:
        configure("DEBUG", json=as_json)
        register_secret(CANARY)
        log = structlog.get_logger("test")
        log.info(f"an event with {CANARY}", store=f"postgresql://u:{DB_CANARY}@h/db", detail=CANARY)
        try:
            raise RuntimeError(f"failed with password={DB_CANARY} and {CANARY}")
        except RuntimeError:
            log.exception("it broke", detail=[CANARY, {"x": CANARY}])
        err = capsys.readouterr().err
        assert "an event with" in err
        assert "it broke" in err
        assert "RuntimeError" in err
        assert CANARY not in err
        assert DB_CANARY not in err

    def test_configure_registers_the_environment(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("CONTACTMON_SASL_PASSWORD", CANARY)
        configure("INFO", json=True)
        structlog.get_logger("test").info(f"leaked {CANARY}")
        assert CANARY not in capsys.readouterr().err


class TestStandardLibrary:
    """Faust, aiokafka, kafka-python and psycopg log through the standard library."""

    def test_records_are_redacted_when_they_are_made(self) -> None:
        configure("DEBUG", json=True)
        register_secret(CANARY)
        seen: list[logging.LogRecord] = []

        class Keep(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                seen.append(record)

        logger = logging.getLogger("kafka.admin.client")
        keep = Keep(level=logging.DEBUG)
        logger.addHandler(keep)
        logger.setLevel(logging.DEBUG)
        try:
            config = {"sasl_plain_username": "contactmon", "sasl_plain_password": CANARY}
            logger.debug("Starting KafkaAdminClient with configuration: %s", config)
            try:
                raise ValueError(CANARY)
            except ValueError:
                logger.exception("failed")
        finally:
            logger.removeHandler(keep)
            logger.setLevel(logging.NOTSET)
        assert len(seen) == 2
        formatter = logging.Formatter()
        for record in seen:
            assert CANARY not in record.getMessage()
            assert CANARY not in formatter.format(record)
        assert "sasl_plain_password" in seen[0].getMessage()

    def test_the_cli_handler_redacts(self) -> None:
        stream = io.StringIO()
        root = logging.getLogger()
        root.handlers[:] = []
        configure("DEBUG", json=True)
        register_secret(CANARY)
        handler = root.handlers[0]
        assert isinstance(handler.formatter, logs.RedactingFormatter)
        handler.setStream(stream)  # type: ignore[attr-defined]
        logging.getLogger("psycopg").warning("dsn %s", f"password={CANARY}")
        assert CANARY not in stream.getvalue()
        assert "psycopg WARNING dsn password=***" in stream.getvalue()

    @pytest.mark.parametrize("as_json", [True, False])
    def test_the_worker_bridge_redacts(
        self, as_json: bool, capsys: pytest.CaptureFixture[str]
    ) -> None:
        register_secret(CANARY)
        logging.config.dictConfig(stdlib_logging_config("DEBUG", json=as_json))
        logger = logging.getLogger("faust.worker")
        logger.info("conf %r", {"broker_credentials": CANARY})
        try:
            raise ConnectionError(f"postgresql://u:{DB_CANARY}@h/db refused")
        except ConnectionError:
            logger.exception("crashed")
        err = capsys.readouterr().err
        assert "crashed" in err
        assert "ConnectionError" in err
        assert CANARY not in err
        assert DB_CANARY not in err


class TestUncaught:
    """A crash prints its traceback through the same layer."""

    def test_excepthook(self, capsys: pytest.CaptureFixture[str]) -> None:
        register_secret(CANARY)
        try:
            raise RuntimeError(f"boom {CANARY}")
        except RuntimeError as exc:
            logs._print_exception(type(exc), exc, exc.__traceback__)
        err = capsys.readouterr().err
        assert "RuntimeError: boom ***" in err

    def test_threads(self, capsys: pytest.CaptureFixture[str]) -> None:
        register_secret(CANARY)
        logs.install_redaction()

        def fail() -> Any:
            raise RuntimeError(f"thread boom {CANARY}")

        thread = threading.Thread(target=fail, name="kafka-io")
        thread.start()
        thread.join()
        err = capsys.readouterr().err
        assert "Exception in kafka-io" in err
        assert "thread boom ***" in err


class TestErrors:
    """Error types that carry user input redact themselves."""

    def test_store_error(self) -> None:
        register_secret(CANARY)
        error = StoreError(f"cannot open postgresql://u:{DB_CANARY}@h/db with {CANARY}")
        assert str(error) == f"cannot open postgresql://u:{MASK}@h/db with {MASK}"
