"""InvokeEndpoint against the local endpoint, end to end (raw httpx + SigV4Auth): the
service headers, validation by the service model, and signature checks as the service
makes them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from runtime_client.eventstream import EventStreamDecoder, EventStreamMessage
from runtime_client.local import (
    LocalEndpoint,
    serve,
)
from sigv4 import Credentials, hash_payload
from tests.local.emulator import (
    ACCEPTED,
    ASYNC,
    CREDS,
    INVOKE,
    SECRET,
    STREAM,
    auth,
    error_of,
)

# ----------------------------------------------------------------------------- InvokeEndpoint


def test_invoke_endpoint_echoes_with_the_service_headers(client: httpx.Client) -> None:
    response = client.post(
        INVOKE,
        content=b'{"inputs": [1, 2]}',
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Amzn-SageMaker-Custom-Attributes": "trace=abc, c1=2",
        },
    )
    assert response.status_code == 200
    assert response.content == b'{"inputs": [1, 2]}'
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["x-Amzn-Invoked-Production-Variant"] == "AllTraffic"
    assert response.headers["X-Amzn-SageMaker-Custom-Attributes"] == "trace=abc, c1=2"
    assert len(response.headers["x-amzn-RequestId"]) == 36


def test_no_custom_attributes_in_none_out(client: httpx.Client) -> None:
    response = client.post(INVOKE, content=b"raw")
    assert response.status_code == 200
    assert "X-Amzn-SageMaker-Custom-Attributes" not in response.headers
    assert response.headers["Content-Type"] == "application/octet-stream"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_async_client_invokes_and_streams(streamer: LocalEndpoint) -> None:
    async with httpx.AsyncClient(base_url=streamer.url, auth=auth(), timeout=10) as c:
        response = await c.post(INVOKE, content=b'{"inputs": "hi there"}')
        assert response.status_code == 200
        assert response.json() == [{"generated_text": "hi there"}]
        decoder = EventStreamDecoder()
        messages: list[EventStreamMessage] = []
        async with c.stream("POST", STREAM, content=b'{"inputs": "one two three"}') as stream:
            assert stream.status_code == 200
            async for chunk in stream.aiter_raw():
                messages += decoder.feed(chunk)
        decoder.end()
    assert [m.event_type for m in messages] == ["PayloadPart"] * 3
    assert [m.payload for m in messages] == [
        b'data: {"token": {"text": "one "}}\n\n',
        b'data: {"token": {"text": "two "}}\n\n',
        b'data: {"token": {"text": "three"}}\n\n',
    ]


def test_a_target_variant_other_than_the_one_served_is_a_validation_error(
    client: httpx.Client,
) -> None:
    ok = client.post(
        INVOKE, content=b"x", headers={"X-Amzn-SageMaker-Target-Variant": "AllTraffic"}
    )
    assert ok.status_code == 200
    response = client.post(
        INVOKE, content=b"x", headers={"X-Amzn-SageMaker-Target-Variant": "Blue"}
    )
    status, code, body = error_of(response)
    assert (status, code) == (400, "ValidationError")
    assert "Variant Blue not found" in body["Message"]


def test_endpoint_name_can_be_limited(tmp_path: Path) -> None:
    with (
        serve(credentials=ACCEPTED, endpoint_name="my-endpoint", data_dir=tmp_path) as endpoint,
        httpx.Client(base_url=endpoint.url, auth=auth()) as c,
    ):
        assert c.post(INVOKE, content=b"x").status_code == 200
        status, code, body = error_of(c.post("/endpoints/other/invocations", content=b"x"))
    assert (status, code) == (400, "ValidationError")
    assert body["Message"] == "Endpoint other of account 000000000000 not found."


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("path", "headers", "expected"),
    [
        (
            "/endpoints/bad_name/invocations",
            {},
            "1 validation error detected: Value 'bad_name' at 'endpointName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: "
            "^[a-zA-Z0-9](-*[a-zA-Z0-9])*$",
        ),
        (
            "/endpoints/" + "e" * 64 + "/invocations",
            {},
            "Member must have length less than or equal to 63",
        ),
        (
            INVOKE,
            {"X-Amzn-SageMaker-Custom-Attributes": "a" * 1025},
            "1 validation error detected: Value at 'customAttributes' failed to satisfy "
            "constraint: Member must have length less than or equal to 1024",
        ),
        (
            INVOKE,
            {"X-Amzn-SageMaker-Inference-Id": "i" * 65},
            "at 'inferenceId' failed to satisfy constraint: Member must have length less than "
            "or equal to 64",
        ),
        (
            STREAM,
            {"X-Amzn-SageMaker-Session-Id": "NEW_SESSION"},
            "Value 'NEW_SESSION' at 'sessionId' failed to satisfy constraint",
        ),
        (
            ASYNC,
            {
                "X-Amzn-SageMaker-InputLocation": "s3://b/k",
                "X-Amzn-SageMaker-RequestTTLSeconds": "59",
            },
            "Value '59' at 'requestTTLSeconds' failed to satisfy constraint: Member must have "
            "value greater than or equal to 60",
        ),
        (
            ASYNC,
            {
                "X-Amzn-SageMaker-InputLocation": "s3://b/k",
                "X-Amzn-SageMaker-InvocationTimeoutSeconds": "soon",
            },
            "Value 'soon' at 'invocationTimeoutSeconds' failed to satisfy constraint: Member "
            "must be an integer",
        ),
        (
            ASYNC,
            {"X-Amzn-SageMaker-InputLocation": "ftp://host/file"},
            "at 'inputLocation' failed to satisfy constraint: Member must satisfy regular "
            "expression pattern: ^(https|s3)://([^/]+)/?(.*)$",
        ),
    ],
)
def test_validation_errors_name_the_member_and_the_rule(
    client: httpx.Client, path: str, headers: dict[str, str], expected: str
) -> None:
    status, code, body = error_of(client.post(path, content=b"x", headers=headers))
    assert (status, code) == (400, "ValidationError")
    assert expected in body["Message"]


def test_every_fault_is_reported(client: httpx.Client) -> None:
    response = client.post(
        "/endpoints/-bad/invocations",
        content=b"x",
        headers={"X-Amzn-SageMaker-Target-Variant": "v" * 64},
    )
    status, _, body = error_of(response)
    assert status == 400
    assert body["Message"].startswith("2 validation errors detected: ")
    assert "'endpointName'" in body["Message"]
    assert "'targetVariant'" in body["Message"]


def test_a_body_over_the_limit_is_refused(client: httpx.Client) -> None:
    status, code, body = error_of(client.post(INVOKE, content=b"x" * (6291456 + 1)))
    assert (status, code) == (400, "ValidationError")
    assert (
        "Value at 'body' failed to satisfy constraint: Member must have length less than or "
        "equal to 6291456"
    ) in body["Message"]


def test_unknown_operations_are_404(client: httpx.Client) -> None:
    for method, path in [("POST", "/endpoints/my-endpoint/predict"), ("GET", INVOKE)]:
        status, code, _ = error_of(client.request(method, path, content=b"x"))
        assert (status, code) == (404, "UnknownOperationException")


# ----------------------------------------------------------------------------- signatures


def test_a_wrong_secret_is_refused(echo: LocalEndpoint) -> None:
    wrong = Credentials(CREDS.access_key_id, "not-the-secret")
    response = httpx.post(echo.url + INVOKE, content=b"x", auth=auth(wrong))
    status, code, body = error_of(response)
    assert (status, code) == (403, "InvalidSignatureException")
    assert body["message"].startswith("The request signature we calculated does not match")
    assert SECRET not in response.text
    assert "not-the-secret" not in response.text


def test_an_unknown_access_key_is_refused(echo: LocalEndpoint) -> None:
    stranger = Credentials("AKIDSTRANGER", SECRET)
    status, code, _ = error_of(httpx.post(echo.url + INVOKE, content=b"x", auth=auth(stranger)))
    assert (status, code) == (403, "UnrecognizedClientException")


def test_an_expired_date_is_refused(echo: LocalEndpoint) -> None:
    then = datetime.now(timezone.utc) - timedelta(minutes=6)
    response = httpx.post(echo.url + INVOKE, content=b"x", auth=auth(clock=lambda: then))
    status, code, body = error_of(response)
    assert (status, code) == (403, "InvalidSignatureException")
    assert body["message"].startswith("Signature expired: ")
    assert "is now earlier than" in body["message"]
    assert "date" in response.headers  # the server's clock, for the client's skew correction


def test_a_date_in_the_future_is_refused_and_a_small_skew_is_not(echo: LocalEndpoint) -> None:
    later = datetime.now(timezone.utc) + timedelta(minutes=6)
    status, _, body = error_of(
        httpx.post(echo.url + INVOKE, content=b"x", auth=auth(clock=lambda: later))
    )
    assert status == 403
    assert body["message"].startswith("Signature not yet current: ")
    skewed = datetime.now(timezone.utc) - timedelta(minutes=4)
    ok = httpx.post(echo.url + INVOKE, content=b"x", auth=auth(clock=lambda: skewed))
    assert ok.status_code == 200


def test_a_tampered_body_is_refused(echo: LocalEndpoint) -> None:
    signed = httpx.Request("POST", echo.url + INVOKE, content=b'{"amount": 10}')
    next(auth().sync_auth_flow(signed))
    assert "authorization" in signed.headers
    tampered = httpx.Request("POST", signed.url, headers=signed.headers, content=b'{"amount": 99}')
    with httpx.Client() as c:
        assert c.send(signed).status_code == 200
        status, code, body = error_of(c.send(tampered))
    assert (status, code) == (403, "InvalidSignatureException")
    assert "does not match the signature you provided" in body["message"]


def test_a_tampered_header_or_path_is_refused(echo: LocalEndpoint) -> None:
    signed = httpx.Request(
        "POST", echo.url + INVOKE, content=b"x", headers={"Content-Type": "text/plain"}
    )
    next(auth().sync_auth_flow(signed))
    headers = dict(signed.headers)
    headers["content-type"] = "application/json"
    with httpx.Client() as c:
        moved = httpx.Request(
            "POST", echo.url + "/endpoints/other/invocations", headers=signed.headers, content=b"x"
        )
        changed = httpx.Request("POST", signed.url, headers=headers, content=b"x")
        for request in (moved, changed):
            status, code, _ = error_of(c.send(request))
            assert (status, code) == (403, "InvalidSignatureException")


def test_missing_signature_region_and_service_are_checked(echo: LocalEndpoint) -> None:
    status, code, _ = error_of(httpx.post(echo.url + INVOKE, content=b"x"))
    assert (status, code) == (403, "MissingAuthenticationTokenException")
    status, code, body = error_of(
        httpx.post(echo.url + INVOKE, content=b"x", auth=auth(region="eu-west-1"))
    )
    assert (status, code) == (403, "InvalidSignatureException")
    assert "region" in body["message"]
    status, code, body = error_of(
        httpx.post(echo.url + INVOKE, content=b"x", auth=auth(service="runtime.sagemaker"))
    )
    assert (status, code) == (403, "InvalidSignatureException")
    assert "'sagemaker'" in body["message"]


def test_a_percent_encoded_path_and_a_session_token_verify(echo: LocalEndpoint) -> None:
    with_token = Credentials(CREDS.access_key_id, SECRET, "a-session-token")
    response = httpx.post(
        echo.url + "/endpoints/my-endpoint/invocations?x=a%20b", content=b"x", auth=auth(with_token)
    )
    assert response.status_code == 200


def test_a_streamed_body_signed_by_its_content_hash_verifies(client: httpx.Client) -> None:
    chunks = [b"part one, ", b"part two"]
    response = client.post(
        INVOKE,
        content=iter(chunks),  # sent chunked: the signer cannot read it, the header says its hash
        headers={"x-amz-content-sha256": hash_payload(chunks)},
    )
    assert response.status_code == 200
    assert response.content == b"part one, part two"
    wrong = client.post(
        INVOKE, content=iter(chunks), headers={"x-amz-content-sha256": hash_payload(b"other")}
    )
    assert error_of(wrong)[:2] == (403, "InvalidSignatureException")


def test_the_signature_check_uses_the_servers_clock(tmp_path: Path) -> None:
    late = datetime.now(timezone.utc) + timedelta(hours=1)
    with serve(credentials=ACCEPTED, clock=lambda: late, data_dir=tmp_path) as endpoint:
        response = httpx.post(endpoint.url + INVOKE, content=b"x", auth=auth())
        assert error_of(response)[:2] == (403, "InvalidSignatureException")
        response = httpx.post(endpoint.url + INVOKE, content=b"x", auth=auth(clock=lambda: late))
        assert response.status_code == 200


def test_each_error_carries_its_message_under_the_member_its_shape_names() -> None:
    # The smithy-based SDKs read the shape's member (Message); AWS's common errors, which
    # no service model holds, carry "message". botocore and we read either.
    from runtime_client._errors import MODELED_ERRORS
    from runtime_client.local._responses import error_reply

    for code, (_, members) in MODELED_ERRORS.items():
        body = json.loads(error_reply(400, code, "why", "rid").body)
        assert body == {"Message": "why"} if "Message" in members else {"message": "why"}, code
    for code in ("InvalidSignatureException", "UnknownOperationException"):
        assert json.loads(error_reply(403, code, "why", "rid").body) == {"message": "why"}
