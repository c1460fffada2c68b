"""``SigV4Auth``, the httpx adapter: requests signed as botocore signs them (the test-only
oracle), sync and async, with credentials from a value, a provider or a callable."""

from __future__ import annotations

import gc
import warnings
from typing import Any
from unittest import mock

import httpx
import pytest
import respx
from botocore.auth import SigV4Auth as BotocoreSigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials

from sigv4 import (
    UNSIGNED_PAYLOAD,
    Credentials,
    SignableRequest,
    SignatureLocation,
    SigningError,
    SigningSettings,
    SigV4Auth,
    sign,
)
from tests.sigv4.helpers import (
    AKID,
    SECRET,
    T0,
    TOKEN,
    URL,
    params,
)

# --------------------------------------------------------------------------- SigV4Auth


def botocore_authorization(request: httpx.Request, creds: Credentials) -> str:
    """What botocore signs for the request as httpx sent it (minus the signer's headers)."""
    mine = {"authorization", "x-amz-date", "x-amz-security-token"}
    oracle = AWSRequest(method=request.method, url=str(request.url), data=request.content)
    for name, value in request.headers.multi_items():
        if name.lower() not in mine:
            oracle.headers[name] = value
    signer = BotocoreSigV4Auth(
        BotocoreCredentials(creds.access_key_id, creds.secret_access_key, creds.session_token),
        "sagemaker",
        "us-east-1",
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=T0.replace(tzinfo=None)):
        signer.add_auth(oracle)
    return str(oracle.headers["Authorization"])


def assert_signed(request: httpx.Request, creds: Credentials) -> None:
    assert request.headers.get_list("authorization") == [botocore_authorization(request, creds)]
    assert request.headers["x-amz-date"] == "20261128T030405Z"
    assert request.headers.get("x-amz-security-token") == creds.session_token


class Provider:
    """A credentials provider object with both entry points."""

    def __init__(self, creds: Credentials) -> None:
        self.creds = creds
        self.calls = 0

    def get_credentials(self) -> Credentials:
        self.calls += 1
        return self.creds

    async def aget_credentials(self) -> Credentials:
        self.calls += 1
        return self.creds


CREDS = Credentials(AKID, SECRET, session_token=TOKEN)


def _sources() -> list[Any]:
    return [
        pytest.param(CREDS, id="credentials"),
        pytest.param(lambda: CREDS, id="sync-callable"),
        pytest.param(Provider(CREDS), id="provider-object"),
    ]


def _post(client: httpx.Client) -> None:
    response = client.post(
        URL,
        content=b'{"inputs": "hi"}',
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Amzn-SageMaker-Custom-Attributes": "trace=1,  mode=fast",
            "Authorization": "stale from an earlier attempt",
        },
    )
    assert response.status_code == 200


@pytest.mark.parametrize("source", _sources())
def test_sigv4auth_with_sync_client(source: Any) -> None:
    auth = SigV4Auth(source, region="us-east-1", service="sagemaker", clock=lambda: T0)
    with respx.mock(assert_all_called=True) as router:
        route = router.post(URL).mock(return_value=httpx.Response(200))
        with httpx.Client(auth=auth) as client:
            _post(client)
    assert_signed(route.calls.last.request, CREDS)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _async_source() -> Credentials:
    return CREDS


@pytest.mark.anyio
@pytest.mark.parametrize("source", [*_sources(), pytest.param(_async_source, id="async-callable")])
async def test_sigv4auth_with_async_client(source: Any) -> None:
    auth = SigV4Auth(source, region="us-east-1", service="sagemaker", clock=lambda: T0)
    with respx.mock(assert_all_called=True) as router:
        router.post(URL).mock(return_value=httpx.Response(200))
        async with httpx.AsyncClient(auth=auth) as client:
            response = await client.post(
                URL, content=b"{}", headers={"Content-Type": "application/json"}
            )
    assert response.status_code == 200
    assert_signed(response.request, CREDS)


def test_sigv4auth_refreshes_credentials_per_request() -> None:
    issued: list[Credentials] = []

    def refresh() -> Credentials:
        issued.append(Credentials(f"AKID{len(issued)}", SECRET))
        return issued[-1]

    auth = SigV4Auth(refresh, region="us-east-1", service="sagemaker", clock=lambda: T0)
    with respx.mock(assert_all_called=True) as router:
        router.post(URL).mock(return_value=httpx.Response(200))
        with httpx.Client(auth=auth) as client:
            first = client.post(URL, content=b"1").request
            second = client.post(URL, content=b"2").request
    assert "Credential=AKID0/" in first.headers["authorization"]
    assert "Credential=AKID1/" in second.headers["authorization"]
    assert_signed(second, issued[1])


def test_sigv4auth_async_callable_under_sync_client_is_an_error() -> None:
    auth = SigV4Auth(_async_source, region="us-east-1", service="sagemaker", clock=lambda: T0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with (
            respx.mock(assert_all_called=False),
            httpx.Client(auth=auth) as client,
            pytest.raises(SigningError) as info,
        ):
            client.post(URL, content=b"{}")
        field = info.value.field
        del info
        gc.collect()
    assert field == "credentials"
    unawaited = [str(w.message) for w in caught if "never awaited" in str(w.message)]
    assert unawaited == [], "the coroutine the async callable returned must be closed"


def test_sigv4auth_streamed_body_needs_a_payload_hash() -> None:
    auth = SigV4Auth(CREDS, region="us-east-1", service="sagemaker", clock=lambda: T0)
    with respx.mock(assert_all_called=False) as router:
        router.post(URL).mock(return_value=httpx.Response(200))
        with httpx.Client(auth=auth) as client:
            with pytest.raises(SigningError) as info:
                client.post(URL, content=iter([b"a", b"b"]))
            assert info.value.field == "body"
            response = client.post(
                URL, content=iter([b"a", b"b"]), headers={"x-amz-content-sha256": UNSIGNED_PAYLOAD}
            )
    assert response.request.headers["x-amz-content-sha256"] == UNSIGNED_PAYLOAD
    request = response.request
    expected = sign(
        SignableRequest(
            method="POST",
            url=str(request.url),
            headers=[(n, v) for n, v in request.headers.multi_items() if n != "authorization"],
            payload_hash=UNSIGNED_PAYLOAD,
        ),
        params(CREDS),
    )
    assert request.headers["authorization"] == dict(expected.headers)["Authorization"]


def test_sigv4auth_presigns_in_query_mode() -> None:
    settings = SigningSettings(signature_location=SignatureLocation.QUERY_STRING, expires_in=300)
    auth = SigV4Auth(CREDS, "us-east-1", "sagemaker", settings, clock=lambda: T0)
    with respx.mock(assert_all_called=True) as router:
        router.get(url__startswith=URL).mock(return_value=httpx.Response(200))
        with httpx.Client(auth=auth) as client:
            request = client.get(URL, params={"a": "1"}).request
    assert "authorization" not in request.headers
    query = dict(request.url.params.multi_items())
    assert query["a"] == "1"
    assert query["X-Amz-Expires"] == "300"
    assert query["X-Amz-Date"] == "20261128T030405Z"
    assert query["X-Amz-Security-Token"] == TOKEN
    assert len(query["X-Amz-Signature"]) == 64


def test_sigv4auth_repr_hides_credentials() -> None:
    auth = SigV4Auth(CREDS, region="us-east-1", service="sagemaker")
    assert SECRET not in repr(auth)
    assert TOKEN not in repr(auth)


def test_sigv4auth_validates_region_and_service_up_front() -> None:
    with pytest.raises(SigningError) as info:
        SigV4Auth(CREDS, region="", service="sagemaker")
    assert info.value.field == "region"
