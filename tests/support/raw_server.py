"""A loopback HTTP/1.1 server scripted byte by byte, that counts its connections.

``RawServer`` listens on 127.0.0.1 (ephemeral port), one thread per connection. It parses
each request (request line, headers, a ``Content-Length`` or chunked body), records it
(:class:`Request`: method, path, headers, body, which connection and which request on it)
and plays the next scripted :class:`Reply`, else the default echo answer:
InvokeEndpoint gets its request body back (so concurrent callers can check they got their
own answer), InvokeEndpointAsync a 202 with ``{"InferenceId": ...}``.

A :class:`Reply` is a sequence of steps: ``bytes`` are written as they are (nothing is
added: build answers with :func:`response`, :func:`head` and :func:`chunk`), a
:class:`Pause` sleeps, a ``threading.Event`` is waited for, :class:`Hold` stalls (reading
and discarding what arrives, or not reading at all so that the client's writes stall) and
:class:`Close` closes the connection (FIN, or RST with ``reset=True``). A reply may leave
the request body unread, and may close the connection once it has been idle for a while
without telling the client (``idle_close``).

Every connection is a :class:`Connection`: the server knows how many it accepted, how many
are open, and who closed each one (``"peer"``: the client hung up; ``"server"``: a script
did, or the server shut down). With ``silent=True`` it accepts connections and never says
anything (a TLS handshake that never completes). :func:`full_backlog` gives an address
whose listen queue is full, so that connecting to it hangs.

Every wait is bounded: pauses and holds are capped at ``MAX_PAUSE``, writes time out after
``IO_TIMEOUT``, and ``close()`` wakes and ends every connection thread. The client side
of these tests is in ``tests.support.raw_client``.
"""

from __future__ import annotations

import contextlib
import json
import random
import select
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

__all__ = [
    "IO_TIMEOUT",
    "MAX_PAUSE",
    "Close",
    "Connection",
    "Hold",
    "Pause",
    "RawServer",
    "Reply",
    "Request",
    "chunk",
    "echo",
    "full_backlog",
    "head",
    "response",
]

MAX_PAUSE = 5.0
IO_TIMEOUT = 5.0
_TICK = 0.02
_MAX_HEAD = 64 * 1024

_REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 424: "Failed Dependency"}


@dataclass(frozen=True)
class Pause:
    """Sleep this many seconds (capped at ``MAX_PAUSE``; ``close()`` wakes it)."""

    seconds: float


@dataclass(frozen=True)
class Hold:
    """Stall: send nothing for ``seconds`` (capped) or until the client hangs up.

    With ``drain`` (the default) what arrives is read and thrown away, so the server sees
    the client close; without it nothing is read, so a client that is still sending
    stalls once the socket buffers are full.
    """

    seconds: float = MAX_PAUSE
    drain: bool = True


@dataclass(frozen=True)
class Close:
    """Close the connection here: a FIN, or a RST when ``reset``."""

    reset: bool = False


Step = bytes | Pause | Hold | Close | threading.Event


@dataclass(frozen=True)
class Reply:
    """A scripted answer to one request.

    ``read_body=False`` leaves the request body unread (the script decides what happens
    to the bytes still coming); ``idle_close`` closes the connection, without a word to
    the client, once it has waited that many seconds for the next request.
    """

    steps: tuple[Step, ...]
    read_body: bool = True
    idle_close: float | None = None


@dataclass
class Request:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    connection: int  # Connection.id
    index: int  # 0 for the first request on its connection

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


@dataclass
class Connection:
    id: int
    peer: tuple[str, int]
    accepted_at: float
    requests: int = 0
    closed_by: str | None = None  # "peer", "server", or None while open


def response(
    status: int = 200,
    headers: tuple[tuple[str, str], ...] = (),
    body: bytes = b"",
) -> bytes:
    """A whole HTTP/1.1 answer with ``Content-Length`` (and nothing else added)."""
    return head(status, (*headers, ("Content-Length", str(len(body))))) + body


def head(status: int, headers: tuple[tuple[str, str], ...] = ()) -> bytes:
    """The status line and header block of an answer, exactly as given."""
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body (``b""`` gives the last chunk, ``0\\r\\n\\r\\n``)."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def echo(request: Request, pauses: tuple[float, float] = (0.0, 0.0)) -> Reply:
    """The default answer. InvokeEndpoint: the request body back, with a pause (drawn from
    ``pauses``) before the headers and another between the two halves of the body.
    InvokeEndpointAsync: a 202 whose ``InferenceId`` is the request's, or ``generated-id``.
    """
    low, high = pauses

    def pause() -> Pause:
        return Pause(random.uniform(low, high) if high > 0 else 0.0)

    if request.path.endswith("/async-invocations"):
        inference = request.header("X-Amzn-SageMaker-Inference-Id") or "generated-id"
        body = json.dumps({"InferenceId": inference}).encode()
        headers = (
            ("Content-Type", "application/json"),
            ("x-amzn-RequestId", "req-async"),
            ("X-Amzn-SageMaker-OutputLocation", "s3://bucket/out/1.out"),
        )
        return Reply((pause(), response(202, headers, body)))
    body = request.body
    headers = (
        ("Content-Type", request.header("Accept") or "application/octet-stream"),
        ("x-amzn-RequestId", f"req-{request.connection}-{request.index}"),
        ("Content-Length", str(len(body))),
    )
    half = len(body) // 2
    return Reply((pause(), head(200, headers), body[:half], pause(), body[half:]))


class _Closed(Exception):
    """The connection is over (``closed_by`` says who ended it)."""


@dataclass
class RawServer:
    """Start with ``start()`` or ``with``; ``url`` is ``http://127.0.0.1:PORT``.

    ``echo_pauses`` (settable while running) bounds the echo answer's random pauses;
    ``rcvbuf`` sets the receive buffer of the listening socket (inherited by each
    connection), so that a server that reads nothing stalls a writer sooner.
    """

    echo_pauses: tuple[float, float] = (0.0, 0.0)
    silent: bool = False
    rcvbuf: int | None = None
    requests: list[Request] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)
    script: deque[Reply] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _listener: socket.socket | None = None
    _threads: list[threading.Thread] = field(default_factory=list)

    # -- control -------------------------------------------------------------------------

    def start(self) -> RawServer:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self.rcvbuf is not None:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        self._listener = listener
        self._spawn(self._accept_loop)
        return self

    @property
    def port(self) -> int:
        assert self._listener is not None
        port: int = self._listener.getsockname()[1]
        return port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def play(self, *replies: Reply) -> None:
        """Queue replies for the next requests, in order, whichever connection they use."""
        with self._lock:
            self.script.extend(replies)

    def close(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.close()
        for thread in list(self._threads):
            thread.join(timeout=IO_TIMEOUT)

    def __enter__(self) -> RawServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what the tests read -------------------------------------------------------------

    @property
    def accepted(self) -> int:
        with self._lock:
            return len(self.connections)

    @property
    def open_connections(self) -> int:
        with self._lock:
            return sum(c.closed_by is None for c in self.connections)

    @property
    def closed_by_peer(self) -> int:
        with self._lock:
            return sum(c.closed_by == "peer" for c in self.connections)

    def connection(self, connection_id: int) -> Connection:
        with self._lock:
            return self.connections[connection_id]

    def wait_for(self, condition: Callable[[], bool], timeout: float = 2.0) -> bool:
        """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    # -- serving -------------------------------------------------------------------------

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._listener], [], [], _TICK)
                if not ready:
                    continue
                sock, peer = self._listener.accept()
            except OSError:
                return  # closed by close()
            sock.settimeout(IO_TIMEOUT)
            # Steps go out as written: no Nagle delay between an answer's pieces.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                conn = Connection(len(self.connections), peer, time.monotonic())
                self.connections.append(conn)
            self._spawn(self._serve, sock, conn)

    def _serve(self, sock: socket.socket, conn: Connection) -> None:
        buffer = bytearray()
        idle_close: float | None = None
        try:
            if self.silent:
                self._hold(sock, Hold(), conn)
                self._ended(conn, "server")
            while True:
                idle_close = self._one_request(sock, conn, buffer, idle_close)
        except _Closed:
            pass
        finally:
            with contextlib.suppress(OSError):
                sock.close()
            with self._lock:
                if conn.closed_by is None:
                    conn.closed_by = "server"

    def _one_request(
        self, sock: socket.socket, conn: Connection, buffer: bytearray, idle: float | None
    ) -> float | None:
        """Serve one request; the reply's ``idle_close``."""
        block = self._read_head(sock, conn, buffer, idle)
        method, path, headers = _parse_head(block)
        with self._lock:
            reply = self.script.popleft() if self.script else None
            index = conn.requests
            conn.requests += 1
        body = b""
        if reply is None or reply.read_body:
            body = self._read_body(sock, conn, buffer, headers)
        request = Request(method, path, headers, body, conn.id, index)
        with self._lock:
            self.requests.append(request)
        if reply is None:
            reply = echo(request, self.echo_pauses)
        for step in reply.steps:
            self._play(sock, conn, step)
        return reply.idle_close

    def _play(self, sock: socket.socket, conn: Connection, step: Step) -> None:
        if isinstance(step, bytes):
            try:
                sock.sendall(step)
            except OSError:
                self._ended(conn, "peer")
        elif isinstance(step, Pause):
            self._stop.wait(min(step.seconds, MAX_PAUSE))
        elif isinstance(step, threading.Event):
            step.wait(MAX_PAUSE)
        elif isinstance(step, Hold):
            self._hold(sock, step, conn)
        else:
            if step.reset:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_WR)
            self._ended(conn, "server")

    def _ended(self, conn: Connection, by: str) -> None:
        with self._lock:
            if conn.closed_by is None:
                conn.closed_by = by
        raise _Closed

    def _hold(self, sock: socket.socket, hold: Hold, conn: Connection) -> None:
        deadline = time.monotonic() + min(hold.seconds, MAX_PAUSE)
        while time.monotonic() < deadline:
            if self._stop.is_set():
                self._ended(conn, "server")
            if not hold.drain:
                self._stop.wait(_TICK)
                continue
            if self._recv(sock, conn, _TICK) == b"":
                self._ended(conn, "peer")

    def _recv(self, sock: socket.socket, conn: Connection, wait: float) -> bytes | None:
        """What arrived within ``wait`` seconds: None for nothing yet, b"" for EOF."""
        try:
            ready, _, _ = select.select([sock], [], [], wait)
            if not ready:
                return None
            return sock.recv(65536)
        except (ConnectionError, OSError):
            return b""

    def _fill(
        self, sock: socket.socket, conn: Connection, buffer: bytearray, idle: float | None
    ) -> None:
        """Read more into ``buffer``; end the connection on EOF, on close(), or when it has
        been idle ``idle`` seconds."""
        deadline = None if idle is None else time.monotonic() + idle
        while True:
            if self._stop.is_set():
                self._ended(conn, "server")
            wait = _TICK if deadline is None else max(0.0, min(_TICK, deadline - time.monotonic()))
            data = self._recv(sock, conn, wait)
            if data == b"":
                self._ended(conn, "peer")
            if data:
                buffer += data
                return
            if deadline is not None and time.monotonic() > deadline:
                self._ended(conn, "server")

    def _read_head(
        self, sock: socket.socket, conn: Connection, buffer: bytearray, idle: float | None
    ) -> bytes:
        while b"\r\n\r\n" not in buffer:
            if len(buffer) > _MAX_HEAD:
                self._ended(conn, "server")
            self._fill(sock, conn, buffer, IO_TIMEOUT if buffer else idle)
        end = buffer.index(b"\r\n\r\n") + 4
        block = bytes(buffer[:end])
        del buffer[:end]
        return block

    def _read_exact(
        self, sock: socket.socket, conn: Connection, buffer: bytearray, size: int
    ) -> bytes:
        while len(buffer) < size:
            self._fill(sock, conn, buffer, IO_TIMEOUT)
        data = bytes(buffer[:size])
        del buffer[:size]
        return data

    def _read_line(self, sock: socket.socket, conn: Connection, buffer: bytearray) -> bytes:
        while b"\r\n" not in buffer:
            self._fill(sock, conn, buffer, IO_TIMEOUT)
        end = buffer.index(b"\r\n")
        line = bytes(buffer[:end])
        del buffer[: end + 2]
        return line

    def _read_body(
        self,
        sock: socket.socket,
        conn: Connection,
        buffer: bytearray,
        headers: list[tuple[str, str]],
    ) -> bytes:
        fields = {name.lower(): value for name, value in headers}
        if "chunked" in fields.get("transfer-encoding", "").lower():
            parts = []
            while size := int(self._read_line(sock, conn, buffer).split(b";")[0], 16):
                parts.append(self._read_exact(sock, conn, buffer, size + 2)[:-2])
            while self._read_line(sock, conn, buffer):
                pass  # trailers
            return b"".join(parts)
        try:
            length = int(fields.get("content-length", "0"))
        except ValueError:
            length = -1
        if length < 0:
            self._ended(conn, "server")
        return self._read_exact(sock, conn, buffer, length)


def _parse_head(block: bytes) -> tuple[str, str, list[tuple[str, str]]]:
    lines = block.decode("latin-1").split("\r\n")
    method, path, _version = [*lines[0].split(" ", 2), "", ""][:3]
    headers = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip(" \t")))
    return method, path, headers


@contextlib.contextmanager
def full_backlog() -> Iterator[tuple[str, int]]:
    """An address on 127.0.0.1 whose listen queue is full: a connect to it gets no answer
    (Linux drops the SYN) until the caller's connect timeout."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    fillers: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        address: tuple[str, int] = listener.getsockname()
        for _ in range(8):  # more than the queue holds (backlog 0 takes one or two)
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(address)
            fillers.append(filler)
        time.sleep(0.05)
        _check_connect_hangs(address)
        yield address
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def _check_connect_hangs(address: tuple[str, int]) -> None:
    """The premise of :func:`full_backlog`: a plain connect gets no answer."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.1)
        try:
            probe.connect(address)
        except TimeoutError:
            return
        except OSError as exc:
            raise RuntimeError(f"a connect to a full accept queue failed at once: {exc!r}") from exc
    raise RuntimeError("a connect to a full accept queue succeeded: this OS queues more")
