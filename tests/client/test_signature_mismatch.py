"""A refused signature, explained: a loopback server answers as AWS does (403
``InvalidSignatureException`` quoting the canonical request and the string to sign it
computed, with botocore as its signer), and the client's error says where the texts it
signed first differ, or that the secret key is the wrong one; the session token is masked
in ``str(e)``, ``repr(e)``, ``e.response`` and the traceback."""

from __future__ import annotations

import json
import threading
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

pytest.importorskip("botocore", reason="botocore computes the server's side")
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from runtime_client import InvalidSignatureException, SageMakerRuntime
from sigv4 import explain_mismatch, mask_tokens

REGION = "us-east-1"
KEY_ID = "ASIAEXAMPLETEMPORARY"
SECRET = "temporary/secret/key/of/forty/chars/xxxx"
TOKEN = "FwoGZXIvYXdzEXAMPLE-SESSION-TOKEN-VALUE"

Tamper = Callable[[dict[str, str]], None]


class AwsLikeServer:
    """Recomputes the signature with ``server_secret`` over the headers as ``tamper``
    leaves them (a proxy that rewrote one), and refuses it the way AWS words it."""

    def __init__(self, server_secret: str, tamper: Tamper = lambda headers: None) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                owner.answer(self, body)

        self.secret = server_secret
        self.tamper = tamper
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def answer(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        auth = headers["authorization"]
        signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
        self.tamper(headers)
        request = AWSRequest(
            method="POST",
            url=f"http://{headers['host']}{handler.path}",
            headers={name: headers[name] for name in signed if name in headers},
            data=body,
        )
        request.context["timestamp"] = headers["x-amz-date"]
        signer = SigV4Auth(BotoCredentials(KEY_ID, self.secret, TOKEN), "sagemaker", REGION)
        canonical = signer.canonical_request(request)
        string_to_sign = signer.string_to_sign(request, canonical)
        message = (
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.\n\nThe Canonical String for this request should have "
            f"been\n'{canonical}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n"
        )
        payload = json.dumps({"message": message}).encode()
        handler.send_response(403)
        handler.send_header("x-amzn-ErrorType", "InvalidSignatureException")
        handler.send_header("x-amzn-RequestId", "sig-req")
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def __enter__(self) -> AwsLikeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def call() -> Callable[[AwsLikeServer], InvalidSignatureException]:
    def run(server: AwsLikeServer) -> InvalidSignatureException:
        with (
            SageMakerRuntime(
                region_name=REGION,
                endpoint_url=server.url,
                aws_access_key_id=KEY_ID,
                aws_secret_access_key=SECRET,
                aws_session_token=TOKEN,
            ) as client,
            pytest.raises(InvalidSignatureException) as info,
        ):
            client.invoke_endpoint(
                EndpointName="my-endpoint", Body=b"{}", ContentType="application/json"
            )
        return info.value

    return run


def test_a_header_changed_on_the_way_is_named_with_both_values(
    call: Callable[[AwsLikeServer], InvalidSignatureException],
) -> None:
    def proxy(headers: dict[str, str]) -> None:
        headers["content-type"] = "application/json; charset=utf-8"

    with AwsLikeServer(SECRET, proxy) as server:
        error = call(server)
    assert error.explanation is not None
    assert error.explanation.startswith(
        "The canonical requests differ first at line 4 (the canonical header 'content-type'): "
        "AWS computed 'content-type:application/json; charset=utf-8', this client signed "
        "'content-type:application/json'."
    ), error.explanation
    assert error.explanation in str(error)


def test_identical_texts_mean_the_secret_key_is_wrong(
    call: Callable[[AwsLikeServer], InvalidSignatureException],
) -> None:
    with AwsLikeServer("another/secret/key") as server:
        error = call(server)
    assert error.explanation is not None
    assert "the secret access key is not the one of this access key id" in error.explanation


def test_the_session_token_is_masked_everywhere_the_error_shows(
    call: Callable[[AwsLikeServer], InvalidSignatureException],
) -> None:
    with AwsLikeServer("another/secret/key") as server:
        error = call(server)
    shown = [
        str(error),
        repr(error),
        repr(error.response),
        "".join(traceback.format_exception(type(error), error, error.__traceback__)),
    ]
    for text in shown:
        assert TOKEN not in text
        assert SECRET not in text
    assert "x-amz-security-token:***" in error.response["Error"]["Message"]


def test_explain_mismatch_on_its_own() -> None:
    ours = "POST\n/\n\nhost:h\nx-amz-date:1\n\nhost;x-amz-date\nabc"
    message = "The Canonical String for this request should have been\n'{}'\n"
    assert explain_mismatch("something else", ours, "s") is None
    moved = explain_mismatch(message.format(ours.replace("/\n", "/a\n", 1)), ours, "s")
    assert moved is not None
    assert "line 2 (the canonical URI): AWS computed '/a', this client signed '/'" in moved
    tail = explain_mismatch(message.format(ours + "\nextra"), ours, "s")
    assert tail is not None
    assert "line 9" in tail
    assert "this client signed (no such line)" in tail
    assert mask_tokens("x-amz-security-token:abc\nX-Amz-Security-Token=xyz&a=b") == (
        "x-amz-security-token:***\nX-Amz-Security-Token=***&a=b"
    )
