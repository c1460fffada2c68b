"""Request bodies against the local endpoint: the signature is checked, all but the
body's hash, before a body is read (an unauthenticated upload is refused at once and
holds nothing), the body is hashed as it arrives, and the bytes held by bodies being read
at once are capped (503 beyond it). Raw sockets, so that a body can be left half sent."""

from __future__ import annotations

import importlib.util
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

import sigv4
from runtime_client.local import LocalEndpoint, serve
from tests.local.emulator import ACCEPTED, CREDS, INVOKE, REGION

SIX_MIB = 6 * 1024 * 1024
TIMEOUT = 10.0


@pytest.fixture
def endpoint() -> Iterator[LocalEndpoint]:
    with serve(credentials=ACCEPTED, max_body_bytes_in_flight=SIX_MIB) as running:
        yield running


def _head(endpoint: LocalEndpoint, length: int, *, signed_body: bytes | None) -> bytes:
    """A request head for INVOKE with ``Content-Length: length``; signed over
    ``signed_body`` (None: not signed at all)."""
    host = f"127.0.0.1:{endpoint.info.port}"
    headers = [("Host", host), ("Content-Type", "application/octet-stream")]
    if signed_body is not None:
        params = sigv4.SigningParams(CREDS, REGION, "sagemaker", datetime.now(timezone.utc))
        url = f"http://{host}{INVOKE}"
        result = sigv4.sign(sigv4.SignableRequest("POST", url, headers, signed_body), params)
        headers = [*headers, *result.headers]
    lines = [f"POST {INVOKE} HTTP/1.1", *(f"{k}: {v}" for k, v in headers)]
    lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _answer(sock: socket.socket) -> bytes:
    sock.settimeout(TIMEOUT)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _connect(endpoint: LocalEndpoint) -> socket.socket:
    return socket.create_connection(("127.0.0.1", endpoint.info.port), timeout=TIMEOUT)


def test_an_unsigned_upload_is_refused_before_its_body_is_sent(endpoint: LocalEndpoint) -> None:
    with _connect(endpoint) as sock:
        sock.sendall(_head(endpoint, SIX_MIB, signed_body=None) + b"only the first bytes")
        answer = _answer(sock)  # answered although the body is nearly all still to come
    assert answer.startswith(b"HTTP/1.1 403 "), answer[:200]
    assert b"MissingAuthenticationTokenException" in answer


def test_an_upload_signed_by_an_unknown_key_is_refused_before_its_body(
    endpoint: LocalEndpoint,
) -> None:
    with _connect(endpoint) as sock:
        head = _head(endpoint, SIX_MIB, signed_body=b"x" * SIX_MIB)
        sock.sendall(head.replace(CREDS.access_key_id.encode(), b"AKIDSOMEONEELSE0"))
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 403 "), answer[:200]
    assert b"UnrecognizedClientException" in answer


def test_a_signed_upload_is_checked_against_the_body_as_it_arrived(
    endpoint: LocalEndpoint,
) -> None:
    body = b"the body that was signed"
    with _connect(endpoint) as sock:  # the body hashed as read: the signature matches
        sock.sendall(_head(endpoint, len(body), signed_body=body) + body)
        assert _answer(sock).startswith(b"HTTP/1.1 200 ")
    with _connect(endpoint) as sock:  # another body of the same length does not
        sock.sendall(_head(endpoint, len(body), signed_body=body) + b"X" * len(body))
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 403 ")
    assert b"InvalidSignatureException" in answer


def test_bodies_in_flight_beyond_the_cap_are_answered_503(endpoint: LocalEndpoint) -> None:
    first_body = b"a" * (SIX_MIB - 1024)
    with _connect(endpoint) as first:
        # The first upload stops 1 KiB short: its bytes are held while it is read.
        first.sendall(_head(endpoint, len(first_body), signed_body=first_body))
        first.sendall(first_body[:-1024])
        body = b"b" * 4096
        deadline = time.monotonic() + TIMEOUT
        while True:  # until the endpoint has read what the first sent (bounded)
            with _connect(endpoint) as second:
                second.sendall(_head(endpoint, len(body), signed_body=body) + body)
                answer = _answer(second)
            if not answer.startswith(b"HTTP/1.1 200 ") or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert answer.startswith(b"HTTP/1.1 503 "), answer[:200]
        assert b"ServiceUnavailable" in answer
        first.sendall(first_body[-1024:])  # the first completes, and is answered
        assert _answer(first).startswith(b"HTTP/1.1 200 ")
    with _connect(endpoint) as third:  # the bytes it held are given back
        third.sendall(_head(endpoint, len(body), signed_body=body) + body)
        assert _answer(third).startswith(b"HTTP/1.1 200 ")


def test_forty_unauthenticated_six_mib_uploads_hold_almost_nothing() -> None:
    chunk = b"z" * 65536
    tracemalloc.start()
    try:
        with serve(credentials=ACCEPTED) as endpoint:
            tracemalloc.reset_peak()
            before, _ = tracemalloc.get_traced_memory()

            def upload() -> None:
                with _connect(endpoint) as sock:
                    try:
                        sock.sendall(_head(endpoint, SIX_MIB, signed_body=None))
                        for _ in range(SIX_MIB // len(chunk)):  # refused: stops early
                            sock.sendall(chunk)
                    except OSError:
                        pass  # the endpoint answered and closed the connection

            threads = [threading.Thread(target=upload) for _ in range(40)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(TIMEOUT * 3)
            _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    grown = (peak - before) / 2**20
    print(f"40 unauthenticated 6 MiB uploads: peak Python heap grew {grown:.1f} MiB")
    assert grown < 40, f"{grown:.1f} MiB (the 240 MiB sent must not be held)"


@pytest.mark.skipif(
    importlib.util.find_spec("cryptography") is None,
    reason="SigV4a needs the optional 'cryptography' package (the sigv4a extra)",
)
@pytest.mark.parametrize(("region_set", "status"), [("us-*", 200), ("eu-west-1", 403)])
def test_sigv4a_is_accepted_where_its_region_set_covers_the_region(
    endpoint: LocalEndpoint, region_set: str, status: int
) -> None:
    body = b"signed with SigV4a"
    host = f"127.0.0.1:{endpoint.info.port}"
    headers = [("Host", host), ("Content-Type", "application/octet-stream")]
    params = sigv4.SigningParams(CREDS, REGION, "sagemaker", datetime.now(timezone.utc))
    request = sigv4.SignableRequest("POST", f"http://{host}{INVOKE}", headers, body)
    signed = sigv4.sign_v4a(request, params, region_set)
    lines = [f"POST {INVOKE} HTTP/1.1", *(f"{k}: {v}" for k, v in [*headers, *signed.headers])]
    with _connect(endpoint) as sock:
        sock.sendall(("\r\n".join([*lines, f"Content-Length: {len(body)}"]) + "\r\n\r\n").encode())
        sock.sendall(body)
        answer = _answer(sock)
        while status == 200 and not answer.endswith(body):  # the echo (bounded: timeout)
            more = sock.recv(65536)
            if not more:
                break
            answer += more
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer[:300]
    if status == 200:
        assert answer.endswith(body)
