"""A small inference container for tests: SageMaker's container contract on 127.0.0.1.

``GET /ping`` answers 200 (or 503 when ``ready`` is false). ``POST /invocations`` reads a
JSON body and acts on it::

    {"status": 400, "message": "..."}        answer that status with that text body
    {"stream": ["a ", "b "]}                 answer chunked, one chunk per item, flushed
    {"stream": [...], "break": true}          ... then cut the connection mid-stream
    {"sleep": 1.5}                           wait that long (at most 3 s) before answering
    anything else                            200 JSON describing what the container received

Every answer carries ``X-Amzn-SageMaker-Custom-Attributes: seen=<what came in>``. The
requests received are kept in ``requests`` for assertions.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["ContainerServer"]

_MAX_SLEEP = 3.0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Amzn-SageMaker-Custom-Attributes", self._seen())
        self.end_headers()
        self.wfile.write(body)

    def _seen(self) -> str:
        return "seen=" + self.headers.get("X-Amzn-SageMaker-Custom-Attributes", "none")

    def do_GET(self) -> None:
        if self.path != "/ping":
            self._answer(404, b"not found", "text/plain")
        elif self.server.ready:
            self._answer(200, b"", "text/plain")
        else:
            self._answer(503, b"loading", "text/plain")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        self.server.requests.append(
            {"path": self.path, "headers": dict(self.headers), "body": body}
        )
        if self.path != "/invocations":
            self._answer(404, b"not found", "text/plain")
            return
        try:
            order = json.loads(body)
        except ValueError:
            order = None
        if not isinstance(order, dict):
            order = {}
        if "sleep" in order:
            time.sleep(min(float(order["sleep"]), _MAX_SLEEP))
        if "status" in order:
            self._answer(int(order["status"]), str(order.get("message", "")).encode(), "text/plain")
        elif "stream" in order:
            self._stream([str(item).encode() for item in order["stream"]], bool(order.get("break")))
        else:
            description = {
                "body": body.decode("utf-8", errors="replace"),
                "content_type": self.headers.get("Content-Type"),
                "accept": self.headers.get("Accept"),
                "target_model": self.headers.get("X-Amzn-SageMaker-Target-Model"),
                "inference_id": self.headers.get("X-Amzn-SageMaker-Inference-Id"),
            }
            self._answer(200, json.dumps(description).encode(), "application/json")

    def _stream(self, chunks: list[bytes], cut: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("X-Amzn-SageMaker-Custom-Attributes", self._seen())
        self.end_headers()
        for chunk in chunks:
            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.flush()
            time.sleep(0.01)
        if cut:
            self.close_connection = True
            return
        self.wfile.write(b"0\r\n\r\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.ready = True
        self.requests: list[dict[str, Any]] = []


class ContainerServer:
    """Start with ``with ContainerServer() as container:``; ``container.url`` is its URL."""

    def __init__(self) -> None:
        self._server = _Server()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self._server.requests

    def set_ready(self, ready: bool) -> None:
        self._server.ready = ready

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> ContainerServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
