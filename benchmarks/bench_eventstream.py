"""Event stream decode throughput: ours against botocore's ``EventStreamBuffer``.

    python benchmarks/bench_eventstream.py [--mib N] [--repeats R] [--chunk BYTES]

Builds a stream of ``--mib`` MiB (default 100) of SageMaker ``PayloadPart`` event messages
(``:message-type`` event, ``:event-type`` PayloadPart, ``:content-type``
application/octet-stream) with 1 KiB and with 64 KiB payloads, cuts it into network-sized
chunks (16 KiB by default), and times feeding every chunk to each decoder, taking every
message out. Prints the median MB/s (1 MB = 10**6 bytes of stream) over the repeats, the
ratio ours/botocore, and the speed of zlib.crc32 alone over the same chunks: every decoder
checks a CRC over every byte, so that is a ceiling (large parts come close to it).
botocore is only a point of comparison here; it is a dev dependency.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from runtime_client.eventstream import EventStreamDecoder, encode_message

SAGEMAKER_HEADERS = {
    ":message-type": "event",
    ":event-type": "PayloadPart",
    ":content-type": "application/octet-stream",
}
PART_SIZES = (1024, 64 * 1024)


@dataclass(frozen=True)
class Result:
    part_size: int
    ours_mbps: float
    botocore_mbps: float
    crc_mbps: float  # zlib.crc32 over the chunks alone: a ceiling for any checking decoder

    @property
    def ratio(self) -> float:
        return self.ours_mbps / self.botocore_mbps


def build_chunks(total_bytes: int, part_size: int, chunk_size: int) -> tuple[list[bytes], int]:
    """The stream cut into ``chunk_size`` pieces, and how many messages it holds."""
    message = encode_message(SAGEMAKER_HEADERS, os.urandom(part_size))
    count = max(1, total_bytes // len(message))
    stream = message * count
    chunks = [stream[i : i + chunk_size] for i in range(0, len(stream), chunk_size)]
    return chunks, count


def decode_ours(chunks: Sequence[bytes]) -> tuple[int, int]:
    decoder = EventStreamDecoder()
    messages = 0
    payload = 0
    for chunk in chunks:
        for message in decoder.feed(chunk):
            messages += 1
            payload += len(message.payload)
    decoder.end()
    return messages, payload


def crc_only(chunks: Sequence[bytes]) -> tuple[int, int]:
    """Not a decoder: the CRC32 pass every decoder makes over every byte, for scale."""
    crc = 0
    for chunk in chunks:
        crc = zlib.crc32(chunk, crc)
    return 0, 0


def decode_botocore(chunks: Sequence[bytes]) -> tuple[int, int]:
    from botocore.eventstream import EventStreamBuffer

    buffer = EventStreamBuffer()
    messages = 0
    payload = 0
    for chunk in chunks:
        buffer.add_data(chunk)
        for message in buffer:
            messages += 1
            payload += len(message.payload)
    return messages, payload


def median_mbps(
    decode: Callable[[Sequence[bytes]], tuple[int, int]],
    chunks: Sequence[bytes],
    expected: tuple[int, int],
    repeats: int,
) -> float:
    size = sum(len(chunk) for chunk in chunks)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        got = decode(chunks)
        elapsed = time.perf_counter() - start
        if got != expected:
            raise RuntimeError(f"{decode.__name__} decoded {got}, expected {expected}")
        rates.append(size / elapsed / 1e6)
    return statistics.median(rates)


def run(mib: float, repeats: int, chunk_size: int) -> list[Result]:
    results = []
    for part_size in PART_SIZES:
        chunks, count = build_chunks(int(mib * 1024 * 1024), part_size, chunk_size)
        expected = (count, count * part_size)
        ours = median_mbps(decode_ours, chunks, expected, repeats)
        theirs = median_mbps(decode_botocore, chunks, expected, repeats)
        crc = median_mbps(crc_only, chunks, (0, 0), repeats)
        results.append(Result(part_size, ours, theirs, crc))
    return results


def format_table(results: Sequence[Result]) -> str:
    lines = [
        f"{'part size':>10} | {'ours MB/s':>10} | {'botocore MB/s':>13} | {'ours/botocore':>13}"
        f" | {'crc32 alone MB/s':>16}",
        f"{'-' * 10}-+-{'-' * 10}-+-{'-' * 13}-+-{'-' * 13}-+-{'-' * 16}",
    ]
    for r in results:
        size = f"{r.part_size // 1024} KiB"
        lines.append(
            f"{size:>10} | {r.ours_mbps:>10.1f} | {r.botocore_mbps:>13.1f} | {r.ratio:>12.2f}x"
            f" | {r.crc_mbps:>16.1f}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mib", type=float, default=100.0, help="stream size in MiB (100)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per decoder (5)")
    parser.add_argument("--chunk", type=int, default=16 * 1024, help="chunk size in bytes (16384)")
    args = parser.parse_args(argv)
    if args.mib <= 0 or args.repeats < 1 or args.chunk < 1:
        parser.error("--mib, --repeats and --chunk must be positive")
    print(
        f"decoding {args.mib:g} MiB of PayloadPart events in {args.chunk}-byte chunks, "
        f"median of {args.repeats} (Python {sys.version.split()[0]})"
    )
    print(format_table(run(args.mib, args.repeats, args.chunk)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
