"""Transport security and secrets, for real, on a broker with only a SASL_SSL listener.

- `deploy/kafka.sh start --secure`: TLS with a throwaway CA, SCRAM-SHA-512 logins. The worker,
  `contactmon simulate --to kafka` and the producer connect with TLS and SCRAM.
- The worker's store is the TLS-only PostgreSQL (`sslmode=verify-full`), its /metrics are served
  over TLS with basic auth, and a real Prometheus (`deploy/prometheus.sh` with
  prometheus-secure.yml) scrapes them.
- The three passwords are canaries: through `contactmon worker` and `simulate --to kafka` at every
  log level, a wrong password, an untrusted CA, bad and unreachable store URLs and a crash, none
  of them shows up in stdout, stderr, a file of the run, the store or the broker's log.
- Faust's own environment variables set to hostile values change nothing: the worker listens on
  its CONTACTMON_METRICS_* address only, and nothing but /metrics and /healthz answers there.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import (
    DB_CANARY,
    KAFKA_CANARY,
    METRICS_CANARY,
    REPO,
    SecureKafka,
    TlsPostgres,
    free_ports,
)

pytestmark = pytest.mark.integration

CONTACTMON = str(Path(sys.executable).with_name("contactmon"))
CANARIES = (KAFKA_CANARY, DB_CANARY, METRICS_CANARY)
WRONG_PASSWORD = "canary-WrongKafka-93d1"
LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]
METRICS_USER = "prometheus"
# A month of Heiloo: about 3,000 events
SIMULATE = ["simulate", "--to", "kafka", "--start", "2024-03-01", "--months", "1"]
SIMULATE += ["--municipality", "heiloo"]

T = TypeVar("T")


def wait_for(what: str, check: Callable[[], T], timeout: float = 120.0, every: float = 0.3) -> T:
    """Poll `check` until it gives a truthy value; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            value = check()
        except (OSError, urllib.error.URLError) as exc:
            last = exc
        else:
            if value:
                return value
            last = value
        time.sleep(every)
    raise AssertionError(f"waited {timeout:.0f}s for {what}; last: {last!r}")


@pytest.fixture(scope="module")
def metrics_tls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA and a certificate for 127.0.0.1 for /metrics, made by deploy/lib/common.sh's helper."""
    folder = tmp_path_factory.mktemp("metrics-tls")
    made = subprocess.run(
        [
            "bash",
            "-c",
            'SCRIPT_NAME=test; source "$0"; tls_server_cert "$1" metrics',
            str(REPO / "deploy" / "lib" / "common.sh"),
            str(folder),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    return {"ca": folder / "ca.pem", "cert": folder / "metrics.pem", "key": folder / "metrics.key"}


@pytest.fixture(scope="module")
def store_database(tls_postgres: TlsPostgres) -> Callable[[str], str]:
    """Make a database of its own on the TLS PostgreSQL; returns its URL (password included)."""

    def make(name: str) -> str:
        with psycopg.connect(tls_postgres.url_with_password(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return tls_postgres.url_with_password().replace("/contactmon?", f"/{name}?")

    return make


def clean_environment() -> dict[str, str]:
    """This process's environment without any CONTACTMON_* (or Faust) setting."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CONTACTMON_", "FAUST_", "F_", "APP_", "WEB_", "BROKER_"))
    }


@dataclass
class Run:
    """What one `contactmon` process left: exit code and output."""

    returncode: int
    stdout: str
    stderr: str


class WorkerProcess:
    """One `contactmon worker` on the secure broker, with TLS + basic-auth metrics."""

    def __init__(
        self,
        workdir: Path,
        kafka: SecureKafka,
        store_url: str,
        metrics_tls: dict[str, Path],
        *,
        level: str = "INFO",
        **extra: str,
    ) -> None:
        tag = uuid.uuid4().hex[:8]
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_ports(1)[0]
        self.topic = f"secure.events.{tag}"
        self.env = {
            **clean_environment(),
            **kafka.settings,
            "CONTACTMON_EVENTS_TOPIC": self.topic,
            "CONTACTMON_DLQ_TOPIC": f"secure.dlq.{tag}",
            "CONTACTMON_GROUP_ID": f"secure-{tag}",
            "CONTACTMON_PARTITIONS": "4",
            "CONTACTMON_STORE_URL": store_url,
            "CONTACTMON_METRICS_PORT": str(self.port),
            "CONTACTMON_METRICS_CERTFILE": str(metrics_tls["cert"]),
            "CONTACTMON_METRICS_KEYFILE": str(metrics_tls["key"]),
            "CONTACTMON_METRICS_USERNAME": METRICS_USER,
            "CONTACTMON_METRICS_PASSWORD": METRICS_CANARY,
            "CONTACTMON_DATA_DIR": str(workdir / "data"),
            "CONTACTMON_CHECKPOINT_INTERVAL": "1",
            "CONTACTMON_SESSION_TIMEOUT": "10",
            "CONTACTMON_LOG_LEVEL": level,
            **extra,
        }
        self.context = ssl.create_default_context(cafile=str(metrics_tls["ca"]))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        with (
            (self.workdir / "worker.out").open("ab") as out,
            (self.workdir / "worker.err").open("ab") as err,
        ):
            self.proc = subprocess.Popen(
                [CONTACTMON, "worker"], env=self.env, stdout=out, stderr=err, cwd=self.workdir
            )
        wait_for(f"the worker on :{self.port} to answer /healthz", self._healthy, timeout=120)
        return self

    def _healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"the worker exited with {self.proc.returncode}:\n{self.tail()}")
        return self.get("/healthz", auth=False)[0] == 200

    def get(self, path: str, *, auth: bool = True, port: int | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(f"https://127.0.0.1:{port or self.port}{path}")
        if auth:
            token = base64.b64encode(f"{METRICS_USER}:{METRICS_CANARY}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=10, context=self.context) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def total(self, prefix: str) -> float:
        status, body = self.get("/metrics")
        assert status == 200, status
        return sum(
            sample.value
            for family in text_string_to_metric_families(body.decode())
            for sample in family.samples
            if sample.name.startswith(prefix)
        )

    def simulate(self, level: str, **extra: str) -> Run:
        """`contactmon simulate --to kafka` onto this worker's topic, with the same settings."""
        env = {**self.env, **extra}
        done = subprocess.run(
            [CONTACTMON, "--log-level", level, *SIMULATE],
            env=env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr)

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
                raise AssertionError(f"the worker did not stop:\n{self.tail()}") from None
        return self.proc.returncode

    def output(self) -> str:
        return "".join(
            (self.workdir / name).read_text(errors="replace")
            for name in ("worker.out", "worker.err")
            if (self.workdir / name).exists()
        )

    def tail(self) -> str:
        return "\n".join(self.output().splitlines()[-40:])


def run_worker_to_exit(env: dict[str, str], cwd: Path, timeout: float = 180) -> Run:
    """Run `contactmon worker` until it exits on its own (an error path)."""
    done = subprocess.run(
        [CONTACTMON, "worker"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def assert_no_canary(*texts: str, where: str, extra: tuple[str, ...] = ()) -> None:
    for text in texts:
        for canary in (*CANARIES, *extra):
            assert canary not in text, f"{canary} in {where}:\n{text[-3000:]}"


def assert_no_canary_in_files(folder: Path, extra: tuple[str, ...] = ()) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for canary in (*CANARIES, *extra):
                assert canary.encode() not in data, f"{canary} in {path}"


def assert_no_canary_in_store(url: str) -> None:
    """No row of any table of the store holds a canary."""
    with psycopg.connect(url) as conn:
        tables = [
            t for (t,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        ]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    data = bytes(value) if isinstance(value, bytes | memoryview) else str(value)
                    for canary in CANARIES:
                        needle: Any = canary.encode() if isinstance(data, bytes) else canary
                        assert needle not in data, f"{canary} in table {table}"


# ---- the canaries through the worker and the simulator, at every log level ------------------


@pytest.mark.parametrize("level", LEVELS)
def test_worker_and_simulate_leak_no_secret(
    level: str,
    secure_kafka: SecureKafka,
    tls_postgres: TlsPostgres,
    store_database: Callable[[str], str],
    metrics_tls: dict[str, Path],
    tmp_path: Path,
) -> None:
    store = store_database(f"secure_{level.lower()}_{uuid.uuid4().hex[:6]}")
    worker = WorkerProcess(tmp_path / "run", secure_kafka, store, metrics_tls, level=level).start()
    try:
        sent = worker.simulate(level)
        assert sent.returncode == 0, sent.stderr
        count = int(sent.stderr.split(" events sent")[0].rsplit(" ", 1)[-1])
        assert count > 1000
        wait_for(
            f"the worker to process the {count} events",
            lambda: worker.total("contact_worker_events_processed") >= count,
        )
        wait_for(
            "a checkpoint in the TLS store",
            lambda: worker.total("contact_worker_last_checkpoint_timestamp_seconds") > 0,
        )
        assert worker.total("contact_events_total") > 0
        assert worker.get("/metrics", auth=False)[0] == 401
    finally:
        code = worker.stop()
    assert code == 0, worker.tail()
    output = worker.output()
    if level == "DEBUG":  # it did log its Kafka clients' configuration and logins
        assert "sasl_plain_password" in output + sent.stderr
    assert_no_canary(output, where=f"the worker's output at {level}")
    assert_no_canary(sent.stdout, sent.stderr, where=f"simulate's output at {level}")
    assert_no_canary_in_files(tmp_path)
    assert_no_canary_in_store(store)


# ---- Prometheus scrapes /metrics over TLS with basic auth ------------------------------------


def start_prometheus(
    state: Path, target_port: int, ca: Path, password_file: Path
) -> tuple[int, Callable[[], None]]:
    """deploy/prometheus.sh start with prometheus-secure.yml; returns its port and a stop."""
    port, alertmanager = free_ports(2)
    env = {
        **clean_environment(),
        "CONTACTMON_STATE": str(state),
        "CONTACTMON_SCRAPE_INTERVAL": "1s",
    }
    script = ["bash", str(REPO / "deploy" / "prometheus.sh")]
    started = subprocess.run(
        [
            *script,
            "start",
            "--port",
            str(port),
            "--targets",
            f"127.0.0.1:{target_port}",
            "--alertmanager",
            f"127.0.0.1:{alertmanager}",
            "--ca-file",
            str(ca),
            "--basic-auth-user",
            METRICS_USER,
            "--basic-auth-password-file",
            str(password_file),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if started.returncode != 0:
        pytest.fail(f"deploy/prometheus.sh start failed:\n{started.stdout}\n{started.stderr}")

    def stop() -> None:
        subprocess.run(
            [*script, "stop", "--port", str(port)],
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
        )

    return port, stop


def prometheus_api(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return json.loads(response.read())["data"]


def test_prometheus_scrapes_over_tls_with_basic_auth(
    secure_kafka: SecureKafka,
    store_database: Callable[[str], str],
    metrics_tls: dict[str, Path],
    tmp_path: Path,
) -> None:
    store = store_database(f"secure_scrape_{uuid.uuid4().hex[:6]}")
    worker = WorkerProcess(tmp_path / "run", secure_kafka, store, metrics_tls).start()
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o700)
    right, wrong = secrets / "right", secrets / "wrong"
    right.write_text(METRICS_CANARY + "\n")
    wrong.write_text(WRONG_PASSWORD + "\n")
    stops: list[Callable[[], None]] = []
    try:
        good, stop = start_prometheus(tmp_path / "prom", worker.port, metrics_tls["ca"], right)
        stops.append(stop)
        bad, stop = start_prometheus(tmp_path / "prom-bad", worker.port, metrics_tls["ca"], wrong)
        stops.append(stop)
        rendered = (tmp_path / "prom" / f"prometheus-{good}" / "prometheus.yml").read_text()
        assert "scheme: https" in rendered
        assert METRICS_CANARY not in rendered  # the password stays in its file

        def series(port: int, expr: str) -> list[Any]:
            return list(prometheus_api(port, f"/api/v1/query?query={expr}")["result"])

        up = wait_for("the TLS target to be up", lambda: series(good, "up==1"), timeout=90)
        assert up[0]["metric"]["job"] == "contactmon-worker"
        wait_for(
            "the worker's series in Prometheus",
            lambda: series(good, "contact_worker_partitions_owned"),
            timeout=90,
        )

        def bad_target() -> str:
            targets = prometheus_api(bad, "/api/v1/targets")["activeTargets"]
            return (
                str(targets[0]["lastError"]) if targets and targets[0]["health"] == "down" else ""
            )

        assert "401" in wait_for("the wrong password to be refused", bad_target, timeout=90)
    finally:
        for stop in stops:
            stop()
        worker.stop()
    assert_no_canary(worker.output(), where="the worker's output")
    logs = list(tmp_path.rglob("prometheus.log"))
    assert len(logs) == 2
    for log in logs:
        assert_no_canary(log.read_text(errors="replace"), where=str(log), extra=(WRONG_PASSWORD,))


# ---- Faust's environment is ignored ----------------------------------------------------------


def listening(pid: int) -> set[tuple[str, int]]:
    """The TCP (v4 and v6) addresses process `pid` listens on, from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:  # 0A: LISTEN
                continue
            address, port = local.split(":")
            raw = bytes.fromhex(address)
            if len(raw) == 4:
                host = socket.inet_ntop(socket.AF_INET, raw[::-1])
            else:  # four 32-bit words, each in host (little-endian) order
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                host = socket.inet_ntop(socket.AF_INET6, words)
            found.add((host, int(port, 16)))
    return found


def refused(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:`port`."""
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_faust_environment_variables_change_nothing(
    secure_kafka: SecureKafka,
    store_database: Callable[[str], str],
    metrics_tls: dict[str, Path],
    tmp_path: Path,
) -> None:
    web, prefixed, faust_web, console, no_broker, cache = free_ports(6)
    hostile = {
        # Faust's settings (faust/types/settings/settings.py, env_name=...)
        "WEB_BIND": "0.0.0.0",
        "WEB_PORT": str(web),
        "WEB_HOST": "evil.example",
        "WEB_TRANSPORT": f"unix://{tmp_path}/evil.sock",
        "APP_DEBUG": "1",
        "APP_WEB_ENABLED": "1",
        "APP_WEB_ROUTER_ENABLED": "1",
        "APP_WEB_TABLES_ENABLED": "1",
        "APP_WEB_GRAPH_ENABLED": "1",
        "APP_WEB_STATS_ENABLED": "1",
        "BROKER_URL": f"kafka://127.0.0.1:{no_broker}",
        "BROKER_CONSUMER_URL": f"kafka://127.0.0.1:{no_broker}",
        "BROKER_CREDENTIALS": "evil",
        "APP_DATADIR": str(tmp_path / "evil-datadir"),
        "APP_STORE": "rocksdb://",
        "CACHE_URL": f"redis://127.0.0.1:{cache}",
        "CONSUMER_AUTO_OFFSET_RESET": "latest",
        "PROCESSING_GUARANTEE": "exactly_once",
        "TOPIC_ALLOW_DECLARE": "1",
        "APP_ENV_PREFIX": "EVIL_",
        "EVIL_WEB_PORT": str(prefixed),
        "EVIL_WEB_BIND": "0.0.0.0",
        # what faust and mode read when they are imported (faust/types/_env.py, faust/__init__.py)
        "FAUST_WEB_PORT": str(faust_web),
        "F_WEB_PORT": str(faust_web),
        "FAUST_F_WEB_BIND": "0.0.0.0",
        "FAUST_DEBUG": "1",
        "F_DEBUG": "1",
        "FAUST_CONSOLE_PORT": str(console),
        "FAUST_DATADIR": str(tmp_path / "evil-faust-datadir"),
        "FAUST_LOOP": "eventlet",  # not installed: an import of it would crash the worker
        "F_LOOP": "eventlet",
        "FAUST_BLOCKING_TIMEOUT": "0.001",
        "FAUST_WORKDIR": str(tmp_path / "evil-workdir"),
    }
    store = store_database(f"secure_env_{uuid.uuid4().hex[:6]}")
    worker = WorkerProcess(tmp_path / "run", secure_kafka, store, metrics_tls, **hostile).start()
    try:
        assert worker.proc is not None
        # only our address listens: not Faust's web server, console or a unix socket
        assert listening(worker.proc.pid) == {("127.0.0.1", worker.port)}
        for port in (web, prefixed, faust_web, console):
            assert refused(port), f"something listens on {port}"
        # none of Faust's pages answers there, with or without the password
        for path in ("/router/", "/router/contact.events/0", "/table/", "/graph/", "/stats/"):
            assert worker.get(path)[0] == 404, path
            assert worker.get(path, auth=False)[0] == 404, path
        # the broker, the offsets and the credentials are ours: every event is processed
        sent = worker.simulate("INFO")
        assert sent.returncode == 0, sent.stderr
        count = int(sent.stderr.split(" events sent")[0].rsplit(" ", 1)[-1])
        wait_for(
            f"the worker to process the {count} events",
            lambda: worker.total("contact_worker_events_processed") >= count,
        )
    finally:
        code = worker.stop()
    assert code == 0, worker.tail()
    for made in ("evil.sock", "evil-datadir", "evil-faust-datadir", "evil-workdir"):
        assert not (tmp_path / made).exists(), made
    assert "Faust environment variables ignored" in worker.output()
    assert "DEBUG is enabled" not in worker.output()


# ---- start-up errors: one sentence, exit 2, no password --------------------------------------


def error_env(
    kafka: SecureKafka, tmp_path: Path, store_url: str | None = None, **extra: str
) -> dict[str, str]:
    """A worker's environment for an error path: the secure broker, DEBUG, a SQLite store."""
    tag = uuid.uuid4().hex[:8]
    return {
        **clean_environment(),
        **kafka.settings,
        "CONTACTMON_EVENTS_TOPIC": f"secure.events.{tag}",
        "CONTACTMON_DLQ_TOPIC": f"secure.dlq.{tag}",
        "CONTACTMON_GROUP_ID": f"secure-{tag}",
        "CONTACTMON_STORE_URL": store_url or f"sqlite:///{tmp_path / 'store.sqlite3'}",
        "CONTACTMON_METRICS_PORT": str(free_ports(1)[0]),
        "CONTACTMON_METRICS_USERNAME": METRICS_USER,
        "CONTACTMON_METRICS_PASSWORD": METRICS_CANARY,
        "CONTACTMON_DATA_DIR": str(tmp_path / "data"),
        "CONTACTMON_LOG_LEVEL": "DEBUG",
        **extra,
    }


def assert_clean_exit_2(run: Run, says: str, where: str) -> None:
    assert run.returncode == 2, f"{where}: exit {run.returncode}\n{run.stderr[-3000:]}"
    assert says in run.stderr, run.stderr[-3000:]
    assert "contactmon worker: " in run.stderr
    assert "Traceback" not in run.stderr
    assert_no_canary(run.stdout, run.stderr, where=where, extra=(WRONG_PASSWORD,))


class TestStartUpErrors:
    """What a user can fix is a sentence, not a traceback, and never shows a password."""

    def test_a_wrong_kafka_password(self, secure_kafka: SecureKafka, tmp_path: Path) -> None:
        env = error_env(secure_kafka, tmp_path, CONTACTMON_SASL_PASSWORD=WRONG_PASSWORD)
        started = time.monotonic()
        run = run_worker_to_exit(env, tmp_path)
        assert_clean_exit_2(run, "refused the login of CONTACTMON_SASL_USERNAME=", "wrong password")
        assert time.monotonic() - started < 60  # said at once, not after the clients' retries
        assert_no_canary_in_files(tmp_path, extra=(WRONG_PASSWORD,))

    def test_an_untrusted_ca(
        self, secure_kafka: SecureKafka, metrics_tls: dict[str, Path], tmp_path: Path
    ) -> None:
        env = error_env(secure_kafka, tmp_path, CONTACTMON_SSL_CAFILE=str(metrics_tls["ca"]))
        run = run_worker_to_exit(env, tmp_path)
        assert_clean_exit_2(run, "presented a certificate that is not trusted", "untrusted CA")

    @pytest.mark.parametrize(
        "url",
        [
            f"postgresq://postgres:{DB_CANARY}@127.0.0.1/contactmon",
            f"postgresql:/postgres:{DB_CANARY}@127.0.0.1/contactmon",
            f"postgresql://postgres:{DB_CANARY}@[::1/contactmon",
            f"host=127.0.0.1 password={DB_CANARY} dbname=contactmon",
            f"postgresql://postgres@127.0.0.1/contactmon?password={DB_CANARY}&bogus=1",
        ],
    )
    def test_a_bad_store_url(self, url: str, secure_kafka: SecureKafka, tmp_path: Path) -> None:
        run = run_worker_to_exit(error_env(secure_kafka, tmp_path, url), tmp_path)
        assert_clean_exit_2(run, "store URL", url)
        assert sorted(p.name for p in tmp_path.iterdir()) == []  # no file named after it

    def test_an_unreachable_store(self, secure_kafka: SecureKafka, tmp_path: Path) -> None:
        (port,) = free_ports(1)
        url = f"postgresql://postgres:{DB_CANARY}@127.0.0.1:{port}/contactmon?sslmode=verify-full"
        run = run_worker_to_exit(error_env(secure_kafka, tmp_path, url), tmp_path)
        assert_clean_exit_2(run, "cannot connect to PostgreSQL", "unreachable store")

    def test_a_wrong_database_password(
        self, secure_kafka: SecureKafka, tls_postgres: TlsPostgres, tmp_path: Path
    ) -> None:
        url = tls_postgres.url_with_password(WRONG_PASSWORD)
        run = run_worker_to_exit(error_env(secure_kafka, tmp_path, url), tmp_path)
        assert_clean_exit_2(run, "password authentication failed", "wrong database password")

    def test_a_metrics_port_in_use(self, secure_kafka: SecureKafka, tmp_path: Path) -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            env = error_env(
                secure_kafka, tmp_path, CONTACTMON_METRICS_PORT=str(taken.getsockname()[1])
            )
            run = run_worker_to_exit(env, tmp_path)
        assert_clean_exit_2(run, "cannot serve /metrics on 127.0.0.1:", "port in use")

    def test_a_metrics_password_in_clear_text(
        self, secure_kafka: SecureKafka, tmp_path: Path
    ) -> None:
        env = error_env(secure_kafka, tmp_path, CONTACTMON_METRICS_HOST="0.0.0.0")
        run = run_worker_to_exit(env, tmp_path)
        assert_clean_exit_2(run, "would cross the network in clear text", "clear-text metrics")

    def test_simulate_with_a_wrong_password(
        self, secure_kafka: SecureKafka, tmp_path: Path
    ) -> None:
        env = error_env(secure_kafka, tmp_path, CONTACTMON_SASL_PASSWORD=WRONG_PASSWORD)
        done = subprocess.run(
            [CONTACTMON, "--log-level", "DEBUG", *SIMULATE, "--rate", "1000"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        # the login is checked before anything is produced: exit 2 with one sentence, at once
        assert done.returncode == 2, done.stderr[-3000:]
        assert "contactmon simulate: " in done.stderr
        assert "Traceback" not in done.stderr
        assert_no_canary(done.stdout, done.stderr, where="simulate", extra=(WRONG_PASSWORD,))


# ---- a crash, and a store that fails under a running worker ----------------------------------


def test_a_crash_leaks_no_secret(
    secure_kafka: SecureKafka, tls_postgres: TlsPostgres, tmp_path: Path
) -> None:
    """The worker crashes while starting (its data directory cannot be made: a file is in the
    way, named after the database password): the crash's traceback is logged, redacted."""
    blocked = tmp_path / f"data-{DB_CANARY}"
    blocked.write_text("in the way\n")
    env = error_env(
        secure_kafka,
        tmp_path,
        tls_postgres.url_with_password(),
        CONTACTMON_DATA_DIR=str(blocked),
        CONTACTMON_METRICS_HOST="127.0.0.1",
    )
    run = run_worker_to_exit(env, tmp_path)
    assert run.returncode not in (0, 2), run.stderr[-3000:]
    assert "FileExistsError" in run.stderr
    assert "Traceback" in run.stderr  # the crash is told in full, with the secret masked
    assert "data-***" in run.stderr
    assert_no_canary(run.stdout, run.stderr, where="the crashed worker's output")


def test_a_failing_store_leaks_no_secret(
    secure_kafka: SecureKafka,
    store_database: Callable[[str], str],
    metrics_tls: dict[str, Path],
    tmp_path: Path,
) -> None:
    """The store's tables vanish under a running worker: what it logs about it (a crash, or
    errors while it retries) holds no password."""
    store = store_database(f"secure_vanish_{uuid.uuid4().hex[:6]}")
    worker = WorkerProcess(tmp_path / "run", secure_kafka, store, metrics_tls, level="DEBUG")
    worker.start()
    try:
        with psycopg.connect(store, autocommit=True) as conn:
            conn.execute("DROP TABLE checkpoints")
        sent = worker.simulate("DEBUG")
        assert sent.returncode == 0, sent.stderr
        wait_for(
            "the worker to report the failing store",
            lambda: (
                'relation \\"checkpoints\\" does not exist' in worker.output()
                or 'relation "checkpoints" does not exist' in worker.output()
            ),
            timeout=180,
        )
    finally:
        worker.stop()
    assert_no_canary(worker.output(), where="the worker's output")
    assert_no_canary_in_files(tmp_path)


def test_the_broker_log_holds_no_password(secure_kafka: SecureKafka) -> None:
    log = secure_kafka.log_file.read_text(errors="replace")
    assert "SASL_SSL" in log
    assert KAFKA_CANARY not in log
    assert WRONG_PASSWORD not in log
    config = (secure_kafka.state_dir / "server.properties").stat().st_mode & 0o777
    assert config == 0o600
    assert (secure_kafka.state_dir / "client.env").stat().st_mode & 0o777 == 0o600
