"""A fast HTTP/1.1 loopback server for the benchmarks (asyncio protocol, no framework).

It answers every request like SageMaker's InvokeEndpoint: 200, a small JSON body, the
headers the clients parse. It reads and discards request bodies of any size, keeps
connections alive, and prints ``PORT <n>`` on stdout once it listens, so that benchmark
drivers can start it as a separate process (and measure clients, not the server)::

    python benchmarks/loopback_server.py [--port 0] [--tls CERT KEY] [--stream-parts N]

Two request paths answer differently, so that whole-path benchmarks need no other server:

- ``/endpoints/bytes-<n>/invocations`` (an endpoint named ``bytes-<n>``) answers a body of
  ``n`` bytes (at most 64 MiB), with ``Content-Length``;
- ``.../invocations-response-stream`` (InvokeEndpointWithResponseStream) answers a chunked
  event stream of ``N`` token-sized ``PayloadPart`` events (``data: {"token": ...}`` lines,
  each event its own HTTP chunk, as a model server flushes tokens), built once at start-up.

``--tls CERT KEY`` serves HTTPS with that certificate chain and key (PEM files). The
server uses the standard library only; it encodes its event-stream messages itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import ssl
import struct
import sys
import zlib

_HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: application/json\r\n"
    b"x-Amzn-Invoked-Production-Variant: AllTraffic\r\n"
    b"x-amzn-RequestId: 00000000-0000-0000-0000-000000000000\r\n"
)
_BODY = b'{"predictions": [0.5]}'
_MAX_BYTES = 64 * 1024 * 1024
_STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: application/vnd.amazon.eventstream\r\n"
    b"X-Amzn-SageMaker-Content-Type: application/json\r\n"
    b"x-Amzn-Invoked-Production-Variant: AllTraffic\r\n"
    b"x-amzn-RequestId: 00000000-0000-0000-0000-000000000001\r\n"
    b"Transfer-Encoding: chunked\r\n"
    b"\r\n"
)


def answer(body: bytes) -> bytes:
    """A whole 200 answer with ``body``."""
    return _HEAD + b"Content-Length: %d\r\n\r\n" % len(body) + body


def _string_header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return (
        bytes([len(raw_name)]) + raw_name + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value
    )


def event_message(payload: bytes) -> bytes:
    """One ``PayloadPart`` event-stream message: the prelude (total and header lengths,
    their CRC32), the headers, the payload, the CRC32 of everything before it."""
    headers = (
        _string_header(":event-type", "PayloadPart")
        + _string_header(":content-type", "application/octet-stream")
        + _string_header(":message-type", "event")
    )
    total = 12 + len(headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(headers))
    head = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + payload
    return head + struct.pack(">I", zlib.crc32(head))


def token_part(index: int) -> bytes:
    """The payload of one token event, a server-sent-events line as TGI writes it."""
    return b"data: " + json.dumps({"token": {"text": f" tok{index}"}}).encode() + b"\n\n"


def stream_answer(parts: int) -> bytes:
    """A whole chunked response-stream answer: one HTTP chunk per event, then the end."""
    pieces = [_STREAM_HEAD]
    for index in range(parts):
        message = event_message(token_part(index))
        pieces.append(b"%x\r\n%s\r\n" % (len(message), message))
    pieces.append(b"0\r\n\r\n")
    return b"".join(pieces)


class _Answers:
    """The answer to each request path, built once per path (sizes are bounded)."""

    def __init__(self, stream_parts: int) -> None:
        self._default = answer(_BODY)
        self._stream = stream_answer(stream_parts)
        self._sized: dict[bytes, bytes] = {}

    def for_path(self, path: bytes) -> bytes:
        if path.endswith(b"/invocations-response-stream"):
            return self._stream
        if path.startswith(b"/endpoints/bytes-"):
            found = self._sized.get(path)
            if found is None:
                size = min(_MAX_BYTES, int(path.split(b"/")[2][len(b"bytes-") :]))
                found = self._sized[path] = answer(b"x" * size)
            return found
        return self._default


class _Protocol(asyncio.Protocol):
    def __init__(self, answers: _Answers) -> None:
        self._answers = answers
        self._buffer = bytearray()
        self._remaining = -1  # body bytes still to discard; -1 = reading headers
        self._reply = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def _start(self, head: bytes) -> None:
        """A request's head is in: find what to answer and how much body to discard."""
        request_line, _, rest = head.partition(b"\r\n")
        parts = request_line.split(b" ")
        self._reply = self._answers.for_path(parts[1] if len(parts) > 1 else b"/")
        length = 0
        for line in rest.lower().split(b"\r\n"):
            if line.startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        self._remaining = length

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            if self._remaining < 0:
                end = self._buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(self._buffer[:end])
                del self._buffer[: end + 4]
                self._start(head)
            if len(self._buffer) < self._remaining:
                self._remaining -= len(self._buffer)
                self._buffer.clear()
                return
            del self._buffer[: self._remaining]
            self._remaining = -1
            assert self._transport is not None
            self._transport.write(self._reply)


async def _serve(port: int, tls: ssl.SSLContext | None, stream_parts: int) -> None:
    loop = asyncio.get_running_loop()
    answers = _Answers(stream_parts)
    server = await loop.create_server(
        lambda: _Protocol(answers), "127.0.0.1", port, backlog=1024, ssl=tls
    )
    bound = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"PORT {bound}\n")
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve HTTPS")
    parser.add_argument("--stream-parts", type=int, default=10_000)
    args = parser.parse_args()
    tls = None
    if args.tls:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.tls[0], args.tls[1])
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.port, tls, args.stream_parts))


if __name__ == "__main__":
    main()
