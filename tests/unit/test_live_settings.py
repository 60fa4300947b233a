"""Tests for `streams.live.settings`: the CONTACTMON_* variables, their checks and the models."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pydantic import Field

from streams.live.settings import (
    KafkaSettings,
    SettingsError,
    WorkerSettings,
    load_settings,
    parse_bootstrap_servers,
)
from streams.store.base import DEFAULT_STORE_URL

PASSWORD = "canary-Pa55word-7f3e"  # a value that must never show up in any text
SASL = {
    "CONTACTMON_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "CONTACTMON_SASL_MECHANISM": "SCRAM-SHA-512",
    "CONTACTMON_SASL_USERNAME": "contactmon",
    "CONTACTMON_SASL_PASSWORD": PASSWORD,
}


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A self-signed certificate and its key, made with the openssl command; the cert is the CA."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ],
        check=True,
        capture_output=True,
    )
    return {"ca": cert, "cert": cert, "key": key}


def problems(environ: dict[str, str]) -> list[str]:
    """The lines of the SettingsError that ``environ`` gives."""
    with pytest.raises(SettingsError) as caught:
        load_settings(KafkaSettings, environ)
    assert str(caught.value) == "\n".join(caught.value.problems)
    return caught.value.problems


class TestDefaults:
    """Without variables: a local plaintext broker and the contract's topics."""

    def test_values(self) -> None:
        settings = load_settings(KafkaSettings, {})
        assert settings.bootstrap_servers == "127.0.0.1:9092"
        assert settings.servers == ["127.0.0.1:9092"]
        assert settings.security_protocol == "PLAINTEXT"
        assert (settings.sasl_mechanism, settings.sasl_username, settings.sasl_password) == (
            None,
            None,
            None,
        )
        assert (settings.ssl_cafile, settings.ssl_certfile, settings.ssl_keyfile) == (
            None,
            None,
            None,
        )
        assert settings.events_topic == "contact.events"
        assert settings.dlq_topic == "contact.events.dlq"
        assert (settings.partitions, settings.replication_factor) == (12, 1)


class TestEnvironment:
    """Every setting is read from its CONTACTMON_ variable; overrides beat the environment."""

    def test_every_variable(self, tls_files: dict[str, Path]) -> None:
        environ = {
            **SASL,
            "CONTACTMON_SECURITY_PROTOCOL": "SASL_SSL",
            "CONTACTMON_BOOTSTRAP_SERVERS": " kafka-1:9093, kafka-2:9093 ,[::1]:9093",
            "CONTACTMON_SSL_CAFILE": str(tls_files["ca"]),
            "CONTACTMON_SSL_CERTFILE": str(tls_files["cert"]),
            "CONTACTMON_SSL_KEYFILE": str(tls_files["key"]),
            "CONTACTMON_EVENTS_TOPIC": "test.events",
            "CONTACTMON_DLQ_TOPIC": "test.events.dlq",
            "CONTACTMON_PARTITIONS": "12",
            "CONTACTMON_REPLICATION_FACTOR": "3",
        }
        settings = load_settings(KafkaSettings, environ)
        assert settings.servers == ["kafka-1:9093", "kafka-2:9093", "[::1]:9093"]
        assert settings.bootstrap_servers == "kafka-1:9093,kafka-2:9093,[::1]:9093"
        assert settings.security_protocol == "SASL_SSL"
        assert settings.sasl_mechanism == "SCRAM-SHA-512"
        assert settings.sasl_username == "contactmon"
        assert settings.sasl_password is not None
        assert settings.sasl_password.get_secret_value() == PASSWORD
        assert settings.ssl_cafile == tls_files["ca"]
        assert settings.ssl_keyfile == tls_files["key"]
        assert (settings.events_topic, settings.dlq_topic) == ("test.events", "test.events.dlq")
        assert (settings.partitions, settings.replication_factor) == (12, 3)

    def test_names_are_case_insensitive_and_empty_means_unset(self) -> None:
        settings = load_settings(
            KafkaSettings, {"contactmon_partitions": "2", "CONTACTMON_SASL_MECHANISM": ""}
        )
        assert settings.partitions == 2
        assert settings.sasl_mechanism is None

    def test_other_variables_are_ignored(self) -> None:
        environ = {"CONTACTMON_STORE_URL": "postgresql://x", "PARTITIONS": "0", "HOME": "/root"}
        assert load_settings(KafkaSettings, environ) == load_settings(KafkaSettings, {})

    def test_reads_the_process_environment_by_default(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("CONTACTMON_PARTITIONS", "6")
        assert load_settings(KafkaSettings).partitions == 6
        assert KafkaSettings().partitions == 6

    def test_a_given_mapping_shuts_out_the_process_environment(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("CONTACTMON_PARTITIONS", "6")
        assert load_settings(KafkaSettings, {}).partitions == 12

    def test_overrides_win_and_are_checked(self) -> None:
        environ = {"CONTACTMON_BOOTSTRAP_SERVERS": "env-host:9092"}
        settings = load_settings(
            KafkaSettings, environ, overrides={"bootstrap_servers": "cli-host:9092"}
        )
        assert settings.servers == ["cli-host:9092"]
        with pytest.raises(SettingsError, match=r"^CONTACTMON_PARTITIONS: "):
            load_settings(KafkaSettings, {}, overrides={"partitions": 0})


class TestValidation:
    """A bad value stops with one line per bad variable, each naming that variable."""

    @pytest.mark.parametrize(
        ("environ", "line"),
        [
            (
                {"CONTACTMON_PARTITIONS": "0"},
                "CONTACTMON_PARTITIONS: Input should be greater than or equal to 1",
            ),
            (
                {"CONTACTMON_REPLICATION_FACTOR": "three"},
                "CONTACTMON_REPLICATION_FACTOR: Input should be a valid integer, unable to parse "
                "string as an integer",
            ),
            (
                {"CONTACTMON_SECURITY_PROTOCOL": "TLS"},
                "CONTACTMON_SECURITY_PROTOCOL: Input should be 'PLAINTEXT', 'SSL', "
                "'SASL_PLAINTEXT' or 'SASL_SSL'",
            ),
            (
                {**SASL, "CONTACTMON_SASL_MECHANISM": "GSSAPI"},
                "CONTACTMON_SASL_MECHANISM: Input should be 'PLAIN', 'SCRAM-SHA-256' or "
                "'SCRAM-SHA-512'",
            ),
            (
                {"CONTACTMON_BOOTSTRAP_SERVERS": "kafka-1:9092,,kafka-2:9092"},
                "CONTACTMON_BOOTSTRAP_SERVERS: an empty entry in 'kafka-1:9092,,kafka-2:9092' "
                "(expected host:port[,host:port...])",
            ),
            (
                {"CONTACTMON_BOOTSTRAP_SERVERS": "kafka-1:9092:1"},
                "CONTACTMON_BOOTSTRAP_SERVERS: not a host:port: 'kafka-1:9092:1'",
            ),
            (
                {"CONTACTMON_EVENTS_TOPIC": "contact events"},
                "CONTACTMON_EVENTS_TOPIC: String should match pattern '^[A-Za-z0-9._-]{1,249}$'",
            ),
            (
                {"CONTACTMON_DLQ_TOPIC": "contact.events"},
                "CONTACTMON_DLQ_TOPIC: must differ from CONTACTMON_EVENTS_TOPIC (both are "
                "contact.events)",
            ),
            (
                {"CONTACTMON_SECURITY_PROTOCOL": "SSL", "CONTACTMON_SSL_CAFILE": "/no/such/ca.pem"},
                "CONTACTMON_SSL_CAFILE: Path does not point to a file",
            ),
        ],
    )
    def test_names_the_variable(self, environ: dict[str, str], line: str) -> None:
        assert problems(environ) == [line]

    @pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
    def test_sasl_needs_mechanism_username_and_password(self, protocol: str) -> None:
        assert problems({"CONTACTMON_SECURITY_PROTOCOL": protocol}) == [
            f"CONTACTMON_SASL_MECHANISM: required when CONTACTMON_SECURITY_PROTOCOL is {protocol}",
            f"CONTACTMON_SASL_USERNAME: required when CONTACTMON_SECURITY_PROTOCOL is {protocol}",
            f"CONTACTMON_SASL_PASSWORD: required when CONTACTMON_SECURITY_PROTOCOL is {protocol}",
        ]

    def test_sasl_settings_without_a_sasl_protocol(self) -> None:
        environ = {**SASL, "CONTACTMON_SECURITY_PROTOCOL": "SSL"}
        lines = problems(environ)
        assert [line.split(":")[0] for line in lines] == [
            "CONTACTMON_SASL_MECHANISM",
            "CONTACTMON_SASL_USERNAME",
            "CONTACTMON_SASL_PASSWORD",
        ]
        assert all("CONTACTMON_SECURITY_PROTOCOL is SSL" in line for line in lines)

    def test_tls_files_without_a_tls_protocol(self, tls_files: dict[str, Path]) -> None:
        lines = problems({"CONTACTMON_SSL_CAFILE": str(tls_files["ca"])})
        assert lines == [
            "CONTACTMON_SSL_CAFILE: set, but CONTACTMON_SECURITY_PROTOCOL is PLAINTEXT; "
            "TLS files need SSL or SASL_SSL"
        ]

    def test_a_key_needs_its_certificate(self, tls_files: dict[str, Path]) -> None:
        environ = {
            "CONTACTMON_SECURITY_PROTOCOL": "SSL",
            "CONTACTMON_SSL_KEYFILE": str(tls_files["key"]),
        }
        assert problems(environ) == [
            "CONTACTMON_SSL_CERTFILE: required when CONTACTMON_SSL_KEYFILE is set "
            "(the client certificate for that key)"
        ]

    def test_every_bad_variable_gets_its_own_line(self) -> None:
        lines = problems(
            {
                "CONTACTMON_PARTITIONS": "-1",
                "CONTACTMON_REPLICATION_FACTOR": "0",
                "CONTACTMON_SECURITY_PROTOCOL": "plain",
            }
        )
        assert sorted(line.split(":")[0] for line in lines) == [
            "CONTACTMON_PARTITIONS",
            "CONTACTMON_REPLICATION_FACTOR",
            "CONTACTMON_SECURITY_PROTOCOL",
        ]

    def test_settings_error_is_a_value_error(self) -> None:
        assert issubclass(SettingsError, ValueError)

    def test_parse_bootstrap_servers(self) -> None:
        assert parse_bootstrap_servers("a:1, b ,c:3") == ["a:1", "b", "c:3"]
        with pytest.raises(ValueError, match="no bootstrap server"):
            parse_bootstrap_servers(" ")


class TestSecrets:
    """The SASL password shows up in no text: not in repr, str, dumps or error messages."""

    def test_not_in_repr_or_str(self) -> None:
        settings = load_settings(KafkaSettings, SASL)
        assert PASSWORD not in repr(settings)
        assert PASSWORD not in str(settings)
        assert PASSWORD not in settings.model_dump_json()
        assert "**********" in repr(settings)

    def test_not_in_errors(self) -> None:
        environ = {
            **SASL,
            "CONTACTMON_PARTITIONS": "0",
            "CONTACTMON_SECURITY_PROTOCOL": "PLAINTEXT",
        }
        with pytest.raises(SettingsError) as caught:
            load_settings(KafkaSettings, environ)
        assert PASSWORD not in str(caught.value)
        settings_without_partitions = {k: v for k, v in environ.items() if "PARTITIONS" not in k}
        with pytest.raises(SettingsError) as caught:
            load_settings(KafkaSettings, settings_without_partitions)
        assert "CONTACTMON_SASL_PASSWORD" in str(caught.value)
        assert PASSWORD not in str(caught.value)

    def test_a_password_with_a_bad_type_is_not_echoed(self) -> None:
        with pytest.raises(SettingsError) as caught:
            load_settings(KafkaSettings, {}, overrides={"sasl_password": [PASSWORD]})
        assert str(caught.value).startswith("CONTACTMON_SASL_PASSWORD: ")
        assert PASSWORD not in str(caught.value)


class WorkerLikeSettings(KafkaSettings):
    """A subclass as the worker's settings are: extra fields, same prefix and checks."""

    metrics_port: int = Field(default=9100, ge=1, le=65535)
    store_url: str = "sqlite:///contactmon.db"


class TestSubclass:
    """A subclass reads its own fields from CONTACTMON_ variables and keeps the Kafka checks."""

    def test_reads_its_fields(self) -> None:
        environ = {"CONTACTMON_METRICS_PORT": "9200", "CONTACTMON_PARTITIONS": "2"}
        settings = load_settings(WorkerLikeSettings, environ)
        assert isinstance(settings, WorkerLikeSettings)
        assert (settings.metrics_port, settings.partitions) == (9200, 2)
        assert settings.store_url == "sqlite:///contactmon.db"

    def test_names_its_variables_in_errors(self) -> None:
        with pytest.raises(SettingsError) as caught:
            load_settings(
                WorkerLikeSettings,
                {"CONTACTMON_METRICS_PORT": "0", "CONTACTMON_SECURITY_PROTOCOL": "SASL_SSL"},
            )
        assert caught.value.problems == [
            "CONTACTMON_METRICS_PORT: Input should be greater than or equal to 1"
        ]
        with pytest.raises(SettingsError, match="CONTACTMON_SASL_USERNAME: required"):
            load_settings(WorkerLikeSettings, {"CONTACTMON_SECURITY_PROTOCOL": "SASL_SSL"})


class TestWorkerSettings:
    """The worker's model: Kafka's fields and checks plus its own, each documented and named."""

    def test_defaults(self) -> None:
        settings = load_settings(WorkerSettings, {})
        assert settings.partitions == 12
        assert settings.group_id == "contactmon"
        assert settings.store_url == DEFAULT_STORE_URL
        assert (settings.metrics_host, settings.metrics_port) == ("127.0.0.1", 6066)
        assert settings.data_dir == Path("contactmon-data")
        assert (settings.clock, settings.lateness) == ("wall", 300.0)
        assert (settings.checkpoint_interval, settings.checkpoint_every) == (5.0, 10_000)
        assert settings.log_level == "INFO"

    def test_reads_its_variables_and_keeps_the_kafka_checks(self) -> None:
        environ = {"CONTACTMON_CHECKPOINT_EVERY": "500", "CONTACTMON_CLOCK": "event"}
        settings = load_settings(WorkerSettings, environ)
        assert (settings.checkpoint_every, settings.clock) == (500, "event")
        with pytest.raises(SettingsError) as caught:
            load_settings(
                WorkerSettings,
                {"CONTACTMON_SESSION_TIMEOUT": "1", "CONTACTMON_SECURITY_PROTOCOL": "SASL_SSL"},
            )
        assert caught.value.problems == [
            "CONTACTMON_SESSION_TIMEOUT: Input should be greater than or equal to 6"
        ]

    @pytest.mark.parametrize("model", [KafkaSettings, WorkerSettings])
    def test_every_field_has_a_description(self, model: type[KafkaSettings]) -> None:
        undocumented = [name for name, info in model.model_fields.items() if not info.description]
        assert undocumented == []

    def test_env_names(self) -> None:
        assert WorkerSettings.env_name("checkpoint_every") == "CONTACTMON_CHECKPOINT_EVERY"
        assert KafkaSettings.env_name("partitions") == "CONTACTMON_PARTITIONS"

    def test_secret_fields_are_the_secret_strings(self) -> None:
        assert KafkaSettings.secret_fields() == ["sasl_password"]
        assert WorkerSettings.secret_fields() == ["sasl_password", "metrics_password"]
        assert WorkerLikeSettings.secret_fields() == ["sasl_password"]
