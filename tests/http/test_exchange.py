"""The exchange (``runtime_client.http._exchange``): a request that HTTP/1.1 cannot carry
is refused before a byte is written, naming what is wrong."""

from __future__ import annotations

import pytest

from runtime_client.http import (
    H1Connection,
    LocalProtocolError,
    NetworkError,
    Origin,
    Request,
    Timeouts,
)
from runtime_client.http._exchange import exchange

ORIGIN = Origin("http", "127.0.0.1", 8080)


def _first_write(request: Request) -> object:
    return next(exchange(H1Connection(), request))


def test_the_head_and_body_are_one_write() -> None:
    request = Request("POST", ORIGIN, "/x", [("Host", "h"), ("Content-Length", "2")], b"{}")
    assert _first_write(request) == b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (
            [("Host", "h"), ("X-A", "caf\u00e9 \u2603")],
            "header 'X-A': 'caf\u00e9 \u2603' has '\u2603'",
        ),
        ([("Host", "h"), ("X-\u00fc\u2603", "1")], "a header name: 'X-\u00fc\u2603' has '\u2603'"),
    ],
)
def test_a_field_beyond_latin_1_is_refused_by_name(
    headers: list[tuple[str, str]], message: str
) -> None:
    with pytest.raises(LocalProtocolError) as caught:
        _first_write(Request("GET", ORIGIN, "/", headers))
    assert message in str(caught.value)
    assert "latin-1 only" in str(caught.value)


def test_latin_1_values_are_sent_as_their_bytes() -> None:
    request = Request("GET", ORIGIN, "/", [("Host", "h"), ("X-A", "caf\u00e9")])
    assert _first_write(request) == b"GET / HTTP/1.1\r\nHost: h\r\nX-A: caf\xe9\r\n\r\n"


def test_a_target_beyond_ascii_is_refused() -> None:
    with pytest.raises(LocalProtocolError, match="request target '/caf\u00e9' is not ASCII"):
        _first_write(Request("GET", ORIGIN, "/caf\u00e9", [("Host", "h")]))


class _BrokenConnection:
    """Writes fail before a byte went out; reads fail too (the server reset)."""

    def send(self, data: bytes, timeout: float | None) -> None:
        broken = NetworkError("writing failed: broken pipe")
        broken.bytes_sent = 0  # type: ignore[attr-defined]
        raise broken

    def recv(self, timeout: float | None) -> bytes:
        raise NetworkError("reading failed: connection reset")


def test_after_a_failed_write_a_failed_read_leaves_the_write_error() -> None:
    """The write error stands (``request_sent`` False: nothing went out), not the reset
    that the read after it met, so that the transport may send the request again."""
    from runtime_client.http._sync import _run

    request = Request("POST", ORIGIN, "/", [("Host", "h"), ("Content-Length", "1")], b"x")
    with pytest.raises(NetworkError, match="writing failed") as caught:
        _run(exchange(H1Connection(), request), _BrokenConnection(), b"x", Timeouts())  # type: ignore[arg-type]
    assert caught.value.request_sent is False


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_async_driver_leaves_the_write_error_too(anyio_backend: str) -> None:
    from runtime_client.http._async import _run

    class Broken(_BrokenConnection):
        async def send(self, data: bytes, timeout: float | None) -> None:  # type: ignore[override]
            super().send(data, timeout)

        async def recv(self, timeout: float | None) -> bytes:  # type: ignore[override]
            return super().recv(timeout)

    request = Request("POST", ORIGIN, "/", [("Host", "h"), ("Content-Length", "1")], b"x")
    with pytest.raises(NetworkError, match="writing failed") as caught:
        await _run(exchange(H1Connection(), request), Broken(), b"x", Timeouts())  # type: ignore[arg-type]
    assert caught.value.request_sent is False
