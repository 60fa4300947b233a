"""The worker's web server (`streams.live.web`): /metrics and /healthz only, TLS, basic auth; the
settings that configure it; and Faust's own environment ignored (`streams.live.command`)."""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from streams import logs
from streams.live.command import FAUST_IMPORT_VARIABLES, ignore_faust_environment
from streams.live.settings import SettingsError, WorkerSettings, load_settings
from streams.live.web import EXPOSITION_TYPE, MetricsServer, WebError

PASSWORD = "canary-Metr1cs-e5a7"
EXPOSITION = b"# TYPE contact_events_total counter\ncontact_events_total 3.0\n"


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (openssl); the certificate is the CA."""
    folder = tmp_path_factory.mktemp("web-tls")
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
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return {"cert": cert, "key": key}


def settings(**env: str) -> WorkerSettings:
    """Worker settings from CONTACTMON_* `env` (short names), on port 0: any free port."""
    loaded = load_settings(WorkerSettings, {f"CONTACTMON_{k.upper()}": v for k, v in env.items()})
    return loaded.model_copy(update={"metrics_port": 0})


def serving(
    server: MetricsServer, check: Callable[[aiohttp.ClientSession, str], Awaitable[None]]
) -> None:
    """Run `check(session, base URL)` against the started server, then stop it."""

    async def run() -> None:
        await server.start()
        try:
            async with aiohttp.ClientSession() as session:
                await check(session, server.url.removesuffix("/metrics"))
        finally:
            await server.stop()

    asyncio.run(run())


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class TestRoutes:
    """Two routes answer; everything Faust's server had is gone."""

    def test_metrics_and_health(self) -> None:
        server = MetricsServer(settings(), lambda: EXPOSITION)

        async def check(session: aiohttp.ClientSession, base: str) -> None:
            async with session.get(f"{base}/metrics") as r:
                assert r.status == 200
                assert await r.read() == EXPOSITION
                assert r.headers["Content-Type"] == EXPOSITION_TYPE
                assert r.headers["Server"] == "contactmon"
                assert r.headers["Cache-Control"] == "no-store"
            async with session.get(f"{base}/healthz") as r:
                assert (r.status, await r.text()) == (200, "ok\n")

        serving(server, check)

    @pytest.mark.parametrize(
        "path",
        [
            "/",
            "/router/",
            "/router/contact.events/0",
            "/table/",
            "/table/x/",
            "/graph/",
            "/stats/",
            "/metrics/",
            "/healthz/x",
            "/metrics.json",
        ],
    )
    def test_nothing_else_answers(self, path: str) -> None:
        server = MetricsServer(settings(), lambda: EXPOSITION)

        async def check(session: aiohttp.ClientSession, base: str) -> None:
            async with session.get(f"{base}{path}") as r:
                assert r.status == 404
                assert b"contact_events_total" not in await r.read()

        serving(server, check)

    @pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
    def test_other_methods_are_refused(self, method: str) -> None:
        server = MetricsServer(settings(), lambda: EXPOSITION)

        async def check(session: aiohttp.ClientSession, base: str) -> None:
            async with session.request(method, f"{base}/metrics") as r:
                assert r.status == 405

        serving(server, check)

    def test_the_bound_address_is_the_settings(self) -> None:
        server = MetricsServer(settings(), lambda: EXPOSITION)
        try:
            assert server.url.startswith("http://127.0.0.1:")
            assert server.port > 0
        finally:
            server.close()


class TestBasicAuth:
    """/metrics asks for the user name and password; /healthz does not."""

    def test_the_right_credentials_only(self) -> None:
        server = MetricsServer(
            settings(metrics_username="prometheus", metrics_password=PASSWORD), lambda: EXPOSITION
        )

        async def check(session: aiohttp.ClientSession, base: str) -> None:
            async with session.get(f"{base}/metrics") as r:
                assert r.status == 401
                assert r.headers["WWW-Authenticate"].startswith("Basic realm=")
                assert b"contact_events_total" not in await r.read()
            for headers in (
                basic("prometheus", "wrong"),
                basic("other", PASSWORD),
                basic("prometheus", PASSWORD + "x"),
                {"Authorization": "Basic !!!not-base64"},
                {"Authorization": "Bearer " + PASSWORD},
                {"Authorization": "Basic " + base64.b64encode(b"prometheus").decode()},
            ):
                async with session.get(f"{base}/metrics", headers=headers) as r:
                    assert r.status == 401, headers
            async with session.get(f"{base}/metrics", headers=basic("prometheus", PASSWORD)) as r:
                assert (r.status, await r.read()) == (200, EXPOSITION)
            async with session.get(f"{base}/healthz") as r:
                assert r.status == 200

        serving(server, check)

    def test_the_password_is_registered_for_redaction(self) -> None:
        logs.SECRETS.clear()
        server = MetricsServer(
            settings(metrics_username="prometheus", metrics_password=PASSWORD), lambda: EXPOSITION
        )
        server.close()
        assert logs.redact(PASSWORD) == logs.MASK


class TestTls:
    """With a certificate the server speaks TLS only."""

    def test_https_with_the_ca_and_nothing_in_clear(self, tls_files: dict[str, Path]) -> None:
        server = MetricsServer(
            settings(
                metrics_certfile=str(tls_files["cert"]),
                metrics_keyfile=str(tls_files["key"]),
                metrics_username="prometheus",
                metrics_password=PASSWORD,
            ),
            lambda: EXPOSITION,
        )
        assert server.url.startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=str(tls_files["cert"]))

        async def check(session: aiohttp.ClientSession, base: str) -> None:
            auth = basic("prometheus", PASSWORD)
            async with session.get(f"{base}/metrics", headers=auth, ssl=context) as r:
                assert (r.status, await r.read()) == (200, EXPOSITION)
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                async with session.get(f"{base}/metrics", headers=auth):  # system CAs
                    pass
            with pytest.raises(aiohttp.ClientError):
                async with session.get(base.replace("https", "http") + "/healthz") as r:
                    assert r.status >= 400  # never an answer in clear text

        serving(server, check)

    def test_an_unusable_certificate_is_a_web_error(self, tmp_path: Path) -> None:
        bad = tmp_path / "bad.pem"
        bad.write_text("not a certificate")
        with pytest.raises(WebError, match=r"cannot use the metrics certificate .*bad\.pem"):
            MetricsServer(settings(metrics_certfile=str(bad)), lambda: EXPOSITION)

    def test_a_key_that_does_not_fit(self, tls_files: dict[str, Path], tmp_path: Path) -> None:
        other = tmp_path / "other.key"
        subprocess.run(
            ["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(other)],
            check=True,
            capture_output=True,
        )
        with pytest.raises(WebError, match="with the key"):
            MetricsServer(
                settings(metrics_certfile=str(tls_files["cert"]), metrics_keyfile=str(other)),
                lambda: EXPOSITION,
            )


class TestStartUp:
    """A port in use is a message, not a traceback."""

    def test_a_port_in_use(self) -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            busy = load_settings(WorkerSettings, {}).model_copy(update={"metrics_port": port})
            with pytest.raises(WebError, match=rf"cannot serve /metrics on 127.0.0.1:{port}"):
                MetricsServer(busy, lambda: EXPOSITION)

    def test_an_unknown_host(self) -> None:
        with pytest.raises(WebError, match=r"cannot serve /metrics on no-such-host\.invalid"):
            MetricsServer(settings(metrics_host="no-such-host.invalid"), lambda: EXPOSITION)


class TestSettings:
    """The CONTACTMON_METRICS_* settings go together, and the password needs TLS off loopback."""

    @pytest.mark.parametrize(
        ("env", "says"),
        [
            ({"metrics_username": "p"}, "CONTACTMON_METRICS_PASSWORD: required when"),
            ({"metrics_password": PASSWORD}, "CONTACTMON_METRICS_USERNAME: required when"),
            ({"metrics_username": "a:b", "metrics_password": PASSWORD}, "METRICS_USERNAME"),
            (
                {"metrics_host": "0.0.0.0", "metrics_username": "p", "metrics_password": PASSWORD},
                "would cross the network in clear text",
            ),
        ],
    )
    def test_refused(self, env: dict[str, str], says: str) -> None:
        with pytest.raises(SettingsError) as raised:
            settings(**env)
        assert says in str(raised.value)
        assert PASSWORD not in str(raised.value)

    def test_key_without_certificate(self, tls_files: dict[str, Path]) -> None:
        with pytest.raises(SettingsError, match="CONTACTMON_METRICS_CERTFILE: required"):
            settings(metrics_keyfile=str(tls_files["key"]))

    def test_accepted(self, tls_files: dict[str, Path]) -> None:
        local = settings(metrics_username="p", metrics_password=PASSWORD)
        assert local.metrics_password is not None
        assert PASSWORD not in repr(local)
        remote = settings(
            metrics_host="0.0.0.0",
            metrics_username="p",
            metrics_password=PASSWORD,
            metrics_certfile=str(tls_files["cert"]),
        )
        assert remote.metrics_tls
        assert "metrics_password" in WorkerSettings.secret_fields()


class TestFaustEnvironment:
    """What Faust would read at import time is taken out of the worker's environment."""

    def test_removed_by_name_and_reported_without_values(self) -> None:
        environ: dict[str, Any] = {
            "FAUST_LOOP": "eventlet",
            "F_DEBUG": "1",
            "FAUST_WEB_PORT": "1",
            "F_F_WEB_BIND": "0.0.0.0",
            "CONTACTMON_METRICS_PORT": "6066",
            "PATH": "/bin",
        }
        ignored = ignore_faust_environment(environ)
        assert ignored == ["FAUST_LOOP", "FAUST_WEB_PORT", "F_DEBUG", "F_F_WEB_BIND"]
        assert environ == {"CONTACTMON_METRICS_PORT": "6066", "PATH": "/bin"}

    def test_the_names_cover_faust_and_mode(self) -> None:
        assert {"FAUST_LOOP", "F_LOOP", "FAUST_DATADIR", "F_WEB_PORT", "NO_CYTHON"} <= (
            FAUST_IMPORT_VARIABLES
        )
