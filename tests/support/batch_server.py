"""A loopback InvokeEndpoint stand-in for batch tests (threads in the test process).

It answers each record by its body, counting what it saw:

* the body back (``application/json``), after ``{"sleep": s}`` seconds if the body is a
  JSON object saying so (capped at 2 s);
* a body holding ``fail`` gets 424 ModelError; one holding ``flaky`` gets it the first
  time only;
* while ``storm_until`` (a ``time.monotonic()`` value) is ahead, or while more than
  ``throttle_above`` calls are in flight, a call gets 400 ThrottlingException.

``seen`` counts answered bodies (success or ModelError) by body; ``throttled`` counts
throttling answers; ``peak`` is the most calls in flight at once, ``in_flight_log`` the
number in flight at each arrival (time, n). Every wait is bounded.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["BatchServer"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        owner = self.server.owner
        with owner.lock:
            owner.in_flight += 1
            owner.peak = max(owner.peak, owner.in_flight)
            owner.in_flight_log.append((time.monotonic(), owner.in_flight))
            crowded = owner.in_flight > owner.throttle_above
            storm = time.monotonic() < owner.storm_until
        try:
            if storm or crowded:
                with owner.lock:
                    owner.throttled += 1
                time.sleep(0.002)
                self._error(400, "ThrottlingException", "Rate exceeded")
                return
            delay = _sleep_of(body)
            if delay:
                time.sleep(min(delay, 2.0))
            with owner.lock:
                owner.seen[body] += 1
            if b"fail" in body or (b"flaky" in body and owner.seen[body] == 1):
                self._error(424, "ModelError", "the model failed on this record")
                return
            self._send(200, body, {"Content-Type": "application/json"})
        finally:
            with owner.lock:
                owner.in_flight -= 1

    def _error(self, status: int, code: str, message: str) -> None:
        payload = json.dumps({"message": message}).encode()
        self._send(status, payload, {"x-amzn-ErrorType": f"{code}:", "Content-Type": "json"})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("x-Amzn-Invoked-Production-Variant", "AllTraffic")
        self.send_header("x-amzn-RequestId", "req-batch")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _sleep_of(body: bytes) -> float:
    if not body.startswith(b"{"):
        return 0.0
    try:
        parsed = json.loads(body)
    except ValueError:
        return 0.0
    value = parsed.get("sleep") if isinstance(parsed, dict) else None
    return float(value) if isinstance(value, (int, float)) else 0.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # 16 connections at once must not overflow the backlog (5)
    owner: BatchServer


class BatchServer:
    """Start with ``with BatchServer() as server:``; ``server.url`` is its endpoint URL."""

    def __init__(self, port: int = 0) -> None:
        self.lock = threading.Lock()
        self.seen: Counter[bytes] = Counter()
        self.throttled = 0
        self.in_flight = 0
        self.peak = 0
        self.in_flight_log: list[tuple[float, int]] = []
        self.throttle_above = 10**9
        self.storm_until = 0.0
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> BatchServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
