"""Response-stream decoding speed: events, lines and text out of token-sized parts.

    python benchmarks/bench_response_stream.py [--tokens N] [--repeats R]

Builds a TGI-style token stream (``data: {"token": {"text": "..."}}`` SSE lines, each
token one ``PayloadPart`` of a few dozen bytes, the parts cut mid-line) as received in
4 KiB network chunks, and times the pure ``ResponseStreamDecoder`` giving boto3's events,
lines (``iter_lines``) and text (``iter_text``), against botocore's ``EventStream`` giving
events (botocore is only a point of comparison; it is a dev dependency). Also times lines
out of one long line (1 MiB) split into 16-byte parts, which must stay linear. Prints the
median parts per second over the repeats.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from runtime_client._response_stream import (
    END,
    NEED_DATA,
    LinesOutput,
    Output,
    PartsOutput,
    ResponseStreamDecoder,
    StreamCursor,
    TextOutput,
)
from runtime_client.eventstream import encode_message

HEADERS = {
    ":event-type": "PayloadPart",
    ":content-type": "application/octet-stream",
    ":message-type": "event",
}
CHUNK = 4096


def token_parts(count: int) -> list[bytes]:
    sse = "".join(
        f"data: {json.dumps({'token': {'text': f' tok{i}é'}}, ensure_ascii=False)}\n\n"
        for i in range(count)
    ).encode()
    step = max(1, len(sse) // count)
    cuts = [i + (i // step) % 7 for i in range(step, len(sse), step)]  # mid-line, uneven
    return [sse[a:b] for a, b in zip([0, *cuts], [*cuts, len(sse)], strict=True)]


def chunks_of(parts: list[bytes]) -> list[bytes]:
    stream = b"".join(encode_message(HEADERS, part) for part in parts)
    return [stream[i : i + CHUNK] for i in range(0, len(stream), CHUNK)]


def run_ours(chunks: list[bytes], output: Output[Any]) -> int:
    decoder = ResponseStreamDecoder("InvokeEndpointWithResponseStream", "http://bench", {})
    cursor = StreamCursor(decoder, output)
    items = 0
    feed = iter(chunks)
    while True:
        item = cursor.next_item()
        if item is NEED_DATA:
            chunk = next(feed, None)
            if chunk is None:
                decoder.receive_eof()
            else:
                decoder.receive_data(chunk)
        elif item is END:
            return items
        else:
            items += 1


def run_botocore(chunks: list[bytes]) -> int:
    import botocore.session
    from botocore.eventstream import EventStream
    from botocore.parsers import EventStreamJSONParser

    model = botocore.session.get_session().get_service_model("sagemaker-runtime")
    shape = model.shape_for("ResponseStream")

    class Raw:
        def stream(self) -> Any:
            return iter(chunks)

    stream = EventStream(Raw(), shape, EventStreamJSONParser(), "InvokeEndpointWithResponseStream")
    return sum(1 for _ in stream)


def timed(fn: Callable[[], int], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    parts = token_parts(args.tokens)
    chunks = chunks_of(parts)
    cases: dict[str, Callable[[], int]] = {
        "events (ours)": lambda: run_ours(chunks, PartsOutput()),
        "lines (ours)": lambda: run_ours(chunks, LinesOutput()),
        "text (ours)": lambda: run_ours(chunks, TextOutput()),
        "events (botocore)": lambda: run_botocore(chunks),
    }
    print(f"{len(parts)} parts, {sum(map(len, chunks))} bytes in {CHUNK}-byte chunks")
    for name, fn in cases.items():
        seconds = timed(fn, args.repeats)
        print(f"{name:20s} {len(parts) / seconds:12,.0f} parts/s")
    long_parts = [b"x" * 16] * (1 << 16) + [b"\n"]
    long_chunks = chunks_of(long_parts)
    seconds = timed(lambda: run_ours(long_chunks, LinesOutput()), args.repeats)
    print(f"{'one 1 MiB line':20s} {len(long_parts) / seconds:12,.0f} parts/s")


if __name__ == "__main__":
    main()
