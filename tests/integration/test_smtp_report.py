"""The report by mail: a real SMTP server (aiosmtpd) on 127.0.0.1 that demands STARTTLS and a
login receives the report with its files attached; a second run sends nothing; the password is
never written anywhere."""

from __future__ import annotations

import socket
import ssl
import subprocess
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from streams.cli import main
from tests.integration.test_report_render import ensure_programs

USER, PASSWORD = "rapport", "s3cret-Wachtwoord-xyz"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def server(certificate: tuple[Path, Path]) -> Iterator[tuple[Inbox, int]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("mailstore")
    events = folder / "castricum.jsonl"
    url = f"sqlite:///{folder / 'outcomes.sqlite3'}"
    assert main(["simulate", "--scenario", "castricum_2023h1", "--out", str(events)]) == 0
    assert (
        main(["replay", str(events), "--until", "2023-09-01T00:00:00+02:00", "--store", url]) == 0
    )
    return url


def smtp_env(monkeypatch: pytest.MonkeyPatch, port: int, cert: Path) -> None:
    for name, value in {
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "USERNAME": USER,
        "PASSWORD": PASSWORD,
        "FROM": "contactmon@example.nl",
        "TO": "bestuur@example.nl, griffie@example.nl",
        "CAFILE": str(cert),
        "TIMEOUT": "20",
    }.items():
        monkeypatch.setenv(f"CONTACTMON_SMTP_{name}", value)


def test_the_report_arrives_once_with_its_files(
    server: tuple[Inbox, int],
    certificate: tuple[Path, Path],
    store: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    ensure_programs()
    inbox, port = server
    smtp_env(monkeypatch, port, certificate[0])
    command = ["--log-level", "DEBUG", "report", "--month", "2023-06", "--store", store]
    command += ["--out", str(tmp_path), "--mail"]
    assert main(command) == 0
    ((sender, recipients, message),) = inbox.messages
    assert sender == "contactmon@example.nl"
    assert recipients == ["bestuur@example.nl", "griffie@example.nl"]
    assert message["Subject"] == "Maandrapportage kwaliteit van dienstverlening juni 2023"
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "Castricum 88 %" in text
    assert "Castricum 91 %" in text
    attached = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert set(attached) == {"contactmon-rapport-2023-06.html", "contactmon-rapport-2023-06.pdf"}
    pdf = (tmp_path / "contactmon-rapport-2023-06.pdf").read_bytes()
    assert attached["contactmon-rapport-2023-06.pdf"] == pdf
    html = (tmp_path / "contactmon-rapport-2023-06.html").read_text("utf-8")
    received = attached["contactmon-rapport-2023-06.html"].replace("\r\n", "\n")
    assert received.rstrip("\n") == html.rstrip("\n")  # text parts travel with CRLF

    assert main(command) == 0  # the scheduled run again: the same report is not sent again
    assert len(inbox.messages) == 1
    logs = capfd.readouterr()
    assert PASSWORD not in logs.out + logs.err
    assert "already mailed" in logs.out + logs.err


def test_a_wrong_password_is_reported_without_it(
    server: tuple[Inbox, int],
    certificate: tuple[Path, Path],
    store: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    inbox, port = server
    smtp_env(monkeypatch, port, certificate[0])
    monkeypatch.setenv("CONTACTMON_SMTP_PASSWORD", "wrong-Secret-123")
    command = ["report", "--month", "2023-06", "--store", store, "--format", "html"]
    assert main([*command, "--out", str(tmp_path), "--mail"]) == 1
    err = capfd.readouterr().err
    assert "refused the login of 'rapport'" in err
    assert "wrong-Secret-123" not in err
    assert inbox.messages == []
    assert (tmp_path / "contactmon-rapport-2023-06.html").is_file()  # written all the same
    assert not (tmp_path / ".contactmon-rapport-2023-06.sent").exists()


def test_a_server_without_starttls_gets_no_password(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, certificate: tuple[Path, Path]
) -> None:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        smtp_env(monkeypatch, port, certificate[0])
        command = ["report", "--month", "2023-06", "--store", store, "--format", "html"]
        assert main([*command, "--out", str(tmp_path), "--mail"]) == 1
    finally:
        controller.stop()
    assert inbox.messages == []
