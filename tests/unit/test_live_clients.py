"""Tests for `streams.live.clients`: one set of credentials, in each client library's terms."""

from __future__ import annotations

import inspect
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # type: ignore[import-untyped]
from faust.auth import SASLCredentials, SSLCredentials
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from streams.live.clients import (
    faust_credentials,
    kafka_credentials,
    kafka_python_kwargs,
)
from streams.live.settings import KafkaSettings, load_settings

PASSWORD = "canary-Pa55word-7f3e"  # a value that must never show up in any text
SASL = {
    "CONTACTMON_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "CONTACTMON_SASL_MECHANISM": "SCRAM-SHA-512",
    "CONTACTMON_SASL_USERNAME": "contactmon",
    "CONTACTMON_SASL_PASSWORD": PASSWORD,
}
PROTOCOLS = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]


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


def settings_for(protocol: str, tls_files: dict[str, Path] | None = None) -> KafkaSettings:
    """Settings with ``protocol``, SASL when it asks for it, the TLS files when given and used."""
    environ = {**SASL} if protocol.startswith("SASL_") else {}
    environ["CONTACTMON_SECURITY_PROTOCOL"] = protocol
    if tls_files is not None and protocol.endswith("SSL"):
        environ["CONTACTMON_SSL_CAFILE"] = str(tls_files["ca"])
        environ["CONTACTMON_SSL_CERTFILE"] = str(tls_files["cert"])
        environ["CONTACTMON_SSL_KEYFILE"] = str(tls_files["key"])
    return load_settings(KafkaSettings, environ)


def aiokafka_kwargs(settings: KafkaSettings) -> dict[str, Any]:
    """What Faust hands aiokafka for the app's ``broker_credentials``."""
    return dict(credentials_to_aiokafka_auth(faust_credentials(settings)))


class TestCredentials:
    """The settings' SASL and TLS are read once, into one library-neutral value."""

    def test_plaintext_has_neither(self) -> None:
        credentials = kafka_credentials(load_settings(KafkaSettings, {}))
        assert credentials.security_protocol == "PLAINTEXT"
        assert not credentials.uses_sasl
        assert credentials.ssl_context is None

    def test_sasl(self) -> None:
        credentials = kafka_credentials(load_settings(KafkaSettings, SASL))
        assert credentials.uses_sasl
        assert (credentials.sasl_mechanism, credentials.sasl_username) == (
            "SCRAM-SHA-512",
            "contactmon",
        )
        assert credentials.sasl_password == PASSWORD
        assert PASSWORD not in repr(credentials)

    def test_tls_context_from_the_files(self, tls_files: dict[str, Path]) -> None:
        context = kafka_credentials(settings_for("SSL", tls_files)).ssl_context
        assert isinstance(context, ssl.SSLContext)
        assert context.check_hostname
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert [cert["subject"] for cert in context.get_ca_certs()] == [
            ((("commonName", "localhost"),),)
        ]

    def test_tls_without_files_trusts_the_system(self) -> None:
        context = kafka_credentials(settings_for("SSL")).ssl_context
        assert context is not None
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert context.check_hostname


class TestKafkaPython:
    """kafka-python's kwargs carry the credentials, and its clients accept every key."""

    def test_plain(self) -> None:
        assert kafka_python_kwargs(load_settings(KafkaSettings, {})) == {
            "bootstrap_servers": ["127.0.0.1:9092"],
            "security_protocol": "PLAINTEXT",
        }

    def test_sasl(self) -> None:
        assert kafka_python_kwargs(load_settings(KafkaSettings, SASL)) == {
            "bootstrap_servers": ["127.0.0.1:9092"],
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": "contactmon",
            "sasl_plain_password": PASSWORD,
        }

    def test_sasl_ssl_gets_the_tls_context(self, tls_files: dict[str, Path]) -> None:
        kwargs = kafka_python_kwargs(settings_for("SASL_SSL", tls_files))
        assert kwargs["security_protocol"] == "SASL_SSL"
        assert kwargs["sasl_plain_password"] == PASSWORD
        assert isinstance(kwargs["ssl_context"], ssl.SSLContext)
        assert not any(key.startswith("ssl_") and key != "ssl_context" for key in kwargs)

    @pytest.mark.parametrize("client", [KafkaProducer, KafkaConsumer, KafkaAdminClient])
    @pytest.mark.parametrize("protocol", PROTOCOLS)
    def test_knows_every_key(self, client: type, protocol: str, tls_files: dict[str, Path]) -> None:
        kwargs = kafka_python_kwargs(settings_for(protocol, tls_files))
        assert set(kwargs) <= set(client.DEFAULT_CONFIG)  # type: ignore[attr-defined]


class TestFaust:
    """Faust's broker credentials reach aiokafka as the same login kafka-python gets."""

    def test_plaintext_needs_none(self) -> None:
        assert faust_credentials(load_settings(KafkaSettings, {})) is None

    def test_types(self, tls_files: dict[str, Path]) -> None:
        assert isinstance(faust_credentials(settings_for("SSL", tls_files)), SSLCredentials)
        assert isinstance(faust_credentials(settings_for("SASL_SSL", tls_files)), SASLCredentials)
        assert PASSWORD not in repr(faust_credentials(settings_for("SASL_SSL", tls_files)))

    @pytest.mark.parametrize("protocol", PROTOCOLS)
    def test_aiokafka_gets_what_kafka_python_gets(
        self, protocol: str, tls_files: dict[str, Path]
    ) -> None:
        settings = settings_for(protocol, tls_files)
        expected = kafka_python_kwargs(settings)
        del expected["bootstrap_servers"]  # Faust passes the brokers itself, from `broker`
        got = {key: value for key, value in aiokafka_kwargs(settings).items() if value is not None}
        assert got.keys() == expected.keys()
        for key, value in expected.items():
            if key == "ssl_context":
                assert isinstance(got[key], ssl.SSLContext)
                assert got[key].get_ca_certs() == value.get_ca_certs()
            else:
                assert got[key] == value, key

    @pytest.mark.parametrize("client", [AIOKafkaProducer, AIOKafkaConsumer])
    def test_aiokafka_knows_every_key(self, client: type, tls_files: dict[str, Path]) -> None:
        kwargs = aiokafka_kwargs(settings_for("SASL_SSL", tls_files))
        assert set(kwargs) <= set(inspect.signature(client).parameters)
