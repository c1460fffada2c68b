"""Unit tests of the pure parts: the operation flow driven with next/send, the model's
validation and serialization, error parsing and the streaming-body bookkeeping."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from runtime_client._errors import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    IncompleteReadError,
    InternalFailure,
    InvalidSignatureException,
    ModelError,
    ReadTimeoutError,
    ThrottlingException,
    ValidationError,
    parse_error_response,
)
from runtime_client._flow import Call, Flow, Read, Send, Sleep
from runtime_client._httpx import _httpx_request
from runtime_client._model import INVOKE_ENDPOINT, INVOKE_ENDPOINT_ASYNC, Operation
from runtime_client._operation import ClockSkew, FlowContext, operation_flow
from runtime_client._response_body import LineSplitter, StreamingBody
from runtime_client._restjson import serialize_request
from runtime_client._retry import RetryPolicy, RetryQuota
from runtime_client.http._exceptions import ConnectError, ReadTimeout, ServerDisconnectedError
from runtime_client.http._models import Headers
from sigv4 import Credentials
from tests.support.sigv4_server import KEYS, verify_signature

T0 = datetime(2026, 11, 28, 12, 0, 0, tzinfo=timezone.utc)
CREDS = Credentials("AKIDEXAMPLE", KEYS["AKIDEXAMPLE"][0])
ENDPOINT = "https://runtime.sagemaker.us-east-1.amazonaws.com"


class Ticking:
    """A clock that advances one second per reading."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def make_ctx(
    policy: RetryPolicy | None = None,
    clock: Ticking | None = None,
    read_timeout: float | None = None,
) -> FlowContext:
    return FlowContext(
        endpoint_url=ENDPOINT,
        region="us-east-1",
        user_agent="test-agent/1",
        retry_policy=policy or RetryPolicy(random=lambda: 0.5),
        read_timeout=read_timeout,
        clock=clock or Ticking(),
        skew=ClockSkew(),
    )


def start(
    params: dict[str, Any] | None = None,
    op: Operation = INVOKE_ENDPOINT,
    ctx: FlowContext | None = None,
) -> tuple[Flow[dict[str, Any]], Any]:
    params = params if params is not None else {"EndpointName": "my-ep", "Body": b'{"x": 1}'}
    flow = operation_flow(
        ctx or make_ctx(),
        op,
        serialize_request(op, params),
        credentials=CREDS,
        invocation_id="inv-1",
        wrap_body=lambda response, url: ("wrapped", response.status_code, url),
    )
    return flow, next(flow)


class Answer:
    """A response as a sender returns it (the flows read only what it has)."""

    def __init__(
        self, status: int, body: bytes | list[bytes] = b"", headers: dict[str, str] | None = None
    ) -> None:
        self.status_code = status
        raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        self.headers = Headers.from_raw(raw)
        self._parts = list(body) if isinstance(body, list) else [body]
        self.content = b"".join(self._parts)
        self.is_closed = False

    @property
    def text(self) -> str:
        return self.content.decode()

    def read(self) -> bytes:
        return self.content

    def read_chunk(self) -> bytes | None:
        while self._parts:
            part = self._parts.pop(0)
            if part:
                return part
        return None

    def close(self) -> None:
        self.is_closed = True


def sent(step: Any) -> httpx.Request:
    """The request of a Send step, as an httpx.Request (for its header lookups)."""
    assert isinstance(step, Send)
    return _httpx_request(step.request)


def answer(
    step: Any, status: int, body: bytes = b"", headers: dict[str, str] | None = None
) -> Answer:
    assert isinstance(step, Send)
    assert step.stream is True
    return Answer(status, body, headers)


def error_answer(step: Any, status: int, code: str, message: str, **extra: Any) -> Answer:
    body = json.dumps({"message": message, **extra}).encode()
    return answer(step, status, body, {"x-amzn-ErrorType": code, "x-amzn-RequestId": "rid"})


def finish(flow: Flow[dict[str, Any]], value: Any) -> dict[str, Any]:
    with pytest.raises(StopIteration) as stop:
        flow.send(value)
    result: dict[str, Any] = stop.value.value
    return result


def read_error(flow: Flow[dict[str, Any]], response: Answer) -> Any:
    """Send an error answer; the flow must ask to read its body; give it back."""
    step = flow.send(response)
    assert isinstance(step, Read)
    assert step.response is response
    return flow.send(response)


def assert_signed(request: httpx.Request) -> None:
    body = request.read()
    problem = verify_signature(
        request.method, request.url.raw_path.decode(), list(request.headers.items()), body
    )
    assert problem is None, problem


# --- the flow -------------------------------------------------------------------------


def test_first_step_is_a_signed_send_with_sdk_headers() -> None:
    _, step = start()
    assert isinstance(step, Send)
    request = sent(step)
    assert request.method == "POST"
    assert str(request.url) == f"{ENDPOINT}/endpoints/my-ep/invocations"
    assert request.headers["amz-sdk-request"] == "attempt=1; max=3"
    assert request.headers["amz-sdk-invocation-id"] == "inv-1"
    assert request.headers["content-length"] == "8"
    assert request.headers["user-agent"] == "test-agent/1"
    assert request.headers["x-amz-date"] == "20261128T120001Z"
    assert "SignedHeaders=host;x-amz-date," in request.headers["authorization"]
    assert_signed(request)


def test_success_returns_boto3_shape_with_wrapped_body() -> None:
    flow, step = start()
    response = answer(
        step,
        200,
        b"out",
        {
            "Content-Type": "application/json",
            "x-Amzn-Invoked-Production-Variant": "v1",
            "X-Amzn-SageMaker-Custom-Attributes": "a=b",
            "X-Amzn-SageMaker-New-Session-Id": "s1; Expires=2030-01-01T00:00:00Z",
            "X-Amzn-SageMaker-Closed-Session-Id": "s0",
            "x-amzn-RequestId": "rid-1",
        },
    )
    result = finish(flow, response)
    assert result["Body"] == (
        "wrapped",
        200,
        ENDPOINT + "/endpoints/my-ep/invocations",
    )  # the request URL
    assert result["ContentType"] == "application/json"
    assert result["InvokedProductionVariant"] == "v1"
    assert result["CustomAttributes"] == "a=b"
    assert result["NewSessionId"] == "s1; Expires=2030-01-01T00:00:00Z"
    assert result["ClosedSessionId"] == "s0"
    meta = result["ResponseMetadata"]
    assert meta["RequestId"] == "rid-1"
    assert meta["HTTPStatusCode"] == 200
    assert meta["RetryAttempts"] == 0
    assert meta["HTTPHeaders"]["x-amzn-invoked-production-variant"] == "v1"


def test_transient_error_sleeps_then_resigns_the_next_attempt() -> None:
    flow, step = start()
    first = sent(step)
    sleep = read_error(flow, error_answer(step, 503, "ServiceUnavailable", "busy"))
    assert sleep == Sleep(0.5 * 0.05)  # random() * base 0.05 s * 2**0
    step = flow.send(None)
    assert isinstance(step, Send)
    second = sent(step)
    assert second.headers["amz-sdk-request"] == "attempt=2; max=3"
    assert second.headers["amz-sdk-invocation-id"] == "inv-1"
    assert second.headers["x-amz-date"] != first.headers["x-amz-date"]
    assert second.headers["authorization"] != first.headers["authorization"]
    assert_signed(second)
    result = finish(flow, answer(step, 200, b"ok"))
    assert result["ResponseMetadata"]["RetryAttempts"] == 1


def test_throttling_backs_off_with_the_throttling_base() -> None:
    flow, step = start()
    sleep = read_error(flow, error_answer(step, 400, "ThrottlingException", "slow down"))
    assert sleep == Sleep(0.5 * 1.0)


def test_exhausted_retries_raise_with_max_attempts_reached() -> None:
    flow, step = start()
    for attempt in (1, 2):
        assert isinstance(read_error(flow, error_answer(step, 500, "InternalFailure", "x")), Sleep)
        step = flow.send(None)
        assert isinstance(step, Send)
        assert sent(step).headers["amz-sdk-request"] == f"attempt={attempt + 1}; max=3"
    last = error_answer(step, 500, "InternalFailure", "boom")
    flow.send(last)
    with pytest.raises(InternalFailure) as info:
        flow.send(last)
    meta = info.value.response["ResponseMetadata"]
    assert meta["RetryAttempts"] == 2
    assert meta["MaxAttemptsReached"] is True
    assert str(info.value) == (
        "An error occurred (InternalFailure) when calling the InvokeEndpoint operation "
        "(reached max retries: 2): boom"
    )


def test_model_error_is_not_retried_and_exposes_its_members() -> None:
    flow, step = start()
    response = error_answer(
        step,
        424,
        "ModelError",
        "Received client error (400) from model",
        OriginalStatusCode=400,
        OriginalMessage="bad input",
        LogStreamArn="arn:aws:logs:us-east-1:1:log-group:/aws/sagemaker/Endpoints/my-ep",
    )
    flow.send(response)
    with pytest.raises(ModelError) as info:
        flow.send(response)
    err = info.value.response
    assert err["Error"] == {
        "Code": "ModelError",
        "Message": "Received client error (400) from model",
    }
    assert err["OriginalStatusCode"] == 400
    assert err["OriginalMessage"] == "bad input"
    assert err["LogStreamArn"].startswith("arn:aws:logs")
    assert err["ResponseMetadata"]["RequestId"] == "rid"
    assert err["ResponseMetadata"]["RetryAttempts"] == 0
    assert "MaxAttemptsReached" not in err["ResponseMetadata"]


def test_validation_error_is_raised_at_once() -> None:
    flow, step = start()
    response = error_answer(step, 400, "ValidationError", "Endpoint my-ep not found.")
    flow.send(response)
    with pytest.raises(ValidationError, match="Endpoint my-ep not found"):
        flow.send(response)


def test_connect_failures_are_retried_then_translated() -> None:
    flow, step = start()
    for _ in range(2):
        sleep = flow.throw(ConnectError("refused"))
        assert isinstance(sleep, Sleep)
        step = flow.send(None)
        assert isinstance(step, Send)
    with pytest.raises(EndpointConnectionError, match="Could not connect") as info:
        flow.throw(ConnectError("refused"))
    assert isinstance(info.value.__cause__, ConnectError)


def test_a_connection_lost_after_sending_is_not_retried_by_default() -> None:
    flow, _step = start()
    with pytest.raises(ConnectionClosedError):
        flow.throw(ServerDisconnectedError("Server disconnected"))


def test_a_connection_lost_before_the_request_was_complete_is_retried() -> None:
    flow, _step = start()
    lost = ServerDisconnectedError("Server disconnected")
    lost.request_sent = False
    assert isinstance(flow.throw(lost), Sleep)


def test_the_idle_close_race_on_a_reused_connection_is_retried() -> None:
    # The server closed a kept-alive connection, no byte of an answer, as the request went
    # out on it: it never read the request, whatever request_sent says.
    flow, _step = start()
    raced = ServerDisconnectedError("the server closed the connection before any byte")
    raced.connection_reused = True
    assert isinstance(flow.throw(raced), Sleep)


def test_a_connection_lost_after_sending_is_retried_on_opt_in() -> None:
    policy = RetryPolicy(retry_after_send=True, random=lambda: 0.5)
    flow, _step = start(ctx=make_ctx(policy))
    assert isinstance(flow.throw(ServerDisconnectedError("Server disconnected")), Sleep)


def test_read_timeouts_are_not_retried_by_default() -> None:
    flow, _step = start()
    with pytest.raises(ReadTimeoutError, match="Read timeout on endpoint URL"):
        flow.throw(ReadTimeout("timed out"))


def test_read_timeouts_are_retried_on_opt_in() -> None:
    policy = RetryPolicy(retry_after_send=True, random=lambda: 0.5)
    flow, _step = start(ctx=make_ctx(policy))
    assert isinstance(flow.throw(ReadTimeout("t")), Sleep)


def test_an_empty_retry_quota_stops_retries() -> None:
    policy = RetryPolicy(quota=RetryQuota(capacity=10), random=lambda: 0.5)
    flow, step = start(ctx=make_ctx(policy))
    response = error_answer(step, 500, "InternalFailure", "boom")
    flow.send(response)
    with pytest.raises(InternalFailure):
        flow.send(response)


def test_clock_skew_is_learned_from_the_date_header_and_retried_once() -> None:
    clock = Ticking()
    ctx = make_ctx(clock=clock)
    flow, step = start(ctx=ctx)
    server_time = T0 + timedelta(hours=1)
    message = "Signature expired: 20261128T120001Z is now earlier than 20261128T125500Z"
    response = error_answer(step, 403, "InvalidSignatureException", message)
    response.headers["Date"] = format_datetime(server_time, usegmt=True)
    step = read_error(flow, response)
    assert isinstance(step, Send)  # no sleep: a corrected retry at once
    sent_at = datetime.strptime(sent(step).headers["x-amz-date"], "%Y%m%dT%H%M%SZ")
    assert abs(sent_at.replace(tzinfo=timezone.utc) - server_time) < timedelta(seconds=5)
    assert abs(ctx.skew.offset - timedelta(hours=1)) < timedelta(seconds=5)
    assert sent(step).headers["amz-sdk-request"] == "attempt=2; max=4"
    assert_signed(sent(step))
    # A second skew answer is not corrected again.
    again = error_answer(step, 403, "InvalidSignatureException", message)
    again.headers["Date"] = format_datetime(server_time, usegmt=True)
    flow.send(again)
    with pytest.raises(InvalidSignatureException, match="Signature expired"):
        flow.send(again)


def test_not_yet_current_and_request_time_too_skewed_are_corrected() -> None:
    for code, message in (
        ("InvalidSignatureException", "Signature not yet current: 20261128T120001Z is ..."),
        ("RequestTimeTooSkewed", "The difference between the request time and now is too large"),
    ):
        flow, step = start()
        response = error_answer(step, 403, code, message)
        response.headers["Date"] = format_datetime(T0 - timedelta(hours=2), usegmt=True)
        assert isinstance(read_error(flow, response), Send)


@pytest.mark.parametrize(
    "server_date",
    [
        "Fri, 01 Jan 2999 00:00:00 GMT",  # far beyond the bound: nothing learned
        "Fri, 31 Dec 9999 23:59:59 GMT",  # the largest date: no OverflowError
        "Wed, 28 Nov 2026 11:00:00 GMT",  # Wed is wrong, 1 h is plausible: learned
    ],
)
def test_the_learned_clock_skew_is_bounded(server_date: str) -> None:
    ctx = make_ctx()
    flow, step = start(ctx=ctx)
    message = "Signature expired: 20261128T120001Z is now earlier than 29990101T000000Z"
    response = error_answer(step, 403, "InvalidSignatureException", message)
    response.headers["Date"] = server_date
    if server_date.endswith("2026 11:00:00 GMT"):
        assert isinstance(read_error(flow, response), Send)
        assert timedelta(hours=-1, seconds=-5) < ctx.skew.offset < timedelta(minutes=-59)
        return
    flow.send(response)
    with pytest.raises(InvalidSignatureException, match="Signature expired"):
        flow.send(response)  # raised as it came: no retry at a 2999 or 9999 clock
    assert ctx.skew.offset == timedelta(0)


def test_a_retryable_answer_dated_in_the_year_9999_is_retried_as_any_other() -> None:
    ctx = make_ctx(read_timeout=60.0)  # the retry's ttl adds it to the server's clock
    flow, step = start(ctx=ctx)
    response = error_answer(step, 503, "ServiceUnavailable", "busy")
    response.headers["Date"] = "Fri, 31 Dec 9999 23:59:59 GMT"
    step = read_error(flow, response)
    assert isinstance(step, Sleep)
    step = flow.send(None)
    assert isinstance(step, Send)
    assert "ttl=" not in sent(step).headers["amz-sdk-request"]  # no usable server clock


def test_an_ordinary_signature_error_is_not_retried() -> None:
    flow, step = start()
    response = error_answer(step, 403, "InvalidSignatureException", "does not match")
    flow.send(response)
    with pytest.raises(InvalidSignatureException):
        flow.send(response)


def test_a_file_body_is_hashed_through_a_call_step() -> None:
    data = io.BytesIO(b"skip" + b"payload")
    data.seek(4)
    flow, step = start({"EndpointName": "ep", "Body": data})
    assert isinstance(step, Call)
    step = flow.send(step.fn(*step.args))
    assert isinstance(step, Send)
    assert sent(step).headers["content-length"] == "7"
    assert_signed(sent(step))
    assert sent(step).read() == b"payload"


def test_async_invocation_reads_the_json_body() -> None:
    params = {"EndpointName": "ep", "InputLocation": "s3://bucket/in.json", "InferenceId": "i-1"}
    flow, step = start(params, INVOKE_ENDPOINT_ASYNC)
    assert str(sent(step).url).endswith("/endpoints/ep/async-invocations")
    assert sent(step).headers["x-amzn-sagemaker-inputlocation"] == "s3://bucket/in.json"
    assert sent(step).headers["content-length"] == "0"
    response = answer(
        step,
        202,
        b'{"InferenceId": "i-1"}',
        {
            "X-Amzn-SageMaker-OutputLocation": "s3://b/o",
            "X-Amzn-SageMaker-FailureLocation": "s3://b/f",
        },
    )
    assert isinstance(flow.send(response), Read)
    result = finish(flow, response)
    assert result["InferenceId"] == "i-1"
    assert result["OutputLocation"] == "s3://b/o"
    assert result["FailureLocation"] == "s3://b/f"
    assert result["ResponseMetadata"]["HTTPStatusCode"] == 202


# --- error parsing --------------------------------------------------------------------


def test_error_code_sources_in_order() -> None:
    header = parse_error_response(
        400, {"x-amzn-ErrorType": "ValidationError:http://x", "x-amzn-RequestId": "r"}, b"{}"
    )
    assert header["Error"] == {"Code": "ValidationError", "Message": ""}
    assert header["ResponseMetadata"] == {"RequestId": "r"}
    typed = parse_error_response(
        400, {}, b'{"__type": "com.amazon#ThrottlingException", "Message": "m"}'
    )
    assert typed["Error"] == {"Code": "ThrottlingException", "Message": "m"}
    coded = parse_error_response(400, {}, b'{"__type": "A", "code": "B", "message": "m"}')
    assert coded["Error"]["Code"] == "B"
    bare = parse_error_response(418, {}, b"not json")
    assert bare["Error"] == {"Code": "418", "Message": "not json"}
    html = parse_error_response(502, {}, b"<html>bad gateway</html>")
    assert html["Error"] == {"Code": "502", "Message": "Bad Gateway"}


def test_error_classes_are_picked_by_code() -> None:
    for code, cls in (("ThrottlingException", ThrottlingException), ("Nope", ClientError)):
        response = parse_error_response(400, {"x-amzn-ErrorType": code}, b"{}")
        from runtime_client._errors import error_class_for_code

        assert error_class_for_code(response["Error"]["Code"]) is cls


# --- streaming bodies -----------------------------------------------------------------


def _streamed(body: bytes, content_length: int | None = None, chunk: int = 3) -> StreamingBody:
    parts = [body[i : i + chunk] for i in range(0, len(body), chunk)]
    headers = {} if content_length is None else {"Content-Length": str(content_length)}
    return StreamingBody(Answer(200, parts, headers), "http://h")


def test_streaming_body_reads_exact_amounts_then_the_rest() -> None:
    body = _streamed(b"0123456789", 10)
    assert body.read(4) == b"0123"
    assert body.tell() == 4
    assert body.read() == b"456789"
    assert body.read() == b""
    assert body.read(5) == b""


def test_streaming_body_iterates_lines_across_chunk_edges() -> None:
    body = _streamed(b"a\nbb\r\ncc\rd", chunk=2)
    assert list(body.iter_lines(chunk_size=2)) == [b"a", b"bb", b"cc", b"d"]
    keep = _streamed(b"a\r\nb\n")
    assert list(keep.iter_lines(keepends=True)) == [b"a\r\n", b"b\n"]


def test_streaming_body_chunks_and_context_manager() -> None:
    with _streamed(b"abcdefg") as body:
        assert list(body.iter_chunks(3)) == [b"abc", b"def", b"g"]


def test_a_short_body_raises_incomplete_read() -> None:
    body = _streamed(b"abc", content_length=5)
    with pytest.raises(IncompleteReadError, match="3 read, but total bytes expected is 5"):
        body.read()


def test_line_splitter_holds_a_trailing_cr() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"a\r") == []
    assert splitter.feed(b"\nb") == [b"a"]
    assert splitter.flush() == [b"b"]


def test_connection_closed_error_message_names_the_endpoint() -> None:
    err = ConnectionClosedError("http://h", "reset")
    assert str(err) == (
        'Connection was closed before we received a valid response from endpoint URL: "http://h" '
        "(reset)"
    )


def test_retries_after_an_answer_carry_a_ttl_in_server_time() -> None:
    ctx = FlowContext(
        endpoint_url=ENDPOINT,
        region="us-east-1",
        user_agent="ua",
        retry_policy=RetryPolicy(random=lambda: 0.5),
        read_timeout=70.0,
        clock=Ticking(),
    )
    flow, step = start(ctx=ctx)
    response = error_answer(step, 503, "ServiceUnavailable", "busy")
    response.headers["Date"] = format_datetime(T0 + timedelta(seconds=100), usegmt=True)
    read_error(flow, response)
    step = flow.send(None)
    assert isinstance(step, Send)
    # clock readings: 12:00:01 sign, :02 received (server said 12:01:40, skew +98 s), :03 ttl
    assert sent(step).headers["amz-sdk-request"] == "ttl=20261128T120251Z; attempt=2; max=3"
