"""Token-streaming samples shared by the response-stream tests."""

from __future__ import annotations

import json

__all__ = ["PARTS", "SSE", "TOKENS", "split_unevenly", "tokens_from_lines"]


# Token streaming as TGI / vLLM / LMI send it: SSE lines whose parts do not align with
# lines, and a multi-byte character ("é" = C3 A9, "☃" = E2 98 83) split between parts.
TOKENS = ["Hé", "llo", " ☃", "!"]
SSE = "".join(
    f"data: {json.dumps({'token': {'text': t}}, ensure_ascii=False)}\n\n" for t in TOKENS
).encode()


def split_unevenly(data: bytes) -> list[bytes]:
    """Cut inside lines and inside UTF-8 characters."""
    cuts = [5, 19, data.index("é".encode()) + 1, data.index("☃".encode()) + 2, len(data) - 3]
    cuts = sorted(set(cuts))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


PARTS = split_unevenly(SSE)
assert b"".join(PARTS) == SSE
assert len(PARTS) == 6


def tokens_from_lines(lines: list[bytes]) -> list[str]:
    return [json.loads(line[len(b"data:") :])["token"]["text"] for line in lines if line]
