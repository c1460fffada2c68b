"""Run by ``test_official_sdk.py`` inside a Python >= 3.12 virtual environment that holds AWS's
``aws-sdk-sagemaker-runtime-http2`` and its awscrt HTTP/2 client (not our code, not our
Python). It calls InvokeEndpointWithBidirectionalStream at the local endpoint three times
and prints what it saw as one JSON object on stdout.

    python official_sdk_client.py URL CA_FILE ACCESS_KEY_ID SECRET_KEY REGION

    "duplex"        endpoint "echo": each part sent only after the previous one came
                    back (a true duplex exchange), then the input closed; the parts seen
    "model_error"   endpoint "refuse": what the SDK raised (class, message, fields)
    "stream_error"  endpoint "break": the events seen, then what the SDK raised or the
                    modeled error event it yielded

The SDK's CRT client trusts the system's CAs only; here it is given the CA file the local
endpoint wrote, as a user would (``override_default_trust_store_from_path``).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from aws_sdk_sagemaker_runtime_http2 import models
from aws_sdk_sagemaker_runtime_http2.client import AsyncSageMakerRuntimeHTTP2Client
from aws_sdk_sagemaker_runtime_http2.config import AsyncSageMakerRuntimeHTTP2Config
from awscrt import io as crt_io
from smithy_aws_core.identity import AWSCredentialsIdentity, StaticCredentialsResolver
from smithy_http.aio.crt import AWSCRTHTTPClient

TIMEOUT = 20.0


def _transport(ca_file: str) -> Any:
    transport = AWSCRTHTTPClient()
    options = crt_io.TlsContextOptions()
    options.override_default_trust_store_from_path(ca_filepath=ca_file)
    transport._tls_ctx = crt_io.ClientTlsContext(options)  # the SDK offers no CA option
    return transport


def _part(data: bytes) -> Any:
    return models.RequestStreamEventPayloadPart(
        value=models.RequestPayloadPart(bytes_=data, data_type="UTF8", completion_state="COMPLETE")
    )


def _failure(exc: BaseException) -> dict[str, Any]:
    fields = ("message", "error_code", "original_status_code", "original_message")
    seen = {name: getattr(exc, name) for name in fields if getattr(exc, name, None) is not None}
    return {"raised": type(exc).__name__, **seen}


def _event(event: Any) -> dict[str, Any]:
    value = event.value
    if isinstance(value, models.ResponsePayloadPart):
        return {"part": (value.bytes_ or b"").decode()}
    return {"event": type(event).__name__, **_failure(value)}


async def _open(client: Any, endpoint: str) -> Any:
    request = models.InvokeEndpointWithBidirectionalStreamInput(endpoint_name=endpoint)
    return await client.invoke_endpoint_with_bidirectional_stream(request)


async def duplex(client: Any) -> list[str]:
    stream = await _open(client, "echo")
    await stream.input_stream.send(_part(b"first"))
    _, events = await stream.await_output()
    seen = []
    for following in (b"second", b"third", None):
        event = await events.receive()
        seen.append(event.value.bytes_.decode())
        if following is None:
            await stream.input_stream.close()
        else:
            await stream.input_stream.send(_part(following))
    rest = [event async for event in events]
    seen += [f"unexpected {_event(event)}" for event in rest]
    await stream.close()
    return seen


async def model_error(client: Any) -> dict[str, Any]:
    try:
        stream = await _open(client, "refuse")
        await stream.input_stream.send(_part(b"anything"))
        _, events = await stream.await_output()
        async for event in events:
            return {"unexpected": _event(event)}
    except Exception as exc:
        return _failure(exc)
    return {"unexpected": "no error"}


async def stream_error(client: Any) -> list[dict[str, Any]]:
    stream = await _open(client, "break")
    await stream.input_stream.send(_part(b"one"))
    seen = []
    try:
        _, events = await stream.await_output()
        async for event in events:
            seen.append(_event(event))
    except Exception as exc:
        seen.append(_failure(exc))
    await stream.close()
    return seen


async def main(url: str, ca_file: str, key: str, secret: str, region: str) -> None:
    config = await AsyncSageMakerRuntimeHTTP2Config.resolve(
        endpoint_uri=url,
        region=region,
        transport=_transport(ca_file),
        aws_credentials_identity_resolver=StaticCredentialsResolver(
            AWSCredentialsIdentity(access_key_id=key, secret_access_key=secret)
        ),
    )
    client = AsyncSageMakerRuntimeHTTP2Client(config=config)
    result = {}
    for name, scenario in (
        ("duplex", duplex),
        ("model_error", model_error),
        ("stream_error", stream_error),
    ):
        result[name] = await asyncio.wait_for(scenario(client), TIMEOUT)
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
