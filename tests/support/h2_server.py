"""A loopback HTTP/2 stand-in for InvokeEndpointWithBidirectionalStream (tests only).

``H2BidiServer`` listens on 127.0.0.1 (ephemeral port), cleartext h2c with prior knowledge
or TLS with ALPN ``h2`` (a throwaway self-signed certificate made with ``cryptography``,
see :func:`make_tls_files`). One thread per connection drives ``h2`` (server side) over a
blocking socket with short timeouts. For each request it:

* checks the SigV4 signature of the headers (``sigv4.verify_request``, with ``:authority``
  standing for ``Host`` and ``STREAMING-AWS4-HMAC-SHA256-EVENTS`` as the payload hash), and
  answers 403 if it fails;
* verifies every input message against the chain seeded by the request's signature
  (:class:`sigv4.EventChainVerifier`), recording the inner messages;
* acts out the request's :class:`Script` (chosen per endpoint name): echo each PayloadPart
  back at once, answer an early error while the input is open, send an exception event
  after N echoes, or hold the 200 headers back until the first input message.

Outbound DATA respects the client's flow-control windows (a queue flushed on
WINDOW_UPDATE); inbound DATA is acknowledged as it is processed, with the default 64 KiB
window, so large inputs must cross many windows. Protocol errors are recorded in
``errors`` for the tests to assert on. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions

from runtime_client.eventstream import (
    EventStreamDecoder,
    EventStreamMessage,
    decode_message,
    encode_message,
)
from sigv4 import (
    Credentials,
    EventChainVerifier,
    SignableRequest,
    SignatureCheckError,
    verify_request,
)

from .listener import ThreadedListener

__all__ = ["KEYS", "REGION", "H2BidiServer", "Script", "StreamLog", "make_tls_files"]

KEYS = {"AKIDEXAMPLE": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
REGION = "us-east-1"
_TICK = 0.05
_MAX_LIFETIME = 30.0


@dataclass
class Script:
    """What the server does with a stream."""

    #: Answer this status with a rest-json error body at once (while input is open).
    error_status: int | None = None
    error_code: str = "ModelError"
    error_body: dict[str, Any] = field(default_factory=dict)
    #: After this many echoes, send an exception event and end the stream.
    exception_after: int | None = None
    exception_type: str = "ModelStreamError"
    exception_body: dict[str, Any] = field(default_factory=dict)
    #: Send the 200 headers only with the first echo.
    lazy_headers: bool = False
    #: Never answer at all (for timeouts).
    silent: bool = False
    #: Close the connection on the request, before any answer.
    hang_up: bool = False
    #: Reset the stream (INTERNAL_ERROR) on the request, before any answer.
    reset: bool = False
    variant: str = "AllTraffic"


@dataclass
class StreamLog:
    """What the server saw on one stream."""

    headers: dict[str, str] = field(default_factory=dict)
    signature_ok: bool = False
    inner: list[EventStreamMessage] = field(default_factory=list)
    ended: bool = False
    chain_error: str | None = None
    sent_events: int = 0
    #: DATA payload bytes handed to h2 so far (limited by the client's windows).
    bytes_sent: int = 0
    reset: bool = False


class _HangUp(Exception):
    """A script closes the connection (caught where the connection is served)."""


def make_tls_files(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost: ``(cert.pem, key.pem)``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bidi-test")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _payload_event(message: EventStreamMessage) -> bytes:
    headers: list[tuple[str, str]] = [(":message-type", "event"), (":event-type", "PayloadPart")]
    if message.payload:
        headers.append((":content-type", "application/octet-stream"))
    for key in ("DataType", "CompletionState"):
        value = message.headers.get(key)
        if isinstance(value, str):
            headers.append((key, value))
    return encode_message(headers, message.payload)


class _Stream:
    def __init__(self, stream_id: int, log: StreamLog, script: Script) -> None:
        self.id = stream_id
        self.log = log
        self.script = script
        self.decoder = EventStreamDecoder()
        self.verifier: EventChainVerifier | None = None
        self.outbox: deque[bytes] = deque()
        self.offset = 0
        self.end_after_outbox = False
        self.headers_sent = False
        self.done = False


class H2BidiServer(ThreadedListener):
    """The server; ``scripts`` maps an endpoint name to its :class:`Script` (default echo)."""

    def __init__(self, *, tls: tuple[Path, Path] | None = None) -> None:
        super().__init__("https" if tls else "http", tick=_TICK)
        self.scripts: dict[str, Script] = {}
        self.logs: list[StreamLog] = []
        self.errors: list[str] = []
        self.connections = 0
        #: Connections whose socket the server has seen closed (by the client or itself).
        self.closed_connections = 0
        self._lock = threading.Lock()
        self._ssl: ssl.SSLContext | None = None
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            context.set_alpn_protocols(["h2"])
            self._ssl = context
        self.start()

    def accepted(self, sock: socket.socket) -> None:
        self.connections += 1
        self.spawn(self._connection, sock)

    def _connection(self, raw: socket.socket) -> None:
        sock: socket.socket = raw
        try:
            if self._ssl is not None:
                raw.settimeout(5)
                sock = self._ssl.wrap_socket(raw, server_side=True)
                if sock.selected_alpn_protocol() != "h2":
                    self.errors.append(f"ALPN gave {sock.selected_alpn_protocol()!r}")
                    return
            sock.settimeout(_TICK)
            conn = h2.connection.H2Connection(
                h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
            )
            conn.initiate_connection()
            sock.sendall(conn.data_to_send())
            streams: dict[int, _Stream] = {}
            deadline = threading.Event()
            timer = threading.Timer(_MAX_LIFETIME, deadline.set)
            timer.daemon = True
            timer.start()
            try:
                self._loop(sock, conn, streams, deadline)
            finally:
                timer.cancel()
        except (ConnectionResetError, BrokenPipeError, _HangUp):
            pass  # the client hung up (it tears the connection down when it is done), or we did
        except (OSError, ssl.SSLError) as exc:
            self.errors.append(f"socket: {exc!r}")
        except h2.exceptions.ProtocolError as exc:
            self.errors.append(f"protocol: {exc!r}")
        finally:
            with contextlib.suppress(OSError):
                sock.close()
            with self._lock:
                self.closed_connections += 1

    def _loop(
        self,
        sock: socket.socket,
        conn: h2.connection.H2Connection,
        streams: dict[int, _Stream],
        deadline: threading.Event,
    ) -> None:
        while not self._stop.is_set() and not deadline.is_set():
            try:
                data = sock.recv(65536)
            except TimeoutError:
                data = None
            except ssl.SSLWantReadError:
                data = None
            if data == b"":
                return
            if data:
                events = conn.receive_data(data)
                # After a GOAWAY h2 is closed already: record the requests, answer nothing.
                closing = any(isinstance(e, h2.events.ConnectionTerminated) for e in events)
                for event in events:
                    self._handle(conn, streams, event, closing)
                if closing:
                    return
            for stream in streams.values():
                self._flush(conn, stream)
            out = conn.data_to_send()
            if out:
                sock.settimeout(5)
                sock.sendall(out)
                sock.settimeout(_TICK)

    # ------------------------------------------------------------------ protocol

    def _handle(
        self,
        conn: h2.connection.H2Connection,
        streams: dict[int, _Stream],
        event: Any,
        closing: bool,
    ) -> None:
        if isinstance(event, h2.events.RequestReceived):
            headers = {str(k): str(v) for k, v in event.headers}
            log = StreamLog(headers=headers)
            with self._lock:
                self.logs.append(log)
            name = headers.get(":path", "").split("/")[2] if ":path" in headers else ""
            stream = _Stream(event.stream_id, log, self.scripts.get(name, Script()))
            streams[event.stream_id] = stream
            if not closing:
                self._on_request(conn, stream)
        elif isinstance(event, h2.events.DataReceived) and not closing:
            stream = streams[event.stream_id]
            conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            if stream.done or stream.verifier is None:
                return
            for message in stream.decoder.feed(event.data):
                self._on_message(conn, stream, message)
        elif isinstance(event, h2.events.StreamEnded) and event.stream_id in streams:
            stream = streams[event.stream_id]
            if not stream.log.ended and not stream.done:
                stream.log.chain_error = stream.log.chain_error or "END_STREAM before the end frame"
        elif isinstance(event, h2.events.StreamReset) and event.stream_id in streams:
            streams[event.stream_id].log.reset = True
            streams[event.stream_id].done = True
            streams[event.stream_id].outbox.clear()
            streams[event.stream_id].end_after_outbox = False

    def _on_request(self, conn: h2.connection.H2Connection, stream: _Stream) -> None:
        headers = stream.log.headers
        regular = [(k, v) for k, v in headers.items() if not k.startswith(":")]
        request = SignableRequest(
            method=headers.get(":method", ""),
            url=headers.get(":path", ""),
            headers=[("host", headers.get(":authority", "")), *regular],
            payload_hash="STREAMING-AWS4-HMAC-SHA256-EVENTS",
        )
        try:
            verified = verify_request(
                request, KEYS, now=dt.datetime.now(dt.timezone.utc), service="sagemaker"
            )
        except SignatureCheckError as exc:
            self._error(conn, stream, exc.status, exc.code, {"message": exc.message})
            return
        stream.log.signature_ok = True
        stream.verifier = EventChainVerifier(
            verified.signature, Credentials("AKIDEXAMPLE", KEYS["AKIDEXAMPLE"]), REGION, "sagemaker"
        )
        script = stream.script
        if script.hang_up:
            raise _HangUp
        if script.reset:
            stream.done = True
            conn.reset_stream(stream.id, 2)
            return
        if script.silent:
            return
        if script.error_status is not None:
            self._error(conn, stream, script.error_status, script.error_code, script.error_body)
            return
        if not script.lazy_headers:
            self._send_headers(conn, stream)

    def _send_headers(self, conn: h2.connection.H2Connection, stream: _Stream) -> None:
        if stream.headers_sent:
            return
        stream.headers_sent = True
        conn.send_headers(
            stream.id,
            [
                (":status", "200"),
                ("content-type", "application/vnd.amazon.eventstream"),
                ("x-amzn-invoked-production-variant", stream.script.variant),
                ("x-amzn-requestid", "req-bidi-1"),
            ],
        )

    def _error(
        self,
        conn: h2.connection.H2Connection,
        stream: _Stream,
        status: int,
        code: str,
        body: dict[str, Any],
    ) -> None:
        stream.done = True
        stream.headers_sent = True
        payload = json.dumps(body).encode()
        conn.send_headers(
            stream.id,
            [
                (":status", str(status)),
                ("content-type", "application/json"),
                ("x-amzn-errortype", code),
                ("x-amzn-requestid", "req-bidi-err"),
                ("content-length", str(len(payload))),
            ],
        )
        stream.outbox.append(payload)
        stream.end_after_outbox = True

    def _on_message(
        self, conn: h2.connection.H2Connection, stream: _Stream, message: EventStreamMessage
    ) -> None:
        assert stream.verifier is not None
        try:
            payload = stream.verifier.verify(
                message.headers.get(":date"),
                message.headers.get(":chunk-signature"),
                message.payload,
                now=dt.datetime.now(dt.timezone.utc),
            )
            inner = None if payload is None else decode_message(payload)
        except SignatureCheckError as exc:
            stream.log.chain_error = f"{exc.code}: {exc.message}"
            stream.done = True
            conn.reset_stream(stream.id)
            return
        if inner is None:
            stream.log.ended = True
            self._send_headers(conn, stream)
            stream.end_after_outbox = True
            return
        stream.log.inner.append(inner)
        script = stream.script
        if script.silent:
            return
        self._send_headers(conn, stream)
        if script.exception_after is not None and stream.log.sent_events >= script.exception_after:
            exception = encode_message(
                [
                    (":message-type", "exception"),
                    (":exception-type", script.exception_type),
                    (":content-type", "application/json"),
                ],
                json.dumps(script.exception_body).encode(),
            )
            stream.outbox.append(exception)
            stream.end_after_outbox = True
            stream.done = True
            return
        stream.outbox.append(_payload_event(inner))
        stream.log.sent_events += 1

    def _flush(self, conn: h2.connection.H2Connection, stream: _Stream) -> None:
        """Send queued DATA within the client's windows; END_STREAM after the last byte."""
        if stream.id not in conn.streams:
            return
        while stream.outbox:
            window = conn.local_flow_control_window(stream.id)
            if window <= 0:
                return
            head = stream.outbox[0]
            start = stream.offset
            size = min(window, conn.max_outbound_frame_size, len(head) - start)
            conn.send_data(stream.id, head[start : start + size])
            stream.log.bytes_sent += size
            stream.offset += size
            if stream.offset == len(head):
                stream.outbox.popleft()
                stream.offset = 0
        if stream.end_after_outbox:
            stream.end_after_outbox = False
            conn.end_stream(stream.id)
