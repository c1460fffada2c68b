"""A fast HTTP/1.1 loopback server for the benchmarks (asyncio protocol, no framework).

It answers every request like SageMaker's InvokeEndpoint: 200, a small JSON body, the
headers the clients parse. It reads and discards request bodies of any size, keeps
connections alive, and prints ``PORT <n>`` on stdout once it listens, so that benchmark
drivers can start it as a separate process (and measure clients, not the server)::

    python benchmarks/loopback_server.py [--port 0]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

_BODY = b'{"predictions": [0.5]}'
_RESPONSE = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: application/json\r\n"
    b"x-Amzn-Invoked-Production-Variant: AllTraffic\r\n"
    b"x-amzn-RequestId: 00000000-0000-0000-0000-000000000000\r\n"
    b"Content-Length: " + str(len(_BODY)).encode() + b"\r\n"
    b"\r\n" + _BODY
)


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self._buffer = bytearray()
        self._remaining = -1  # body bytes still to discard; -1 = reading headers
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            if self._remaining < 0:
                end = self._buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(self._buffer[:end]).lower()
                del self._buffer[: end + 4]
                length = 0
                for line in head.split(b"\r\n"):
                    if line.startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                self._remaining = length
            if len(self._buffer) < self._remaining:
                self._remaining -= len(self._buffer)
                self._buffer.clear()
                return
            del self._buffer[: self._remaining]
            self._remaining = -1
            assert self._transport is not None
            self._transport.write(_RESPONSE)


async def _serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Protocol, "127.0.0.1", port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"PORT {bound}\n")
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.port))


if __name__ == "__main__":
    main()
