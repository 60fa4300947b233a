"""`contactmon ingest` serving https with a certificate of a throwaway CA, on the real broker.

The CA and the server certificate for 127.0.0.1 come from deploy/lib/common.sh's helper (as for
the worker's /metrics in test_security_kafka). With ``CONTACTMON_INGEST_CERTFILE``/``_KEYFILE``
a POST over https that trusts the CA is accepted and produced; plain http to the same port gets
no HTTP answer at all; a client that does not trust the CA refuses the service; /metrics asks
for basic auth, which the password from the environment passes and which never reaches the log.
"""

from __future__ import annotations

import base64
import http.client
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.ingest_harness import AUTH, REPO, Ingest
from tests.integration.worker_harness import Names, consume_all, total

pytestmark = pytest.mark.integration

PASSWORD = "canary-ingest-tls-Metr1cs-31"


@pytest.fixture(scope="module")
def ingest_tls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA and a certificate for 127.0.0.1, made by deploy/lib/common.sh's helper."""
    folder = tmp_path_factory.mktemp("ingest-tls")
    made = subprocess.run(
        [
            "bash",
            "-c",
            'SCRIPT_NAME=test; source "$0"; tls_server_cert "$1" ingest',
            str(REPO / "deploy" / "lib" / "common.sh"),
            str(folder),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    return {"ca": folder / "ca.pem", "cert": folder / "ingest.pem", "key": folder / "ingest.key"}


def event() -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": "tls-1",
        "source": "urn:nld:gemeente:bergen:test",
        "type": "nl.contactmonitor.item.opened",
        "time": "2024-05-21T09:30:00+02:00",
        "subject": "tls-subject-1",
        "data": {"municipality": "bergen", "kind": "vraag", "channel": "email"},
    }


def test_https_accepts_and_plain_http_gets_no_answer(
    kafka_broker: str, ingest_tls: dict[str, Path], tmp_path: Path
) -> None:
    names = Names()
    ingest = Ingest(
        kafka_broker,
        names,
        tmp_path,
        "http://127.0.0.1:9",
        ca=ingest_tls["ca"],
        CONTACTMON_INGEST_CERTFILE=str(ingest_tls["cert"]),
        CONTACTMON_INGEST_KEYFILE=str(ingest_tls["key"]),
        CONTACTMON_INGEST_HOST="0.0.0.0",  # off loopback: basic auth is allowed with TLS only
        CONTACTMON_METRICS_USERNAME="prometheus",
        CONTACTMON_METRICS_PASSWORD=PASSWORD,
    )
    assert ingest.url.startswith("https://")
    try:
        ingest.start()
        assert ingest.post("/cloudevents", event()) == (
            200,
            {"events": 1, "dead_letters": 0, "ignored": 0},
        )

        plain = urllib.request.Request(
            ingest.url.replace("https://", "http://") + "/cloudevents",
            data=orjson.dumps(event() | {"id": "tls-plain"}),
            headers={"Content-Type": "application/json", "Authorization": AUTH},
            method="POST",
        )
        with pytest.raises((OSError, http.client.HTTPException)) as failed:
            urllib.request.urlopen(plain, timeout=10)
        assert not isinstance(failed.value, urllib.error.HTTPError)  # no HTTP answer at all

        untrusting = urllib.request.Request(ingest.url + "/livez")
        with pytest.raises(urllib.error.URLError) as refused:
            urllib.request.urlopen(untrusting, timeout=10, context=ssl.create_default_context())
        assert isinstance(refused.value.reason, ssl.SSLCertVerificationError)

        assert ingest.get("/metrics")[0] == 401
        token = base64.b64encode(f"prometheus:{PASSWORD}".encode()).decode()
        served = ingest.metrics({"Authorization": f"Basic {token}"})
        assert total(served, "contact_ingest_requests_total", outcome="accepted") == 1
        assert total(served, "contact_ingest_broker_connected") == 1

        records = consume_all(kafka_broker, names.events, expect=1)
        assert [orjson.loads(value)["id"] for _, value, _ in records] == ["tls-1"]
        ingest.stop()
        log = ingest.log_path.read_text()
        assert "https://0.0.0.0:" in log
        assert PASSWORD not in log
    finally:
        if ingest.proc is not None and ingest.proc.poll() is None:
            ingest.kill()
