"""A loopback HTTPS origin for the transport's HTTP/2 tests (and its HTTP/1.1 fallback).

``H2Origin`` listens on 127.0.0.1 (ephemeral port) with TLS (a throwaway certificate
from :func:`tests.support.h2_server.make_tls_files`) and offers ``alpn`` (``["h2",
"http/1.1"]`` by default; ``["http/1.1"]`` for a server without HTTP/2). One thread per
connection; an HTTP/2 connection serves its streams at once from one loop (answers are
scheduled, not slept), an HTTP/1.1 one answers one request after another.

What a request gets depends on its path (``/<action>/<argument>``):

* ``/echo``: 200 with the request body; ``/size/<n>``: 200 with ``n`` bytes;
* ``/slow/<ms>``: 200 after ``ms`` milliseconds (``b"slow"``);
* ``/gather/<n>``: 200 (``b"gathered"``) once ``n`` streams have been open on the
  connection at the same time, or after 5 s if they never were (so a test of concurrency
  does not depend on how fast a loaded machine opens them);
* ``/silent``: never answered; ``/reset/<code>``: RST_STREAM with that error code;
* ``/goaway``: a GOAWAY whose last stream id is below this stream's (not processed);
  ``/goaway-once``: the same the first time, answered (echo) afterwards.

Outbound DATA respects the client's windows; inbound DATA is acknowledged as it arrives
with the server's ``initial_window`` (default 65535), so a large body crosses many
windows. Every wait is bounded; protocol errors are recorded in ``errors``.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

from .listener import ThreadedListener

__all__ = ["H2Origin", "Seen"]

_TICK = 0.02
_MAX_LIFETIME = 30.0
_GATHER_LIMIT = 5.0


@dataclass
class Seen:
    """One request as the server saw it."""

    protocol: str
    headers: dict[str, str]
    body: bytes = b""
    connection: int = 0
    stream_id: int = 0


@dataclass
class _Answer:
    stream_id: int
    due: float
    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    offset: int = 0
    started: bool = False
    gather: int = 0  # hold until this many streams have been open at once (or ``due``)


class H2Origin(ThreadedListener):
    """The server (see the module docstring)."""

    def __init__(
        self,
        tls: tuple[Path, Path],
        *,
        alpn: tuple[str, ...] = ("h2", "http/1.1"),
        max_concurrent_streams: int = 100,
        initial_window: int = 65535,
        acknowledge: bool = True,
    ) -> None:
        super().__init__("https", tick=_TICK)
        self.seen: list[Seen] = []
        self.errors: list[str] = []
        self.connections = 0
        self.closed_connections = 0
        #: The most streams open at once on any one connection.
        self.max_open_streams = 0
        self.resets_received: list[int] = []
        self.goaway_sent = False
        #: False: inbound DATA is never acknowledged (a client's body waits for credit).
        self.acknowledge = acknowledge
        self._settings = {
            h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: max_concurrent_streams,
            h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: initial_window,
        }
        self._lock = threading.Lock()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        context.set_alpn_protocols(list(alpn))
        self._ssl = context
        self.start()

    def accepted(self, sock: socket.socket) -> None:
        with self._lock:
            self.connections += 1
            number = self.connections
        self.spawn(self._connection, sock, number)

    def _connection(self, raw: socket.socket, number: int) -> None:
        sock: socket.socket = raw
        try:
            raw.settimeout(5)
            sock = self._ssl.wrap_socket(raw, server_side=True)
            if sock.selected_alpn_protocol() == "h2":
                _H2Session(self, sock, number).run()
            else:
                _serve_http1(self, sock, number)
        except (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError):
            pass  # the client hung up
        except (OSError, ssl.SSLError) as exc:
            if not self._stop.is_set():
                self.errors.append(f"socket: {exc!r}")
        except h2.exceptions.ProtocolError as exc:
            self.errors.append(f"protocol: {exc!r}")
        finally:
            with contextlib.suppress(OSError):
                sock.close()
            with self._lock:
                self.closed_connections += 1

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)


def _plan(path: str, body: bytes, stream_id: int, now: float) -> _Answer | str:
    """What to do with a request: an answer, or one of "silent", "goaway", "reset:<n>"."""
    parts = path.split("/")
    action = parts[1] if len(parts) > 1 else ""
    argument = parts[2] if len(parts) > 2 else ""
    if action == "size":
        return _Answer(stream_id, now, body=b"x" * int(argument))
    if action == "slow":
        return _Answer(stream_id, now + int(argument) / 1000, body=b"slow")
    if action == "gather":
        return _Answer(stream_id, now + _GATHER_LIMIT, body=b"gathered", gather=int(argument))
    if action in ("silent", "goaway", "goaway-once"):
        return action
    if action == "reset":
        return f"reset:{argument}"
    return _Answer(stream_id, now, body=body)


class _H2Session:
    def __init__(self, origin: H2Origin, sock: socket.socket, number: int) -> None:
        self.origin = origin
        self.sock = sock
        self.number = number
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        self.requests: dict[int, Seen] = {}
        self.answers: deque[_Answer] = deque()
        self.open: set[int] = set()
        self.peak = 0  # the most streams open at once on this connection
        self.closing = False

    def run(self) -> None:
        conn = self.conn
        settings = self.origin._settings
        conn.local_settings = h2.settings.Settings(client=False, initial_values=settings)
        conn.initiate_connection()
        self.sock.sendall(conn.data_to_send())
        self.sock.settimeout(_TICK)
        deadline = time.monotonic() + _MAX_LIFETIME
        while not self.origin._stop.is_set() and time.monotonic() < deadline:
            try:
                data = self.sock.recv(65536)
            except (TimeoutError, ssl.SSLWantReadError):
                data = None
            if data == b"":
                return
            if data:
                try:
                    events = conn.receive_data(data)
                except h2.exceptions.ProtocolError:
                    if self.closing:  # frames after our GOAWAY: h2 takes none
                        return
                    raise
                for event in events:
                    self._handle(event)
            self._answer(time.monotonic())
            out = conn.data_to_send()
            if out:
                self.sock.settimeout(5)
                self.sock.sendall(out)
                self.sock.settimeout(_TICK)
            if self.closing and not self.answers:
                return

    def _handle(self, event: h2.events.Event) -> None:
        conn = self.conn
        if isinstance(event, h2.events.RequestReceived):
            headers = {str(k): str(v) for k, v in event.headers}
            self.requests[event.stream_id] = Seen(
                "h2", headers, connection=self.number, stream_id=event.stream_id
            )
            self.open.add(event.stream_id)
            self.peak = max(self.peak, len(self.open))
            self.origin.max_open_streams = max(self.origin.max_open_streams, self.peak)
        elif isinstance(event, h2.events.DataReceived):
            if self.origin.acknowledge:
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            seen = self.requests.get(event.stream_id)
            if seen is not None:
                seen.body += event.data
        elif isinstance(event, h2.events.StreamEnded) and event.stream_id in self.requests:
            self._on_request(self.requests[event.stream_id])
        elif isinstance(event, h2.events.StreamReset):
            self.origin.resets_received.append(event.stream_id)
            self.open.discard(event.stream_id)
            self.answers = deque(a for a in self.answers if a.stream_id != event.stream_id)

    def _on_request(self, seen: Seen) -> None:
        self.origin.record(seen)
        sid = seen.stream_id
        plan = _plan(seen.headers.get(":path", "/"), seen.body, sid, time.monotonic())
        if plan == "silent":
            return
        if plan == "goaway-once" and self.origin.goaway_sent:
            plan = _Answer(sid, time.monotonic(), body=seen.body)
        elif plan in ("goaway", "goaway-once"):
            self.origin.goaway_sent = True
            self.conn.close_connection(last_stream_id=max(0, sid - 2))
            self.closing = True
            return
        if isinstance(plan, str):  # reset:<code>
            self.conn.reset_stream(sid, int(plan.split(":")[1]))
            self.open.discard(sid)
            return
        self.answers.append(plan)

    def _answer(self, now: float) -> None:
        conn = self.conn
        for answer in list(self.answers):
            if 0 < answer.gather <= self.peak:
                answer.gather, answer.due = 0, now
            if answer.due > now or answer.stream_id not in conn.streams:
                continue
            if not answer.started:
                answer.started = True
                headers = [(":status", str(answer.status)), *answer.headers]
                headers.append(("content-length", str(len(answer.body))))
                conn.send_headers(answer.stream_id, headers)
            while answer.offset < len(answer.body):
                window = conn.local_flow_control_window(answer.stream_id)
                size = min(window, conn.max_outbound_frame_size, len(answer.body) - answer.offset)
                if size <= 0:
                    break
                conn.send_data(answer.stream_id, answer.body[answer.offset : answer.offset + size])
                answer.offset += size
            if answer.offset == len(answer.body):
                conn.end_stream(answer.stream_id)
                self.answers.remove(answer)
                self.open.discard(answer.stream_id)


def _serve_http1(origin: H2Origin, sock: socket.socket, number: int) -> None:
    """HTTP/1.1 for a client that did not pick h2: echo the body, keep-alive."""
    sock.settimeout(5)
    buffer = b""
    while not origin._stop.is_set():
        while b"\r\n\r\n" not in buffer:
            data = sock.recv(65536)
            if not data:
                return
            buffer += data
        head, buffer = buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        if len(lines[0].split(" ")) != 3:
            origin.errors.append(f"not an HTTP/1.1 request line: {lines[0][:40]!r}")
            return
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(buffer) < length:
            data = sock.recv(65536)
            if not data:
                return
            buffer += data
        body, buffer = buffer[:length], buffer[length:]
        headers[":path"] = lines[0].split(" ")[1]
        origin.record(Seen("http/1.1", headers, body, connection=number))
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
