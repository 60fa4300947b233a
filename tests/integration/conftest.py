"""Fixtures that start real parts through the project's own deploy scripts.

A part that cannot start fails the tests that need it (never skips them), with the
script's output and its log tail in the message, so a broken set-up is seen at once.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

REPO = Path(__file__).resolve().parents[2]
KAFKA_SH = REPO / "deploy" / "kafka.sh"

# A cold `start` fetches about 45 MB of jars with Maven before the broker starts.
KAFKA_SCRIPT_TIMEOUT_S = 600.0
LOG_TAIL_LINES = 40


def free_ports(count: int) -> list[int]:
    """Return `count` distinct TCP ports on 127.0.0.1 that were free a moment ago."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass(frozen=True)
class DeployScript:
    """Runs one deploy/*.sh script with a state root of its own (never a developer's services).

    Subclasses name the script, its timeout, the word for the service in messages, and where the
    service on a port writes its log.
    """

    script: ClassVar[Path]
    timeout_s: ClassVar[float]
    noun: ClassVar[str]

    state_root: Path

    def environment(self) -> dict[str, str]:
        """The environment of a run: this process's, with the state root set."""
        return {**os.environ, "CONTACTMON_STATE": str(self.state_root)}

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run one subcommand of the script and return its exit code and output."""
        return subprocess.run(
            ["bash", str(self.script), *args],
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=self.timeout_s,
            check=False,
        )

    def log_file(self, port: int) -> Path:
        raise NotImplementedError

    def log_tail(self, port: int) -> str:
        """The last lines of the service's log, or a note that there is none."""
        log = self.log_file(port)
        if not log.exists():
            return f"(no {self.noun} log at {log})"
        tail = log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
        return "\n".join([f"--- last lines of {log} ---", *tail])

    def explain(self, port: int, what: str, result: subprocess.CompletedProcess[str]) -> str:
        """A failure message: what failed, the script's output and the log's tail."""
        lines = [
            f"{what}: deploy/{self.script.name} exited with {result.returncode}",
            "--- stdout ---",
            result.stdout.rstrip(),
            "--- stderr ---",
            result.stderr.rstrip(),
        ]
        if "--- last lines of" not in result.stderr:  # the script shows it when it fails
            lines.append(self.log_tail(port))
        return "\n".join(lines)


@dataclass(frozen=True)
class KafkaScript(DeployScript):
    """Runs deploy/kafka.sh with its own state root, so tests never touch a developer's broker.

    The jar cache (CONTACTMON_CACHE) is left as it is: it only holds downloads, and sharing
    it keeps a second run from fetching the jars again.
    """

    script = KAFKA_SH
    timeout_s = KAFKA_SCRIPT_TIMEOUT_S
    noun = "broker"

    def log_file(self, port: int) -> Path:
        """Where the broker on `port` writes its log."""
        return self.state_root / f"kafka-{port}" / "logs" / "server.log"

    def pid_file(self, port: int) -> Path:
        """Where the script keeps the pid of the broker on `port`."""
        return self.state_root / f"kafka-{port}" / "kafka.pid"


@pytest.fixture(scope="session")
def kafka_script(tmp_path_factory: pytest.TempPathFactory) -> KafkaScript:
    """deploy/kafka.sh with a state root of this test session's own."""
    return KafkaScript(tmp_path_factory.mktemp("kafka-state"))


@pytest.fixture(scope="session")
def kafka_broker(
    kafka_script: KafkaScript, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A real single-node Kafka broker on a free port; yields its bootstrap address."""
    port, controller_port = free_ports(2)
    data_dir = tmp_path_factory.mktemp("kafka-data")
    try:
        started = kafka_script.run(
            "start",
            "--port",
            str(port),
            "--controller-port",
            str(controller_port),
            "--data",
            str(data_dir),
        )
    except subprocess.TimeoutExpired as exc:
        kafka_script.run("stop", "--port", str(port))
        pytest.fail(
            f"deploy/kafka.sh start did not finish within {exc.timeout:.0f}s\n"
            + kafka_script.log_tail(port)
        )
    if started.returncode != 0:
        pytest.fail(kafka_script.explain(port, "the Kafka broker could not start", started))
    try:
        yield f"127.0.0.1:{port}"
    finally:
        stopped = kafka_script.run("stop", "--port", str(port))
        if stopped.returncode != 0:
            pytest.fail(kafka_script.explain(port, "the Kafka broker did not stop", stopped))


# ---- PostgreSQL ------------------------------------------------------------------------

POSTGRES_SH = REPO / "deploy" / "postgres.sh"

# A cold `start` may first install the Debian package `postgresql` with apt-get.
POSTGRES_SCRIPT_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class PostgresScript(DeployScript):
    """Runs deploy/postgres.sh with its own state root, so tests never touch a developer's server.

    The state root is a fresh directory under /tmp that everyone may enter: as root the script
    runs the server as the `postgres` user, which cannot enter pytest's private temp dirs.
    """

    script = POSTGRES_SH
    timeout_s = POSTGRES_SCRIPT_TIMEOUT_S
    noun = "server"

    def log_file(self, port: int) -> Path:
        """Where the server on `port` writes its log."""
        return self.state_root / f"postgres-{port}" / "postgres.log"


@pytest.fixture(scope="session")
def postgres_script() -> Iterator[PostgresScript]:
    """deploy/postgres.sh with a state root of this test session's own, removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="contactmon-pg-"))
    root.chmod(0o755)
    try:
        yield PostgresScript(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres(postgres_script: PostgresScript) -> Iterator[str]:
    """A real PostgreSQL server on a free port; yields the URL of its `contactmon` database."""
    (port,) = free_ports(1)
    try:
        started = postgres_script.run("start", "--port", str(port))
    except subprocess.TimeoutExpired as exc:
        postgres_script.run("stop", "--port", str(port))
        pytest.fail(
            f"deploy/postgres.sh start did not finish within {exc.timeout:.0f}s\n"
            + postgres_script.log_tail(port)
        )
    if started.returncode != 0:
        pytest.fail(postgres_script.explain(port, "PostgreSQL could not start", started))
    url = started.stdout.strip().splitlines()[-1]
    try:
        yield url
    finally:
        stopped = postgres_script.run("stop", "--port", str(port))
        if stopped.returncode != 0:
            pytest.fail(postgres_script.explain(port, "PostgreSQL did not stop", stopped))
