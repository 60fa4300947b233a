"""Fixtures that start real parts through the project's own deploy scripts.

A part that cannot start fails the tests that need it (never skips them), with the
script's output and its log tail in the message, so a broken set-up is seen at once.

The suite runs in parallel under pytest-xdist (`make test`: `-n 2 --dist loadgroup`). Session
fixtures then exist once per worker process: each process starts its own broker and server, on
ports from a block of its own (`free_ports`), with state under its own temporary directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, ClassVar

import pytest

REPO = Path(__file__).resolve().parents[2]
KAFKA_SH = REPO / "deploy" / "kafka.sh"

# A cold `start` fetches about 45 MB of jars with Maven before the broker starts.
KAFKA_SCRIPT_TIMEOUT_S = 600.0
LOG_TAIL_LINES = 40


# ---- ports -----------------------------------------------------------------------------
#
# Every port a test hands to a part comes from a block that belongs to its pytest process: the
# run without xdist has block 0, xdist worker gwN block N + 1. So two workers of one run never hand
# out the same port, however their tests interleave. The blocks lie below the kernel's ephemeral
# range (32768 and up), so no outgoing connection can take a port between the check here and the
# part binding it. A lock file per port, held for as long as the process lives, keeps two test runs
# on one machine (another checkout, another engineer) apart too; a port that something else listens
# on is skipped.

PORT_BASE = 20000
PORT_BLOCK_SIZE = 400
PORT_BLOCKS = (32768 - PORT_BASE) // PORT_BLOCK_SIZE
PORT_LOCK_DIR = Path(tempfile.gettempdir()) / "contactmon-test-ports"


def xdist_worker_index(worker: str | None = None) -> int:
    """0 for a run without xdist (or its controller), N + 1 for xdist worker `gwN`."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "") if worker is None else worker
    if worker.startswith("gw") and worker[2:].isdigit():
        return int(worker[2:]) + 1
    return 0


def bindable(port: int) -> bool:
    """Whether 127.0.0.1:`port` can be bound now (nothing listens there, no socket lingers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class PortBlock:
    """The ports of one pytest process: handed out in turn, each at most once."""

    def __init__(self, index: int) -> None:
        if not 0 <= index < PORT_BLOCKS:
            raise RuntimeError(
                f"port block {index} does not exist: {PORT_BLOCKS} blocks of {PORT_BLOCK_SIZE} "
                f"ports from {PORT_BASE} serve at most {PORT_BLOCKS - 1} xdist workers"
            )
        self.first = PORT_BASE + index * PORT_BLOCK_SIZE
        self._next = 0
        self._held: dict[int, IO[bytes] | None] = {}
        try:
            PORT_LOCK_DIR.mkdir(exist_ok=True)
            with contextlib.suppress(OSError):
                PORT_LOCK_DIR.chmod(0o1777)  # every user's test runs share it, as they share /tmp
            self._locking = os.access(PORT_LOCK_DIR, os.W_OK)
        except OSError:
            self._locking = False  # then the blocks alone keep the workers of a run apart

    def take(self) -> int:
        """A port of this block that no other test process holds and nothing listens on."""
        for _ in range(PORT_BLOCK_SIZE):
            port = self.first + self._next
            self._next = (self._next + 1) % PORT_BLOCK_SIZE
            if port in self._held:
                continue
            lock = self._lock(port) if self._locking else None
            if self._locking and lock is None:
                continue  # another test process holds it
            if bindable(port):
                self._held[port] = lock
                return port
            if lock is not None:
                lock.close()
        raise RuntimeError(
            f"no free port left in {self.first}-{self.first + PORT_BLOCK_SIZE - 1} "
            f"(this process holds {len(self._held)} of them)"
        )

    @staticmethod
    def _lock(port: int) -> IO[bytes] | None:
        """The lock file of `port`, locked by this process; None when another one holds it (or
        another user's file cannot be opened: then it is theirs)."""
        try:
            handle = (PORT_LOCK_DIR / f"{port}.lock").open("ab")
        except OSError:
            return None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return None
        return handle


_ports: PortBlock | None = None


def free_ports(count: int) -> list[int]:
    """`count` distinct TCP ports on 127.0.0.1 for this test process alone (see above)."""
    global _ports  # noqa: PLW0603  (one block per process, made on first use)
    if _ports is None:
        _ports = PortBlock(xdist_worker_index())
    return [_ports.take() for _ in range(count)]


# ---- installing the parts, one process at a time ---------------------------------------

INSTALL_LOCK = Path(tempfile.gettempdir()) / "contactmon-test-install.lock"
INSTALL_TIMEOUT_S = 900.0


@pytest.fixture(scope="session", autouse=True)
def parts_installed() -> None:
    """Under xdist: every deploy script's `install`, one test process at a time, before any test.

    On a fresh machine each script installs what it lacks with apt-get (Java, Maven, PostgreSQL,
    Prometheus, Alertmanager); two processes doing that at once would fight over the dpkg lock.
    Here the first process installs and the others find everything there (each `install` takes
    milliseconds then). An install that fails is not reported here: the test that starts the
    part runs the script again and fails with its message, as in a serial run.
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return  # one process: each script installs what it needs when a test first starts it
    with INSTALL_LOCK.open("ab") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for script in ("kafka.sh", "postgres.sh", "prometheus.sh", "alertmanager.sh"):
            subprocess.run(
                ["bash", str(REPO / "deploy" / script), "install"],
                capture_output=True,
                timeout=INSTALL_TIMEOUT_S,
                check=False,
            )


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


# ---- secure parts (issue 11): a SASL_SSL broker and a TLS-only PostgreSQL ---------------
#
# Their passwords are canaries: values that must never show up in any output, log or store.

KAFKA_CANARY = "canary-KafkaPa55-8c21e"
DB_CANARY = "canary-DbPa55-41d7f"
METRICS_CANARY = "canary-MetricsPa55-0e9b2"


@dataclass(frozen=True)
class SecureKafkaScript(KafkaScript):
    """deploy/kafka.sh for `start --secure`, with the clients' SCRAM password given."""

    scram_password: str = KAFKA_CANARY

    def environment(self) -> dict[str, str]:
        return {**super().environment(), "CONTACTMON_KAFKA_SCRAM_PASSWORD": self.scram_password}


@dataclass(frozen=True)
class SecureKafka:
    """A broker with only a SASL_SSL listener (SCRAM-SHA-512, a throwaway CA)."""

    bootstrap: str
    ca_file: Path
    settings: dict[str, str]  # a client's CONTACTMON_* settings, password included
    log_file: Path
    state_dir: Path


@pytest.fixture(scope="session")
def secure_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureKafka]:
    """A real broker started by `deploy/kafka.sh start --secure` on free ports; its password is
    KAFKA_CANARY."""
    script = SecureKafkaScript(tmp_path_factory.mktemp("kafka-secure-state"))
    port, controller_port = free_ports(2)
    data_dir = tmp_path_factory.mktemp("kafka-secure-data")
    args = ["--port", str(port), "--controller-port", str(controller_port), "--data", str(data_dir)]
    try:
        started = script.run("start", *args, "--secure")
    except subprocess.TimeoutExpired as exc:
        script.run("stop", "--port", str(port))
        pytest.fail(
            f"kafka.sh start --secure took over {exc.timeout:.0f}s\n{script.log_tail(port)}"
        )
    if started.returncode != 0:
        pytest.fail(script.explain(port, "the secure Kafka broker could not start", started))
    state_dir = script.state_root / f"kafka-{port}"
    client_env = state_dir / "client.env"
    settings = dict(
        line.split("=", 1)
        for line in client_env.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    try:
        yield SecureKafka(
            bootstrap=f"127.0.0.1:{port}",
            ca_file=Path(settings["CONTACTMON_SSL_CAFILE"]),
            settings=settings,
            log_file=script.log_file(port),
            state_dir=state_dir,
        )
    finally:
        stopped = script.run("stop", "--port", str(port))
        if stopped.returncode != 0:
            pytest.fail(script.explain(port, "the secure Kafka broker did not stop", stopped))


@dataclass(frozen=True)
class TlsPostgresScript(PostgresScript):
    """deploy/postgres.sh for `start --tls`, with the superuser's password given."""

    password: str = DB_CANARY

    def environment(self) -> dict[str, str]:
        return {**super().environment(), "CONTACTMON_PG_PASSWORD": self.password}


@dataclass(frozen=True)
class TlsPostgres:
    """A PostgreSQL that takes TLS connections with a password only (hostssl, scram-sha-256)."""

    url: str  # postgresql://postgres@127.0.0.1:PORT/contactmon?sslmode=verify-full&sslrootcert=…
    password: str
    ca_file: Path
    port: int
    log_file: Path

    def url_with_password(self, password: str | None = None) -> str:
        """The URL with the password (DB_CANARY unless another is given) in its user info."""
        return self.url.replace("postgres@", f"postgres:{password or self.password}@", 1)


@pytest.fixture(scope="session")
def tls_postgres() -> Iterator[TlsPostgres]:
    """A real PostgreSQL started by `deploy/postgres.sh start --tls`; its password is DB_CANARY."""
    root = Path(tempfile.mkdtemp(prefix="contactmon-pgtls-"))
    root.chmod(0o755)
    script = TlsPostgresScript(root)
    (port,) = free_ports(1)
    try:
        try:
            started = script.run("start", "--port", str(port), "--tls")
        except subprocess.TimeoutExpired as exc:
            script.run("stop", "--port", str(port))
            pytest.fail(
                f"postgres.sh start --tls took over {exc.timeout:.0f}s\n{script.log_tail(port)}"
            )
        if started.returncode != 0:
            pytest.fail(script.explain(port, "the TLS PostgreSQL could not start", started))
        url = started.stdout.strip().splitlines()[-1]
        if "sslmode=verify-full" not in url:
            pytest.fail(f"postgres.sh start --tls printed no verify-full URL: {url}")
        try:
            yield TlsPostgres(
                url=url,
                password=DB_CANARY,
                ca_file=Path(url.rpartition("sslrootcert=")[2]),
                port=port,
                log_file=script.log_file(port),
            )
        finally:
            stopped = script.run("stop", "--port", str(port))
            if stopped.returncode != 0:
                pytest.fail(script.explain(port, "the TLS PostgreSQL did not stop", stopped))
    finally:
        shutil.rmtree(root, ignore_errors=True)
