"""Running `contactmon ingest` as a real process: start, POST as Open Notificaties would, scrape.

The configuration is tests/fixtures/zgw/ingest.yaml with the fake APIs' address filled in; the
process gets its own port, the test's topics and credentials, and any extra ``CONTACTMON_*``
variables (TLS files, basic auth). With ``ca`` set it is spoken to over https, trusting that CA.
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from tests.integration.conftest import free_ports
from tests.integration.worker_harness import CONTACTMON, Names, Samples, parse
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
SECRET = "zgw-secret-for-the-e2e-test-0123456789"
TOKEN = "openklant-token-for-the-e2e-test"
AUTH = "Bearer e2e-open-notificaties-0123456789abcdef"
KEY = "e2e-pseudonym-key-0123456789abcdef0123456789"


class Ingest:
    """One `contactmon ingest` process."""

    def __init__(
        self,
        bootstrap: str,
        names: Names,
        tmp: Path,
        api_base: str,
        *,
        ca: Path | None = None,
        **env: str,
    ) -> None:
        self.port = free_ports(1)[0]
        config = tmp / "ingest.yaml"
        template = (REPO / "tests" / "fixtures" / "zgw" / "ingest.yaml").read_text()
        config.write_text(template.replace("{base}", api_base))
        self.log_path = tmp / f"ingest-{self.port}.log"
        self.context = ssl.create_default_context(cafile=str(ca)) if ca is not None else None
        self.env = {
            **os.environ,
            "CONTACTMON_BOOTSTRAP_SERVERS": bootstrap,
            "CONTACTMON_EVENTS_TOPIC": names.events,
            "CONTACTMON_DLQ_TOPIC": names.dlq,
            "CONTACTMON_INGEST_CONFIG": str(config),
            "CONTACTMON_INGEST_PORT": str(self.port),
            "CONTACTMON_ZGW_CLIENT_ID": "contactmon-e2e",
            "CONTACTMON_ZGW_SECRET": SECRET,
            "CONTACTMON_OPENKLANT_TOKEN": TOKEN,
            "CONTACTMON_PSEUDONYM_KEY": KEY,
            "CONTACTMON_FETCH_ATTEMPTS": "3",
            "TEST_INGEST_AUTH_ON": AUTH,
            "TEST_INGEST_AUTH_OK": AUTH + "-ok",
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def start(self, until: str = "/healthz") -> Ingest:
        """Start it and wait until ``until`` answers 200: /healthz (connected to the broker) or
        /livez (serving)."""
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [CONTACTMON, "ingest"], env=self.env, stdout=log, stderr=log, cwd=self.log_path.parent
        )

        def serving() -> bool:
            self.check_running()
            return self.get(until)[0] == 200

        wait_until(
            f"ingest to answer {until}",
            serving,
            timeout=60,
            ignoring=(OSError,),
            detail=self.log_tail,
        )
        return self

    def check_running(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"ingest exited {self.proc.returncode}:\n{self.log_tail()}")

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(self.url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=5, context=self.context) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def post(self, path: str, body: Any, auth: str = AUTH) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(
            self.url + path,
            data=body if isinstance(body, bytes) else orjson.dumps(body),
            headers={"Content-Type": "application/json", "Authorization": auth},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=60, context=self.context) as response:
                return response.status, orjson.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, {}

    def metrics(self, headers: dict[str, str] | None = None) -> Samples:
        status, body = self.get("/metrics", headers)
        assert status == 200, status
        return parse(body.decode())

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            assert self.proc.wait(timeout=30) == 0, self.log_tail()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
