"""Time parsing HTTP/1.1 responses: our ``H1Connection`` against h11, in the same run.

Run from the repository root::

    python benchmarks/bench_h1.py            # about 20 s
    python benchmarks/bench_h1.py --quick    # a smoke test

Each figure is the median over the rounds of µs per response. A timed loop parses
responses on connections that already sent their request (prepared outside the timing),
taking every event out until the end of the message, as a driver does. Cases:

- ``1 KiB, one piece``: an InvokeEndpoint answer (status line, 8 headers, a 1 KiB
  Content-Length body) arriving in one read;
- ``64 KiB chunked, one piece``: 16 chunks of 4 KiB with a chunk extension, then a trailer;
- ``64 KiB chunked, 1 KiB pieces`` and ``64 KiB Content-Length, 1 KiB pieces``: the same
  bodies fed 1 KiB at a time, so lines and chunks straddle reads;
- ``cycle``: a whole keep-alive exchange on one connection (serialize a request with 6
  headers, parse the 1 KiB answer, start the next cycle).

Both sides check the body they assembled once per round (outside the timing).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata

import h11

from runtime_client.http import NEED_DATA, Data, EndOfMessage, H1Connection

HOST = b"runtime.sagemaker.us-east-1.amazonaws.com"
REQUEST_HEADERS = [
    (b"Host", HOST),
    (b"Content-Type", b"application/json"),
    (b"Accept", b"application/json"),
    (b"X-Amz-Date", b"20261128T120000Z"),
    (b"Authorization", b"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261128/us-east-1/" * 3),
    (b"Content-Length", b"2"),
]


def make_body(size: int) -> bytes:
    return (bytes(range(256)) * (size // 256 + 1))[:size]


def head(framing: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\n"
        b"Date: Sat, 28 Nov 2026 12:00:00 GMT\r\n"
        b"Content-Type: application/json\r\n"
        b"x-amzn-RequestId: 1b7b2f0e-6a3e-4a3c-9c1f-2f0c2c0d6a11\r\n"
        b"x-Amzn-Invoked-Production-Variant: AllTraffic\r\n"
        b"X-Amzn-SageMaker-Custom-Attributes: trace_id=abc123\r\n"
        b"Connection: keep-alive\r\n"
        b"Server: awselb/2.0\r\n" + framing + b"\r\n\r\n"
    )


def content_length_response(size: int) -> tuple[bytes, bytes]:
    body = make_body(size)
    return head(b"Content-Length: %d" % size) + body, body


def chunked_response(size: int, chunk: int) -> tuple[bytes, bytes]:
    body = make_body(size)
    parts = [head(b"Transfer-Encoding: chunked")]
    for i in range(0, size, chunk):
        piece = body[i : i + chunk]
        parts.append(b"%x;name=value\r\n%s\r\n" % (len(piece), piece))
    parts.append(b"0\r\nx-amzn-checksum: abc\r\n\r\n")
    return b"".join(parts), body


def pieces(data: bytes, size: int | None) -> list[bytes]:
    if size is None:
        return [data]
    return [data[i : i + size] for i in range(0, len(data), size)]


# --- one response through each parser -----------------------------------------------------


def ours_prepared() -> H1Connection:
    conn = H1Connection()
    conn.send_request(b"POST", b"/endpoints/ep/invocations", REQUEST_HEADERS)
    conn.send_data(b"{}")
    conn.send_end()
    return conn


def ours_parse(conn: H1Connection, reads: Sequence[bytes]) -> list[bytes]:
    body = []
    feed = iter(reads)
    while True:
        event = conn.next_event()
        if event is NEED_DATA:
            conn.receive_data(next(feed))
        elif type(event) is Data:
            body.append(event.data)
        elif type(event) is EndOfMessage:
            return body


def h11_prepared() -> h11.Connection:
    conn = h11.Connection(h11.CLIENT)
    conn.send(
        h11.Request(method=b"POST", target=b"/endpoints/ep/invocations", headers=REQUEST_HEADERS)
    )
    conn.send(h11.Data(data=b"{}"))
    conn.send(h11.EndOfMessage())
    return conn


def h11_parse(conn: h11.Connection, reads: Sequence[bytes]) -> list[bytes]:
    body = []
    feed = iter(reads)
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(next(feed))
        elif type(event) is h11.Data:
            body.append(bytes(event.data))
        elif type(event) is h11.EndOfMessage:
            return body


def ours_cycle(conn: H1Connection, reads: Sequence[bytes]) -> list[bytes]:
    conn.send_request(b"POST", b"/endpoints/ep/invocations", REQUEST_HEADERS)
    conn.send_data(b"{}")
    conn.send_end()
    body = ours_parse(conn, reads)
    conn.start_next_cycle()
    return body


def h11_cycle(conn: h11.Connection, reads: Sequence[bytes]) -> list[bytes]:
    conn.send(
        h11.Request(method=b"POST", target=b"/endpoints/ep/invocations", headers=REQUEST_HEADERS)
    )
    conn.send(h11.Data(data=b"{}"))
    conn.send(h11.EndOfMessage())
    body = h11_parse(conn, reads)
    conn.start_next_cycle()
    return body


# --- timing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    label: str
    response: bytes
    body: bytes
    piece: int | None
    number: int


@dataclass(frozen=True)
class Result:
    label: str
    ours_us: float
    h11_us: float

    @property
    def ratio(self) -> float:
        return self.ours_us / self.h11_us


def time_parse(
    prepare: Callable[[], object],
    parse: Callable[[object, Sequence[bytes]], list[bytes]],
    case: Case,
) -> float:
    reads = pieces(case.response, case.piece)
    conns = [prepare() for _ in range(case.number)]
    start = time.perf_counter()
    for conn in conns:
        parse(conn, reads)
    elapsed = time.perf_counter() - start
    check = prepare()
    assert b"".join(parse(check, reads)) == case.body, case.label
    return elapsed / case.number * 1e6


def time_cycle(
    conn: object, cycle: Callable[[object, Sequence[bytes]], list[bytes]], case: Case
) -> float:
    reads = pieces(case.response, case.piece)
    assert b"".join(cycle(conn, reads)) == case.body
    start = time.perf_counter()
    for _ in range(case.number):
        cycle(conn, reads)
    return (time.perf_counter() - start) / case.number * 1e6


def run(cases: Sequence[Case], rounds: int) -> list[Result]:
    results = []
    for case in cases:
        ours: list[float] = []
        theirs: list[float] = []
        for _ in range(rounds):  # interleaved, so that drift on a shared machine hits both
            if case.label.startswith("cycle"):
                ours.append(time_cycle(ours_prepared_idle(), ours_cycle, case))  # type: ignore[arg-type]
                theirs.append(time_cycle(h11.Connection(h11.CLIENT), h11_cycle, case))  # type: ignore[arg-type]
            else:
                ours.append(time_parse(ours_prepared, ours_parse, case))  # type: ignore[arg-type]
                theirs.append(time_parse(h11_prepared, h11_parse, case))  # type: ignore[arg-type]
        results.append(Result(case.label, statistics.median(ours), statistics.median(theirs)))
    return results


def ours_prepared_idle() -> H1Connection:
    return H1Connection()


def build_cases(scale: float) -> list[Case]:
    def n(count: int) -> int:
        return max(20, int(count * scale))

    small, small_body = content_length_response(1024)
    chunked, chunked_body = chunked_response(64 * 1024, 4096)
    fixed, fixed_body = content_length_response(64 * 1024)
    return [
        Case("1 KiB Content-Length, one piece", small, small_body, None, n(20000)),
        Case("64 KiB chunked (4 KiB chunks), one piece", chunked, chunked_body, None, n(3000)),
        Case("64 KiB chunked, 1 KiB pieces", chunked, chunked_body, 1024, n(1000)),
        Case("64 KiB Content-Length, 1 KiB pieces", fixed, fixed_body, 1024, n(1000)),
        Case("cycle: request + 1 KiB answer + next cycle", small, small_body, None, n(20000)),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else args.rounds
    cases = build_cases(0.05 if args.quick else 1.0)
    print(
        f"Python {platform.python_version()} on {platform.machine()} ({os.cpu_count()} cores), "
        f"h11 {metadata.version('h11')}; median of {rounds} rounds, µs per response"
    )
    print(f"{'case':<46} {'ours':>9} {'h11':>9} {'ours/h11':>9}")
    for result in run(cases, rounds):
        print(
            f"{result.label:<46} {result.ours_us:>9.2f} {result.h11_us:>9.2f} {result.ratio:>9.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
