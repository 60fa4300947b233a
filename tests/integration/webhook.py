"""A tiny HTTP webhook receiver for tests: records the JSON body of every POST it gets.

Alertmanager's webhook notifier POSTs one JSON document per notification (a group of
alerts). The tests point Alertmanager at a `WebhookReceiver` and then wait, bounded, for the
notifications they expect:

    with WebhookReceiver() as receiver:
        start_alertmanager(webhook_url=receiver.url)
        ...
        assert receiver.wait_for(lambda bodies: len(bodies) >= 2, timeout=20)
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

HOST = "127.0.0.1"
POLL_INTERVAL_S = 0.05

Body = dict[str, Any]
Predicate = Callable[[list[Body]], bool]


class _Server(ThreadingHTTPServer):
    """The HTTP server, holding a reference back to the receiver that records the bodies."""

    daemon_threads = True

    def __init__(self, receiver: WebhookReceiver) -> None:
        super().__init__((HOST, 0), _Handler)
        self.receiver = receiver


class _Handler(BaseHTTPRequestHandler):
    """Answers every POST with 200 after recording its JSON body; anything else is a 405."""

    server: _Server

    def do_POST(self) -> None:
        """Record the body (a JSON object) with its path; a body that is not one gets a 400."""
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            self.send_error(400, "the body is not JSON")
            return
        if not isinstance(body, dict):
            self.send_error(400, "the body is not a JSON object")
            return
        self.server.receiver.record(self.path, body)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        """A webhook is POSTed to; say so."""
        self.send_error(405, "POST only")

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet: the recorded bodies say what arrived."""


class WebhookReceiver:
    """An HTTP server on 127.0.0.1:<free port> in a thread that records POSTed JSON bodies.

    `start()`/`stop()` or use it as a context manager. `bodies` is a snapshot of what arrived,
    in order; `paths` the request paths alongside; `url` is the address to POST to.
    """

    def __init__(self, path: str = "/webhook") -> None:
        self._path = path
        self._lock = threading.Condition()
        self._bodies: list[Body] = []
        self._paths: list[str] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The URL to POST to (only while the receiver runs)."""
        if self._server is None:
            raise RuntimeError("the webhook receiver is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{self._path}"

    @property
    def bodies(self) -> list[Body]:
        """The JSON bodies received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._bodies)

    @property
    def paths(self) -> list[str]:
        """The request paths of the bodies received so far, in the same order (a copy)."""
        with self._lock:
            return list(self._paths)

    def record(self, path: str, body: Body) -> None:
        """Keep one received body and wake whoever waits for it."""
        with self._lock:
            self._bodies.append(body)
            self._paths.append(path)
            self._lock.notify_all()

    def wait_for(self, predicate: Predicate, timeout: float) -> bool:
        """Wait until `predicate(bodies)` holds, at most `timeout` seconds; whether it did."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate(list(self._bodies)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(min(remaining, POLL_INTERVAL_S))
            return True

    def start(self) -> Self:
        """Bind a free port and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the webhook receiver is already running")
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="webhook-receiver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
