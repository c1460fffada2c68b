"""The command line's local commands: ``serve-local`` (the emulator, blocking) and ``demo``.

Imported only when one of them runs (see ``_main``); they need the ``local`` extra
(hypercorn), which ``runtime_client.local`` loads when the server starts.

``demo`` is a transcript on stdout of three calls made through the real client
(:class:`~runtime_client.SageMakerRuntime`, SigV4-signed, checked by the emulator) to the
emulator's ``stream`` model, a stand-in for a text-generation container::

    1. InvokeEndpoint                    {"inputs": PROMPT} -> [{"generated_text": PROMPT}]
    2. InvokeEndpointWithResponseStream  server-sent events, one token per word, printed
                                         as they arrive (``Body.iter_lines()``)
    3. InvokeEndpointAsync               the input is put where the emulator keeps "S3";
                                         the output file is awaited and shown
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

if TYPE_CHECKING:
    from .._client import SageMakerRuntime
    from ..local import LocalEndpoint, ServerInfo

__all__ = ["DEMO_ENDPOINT", "DEMO_PROMPTS", "demo", "serve_local"]

DEMO_ENDPOINT = "demo-endpoint"
#: What the demo sends to each operation (the model answers with the same text).
DEMO_PROMPTS = {
    "invoke": "What is Amazon SageMaker?",
    "stream": "Tokens arrive one by one, as the model writes them.",
    "async": "Queued now, answered later, in a file.",
}
_ASYNC_WAIT_SECONDS = 10.0
_DEFAULT_REGION = "us-east-1"


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _log_to_stderr(level: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    logger = logging.getLogger("runtime_client.local")
    logger.addHandler(handler)
    logger.setLevel(level)


# --------------------------------------------------------------------------- serve-local


def _own_credentials() -> dict[str, str]:
    key = os.environ.get("AWS_ACCESS_KEY_ID", "")
    secret = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
    if not key or not secret:
        raise ValueError(
            "--credentials-from-env: set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    return {key: secret}


def _announce(info: ServerInfo, *, demo_key: bool, model: str) -> None:
    """What ``serve-local`` prints once it accepts requests (stdout, flushed)."""
    from ..local import DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY

    lines = [
        f"SageMaker Runtime emulator listening on {info.url}",
        *(
            [f"  HTTP/2 only (the :8443 endpoint's stand-in): {info.http2_url}"]
            if info.http2_url
            else []
        ),
        f"  model: {model}   region: {info.region}   data dir: {info.data_dir}",
    ]
    if demo_key:
        lines += [
            "  credentials: the published demo key (accepted here only, never by AWS):",
            f"    export AWS_ACCESS_KEY_ID={DEMO_ACCESS_KEY_ID}",
            f"    export AWS_SECRET_ACCESS_KEY={DEMO_SECRET_ACCESS_KEY}",
        ]
    else:
        key = info.credentials.access_key_id
        lines.append(f"  credentials: the key pair from your environment (access key id {key})")
    if info.ca_bundle is not None:
        lines += [
            "  TLS: a certificate made at start; trust its CA:",
            f"    export AWS_CA_BUNDLE={info.ca_bundle}",
        ]
    body = '\'{"inputs": "Hello"}\''
    lines += [
        "  try:",
        f"    sagemaker-runtime --endpoint-url {info.url} --region {info.region} invoke-endpoint "
        f"--endpoint-name my-endpoint --content-type application/json --body {body} -",
        "Press Ctrl+C to stop.",
    ]
    print("\n".join(lines), flush=True)


def serve_local(args: argparse.Namespace) -> int:
    """``serve-local``: run the emulator in this process until SIGINT or SIGTERM."""
    from ..local import run

    credentials = _own_credentials() if args.credentials_from_env else None
    if bool(args.cert) != bool(args.key):
        raise ValueError("--cert and --key go together: give both, or --tls for a made one")
    if args.debug or not args.no_access_log:
        _log_to_stderr(logging.DEBUG if args.debug else logging.INFO)

    def ready(info: ServerInfo) -> None:
        _announce(info, demo_key=credentials is None, model=args.model)

    run(
        host=args.host,
        port=args.port,
        http2_port=args.http2_port,
        max_connections=args.max_connections,
        model=args.model,
        credentials=credentials,
        region=args.region or _DEFAULT_REGION,
        data_dir=args.data_dir,
        readable_dirs=tuple(args.allow_read),
        endpoint_name=args.endpoint_name,
        variant=args.variant,
        output_locations=args.output_locations,
        invocation_timeout=args.invocation_timeout,
        ping_timeout=args.ping_timeout,
        account_id=args.account_id,
        tls=(args.cert, args.key) if args.cert else args.tls,
        access_log=not args.no_access_log,
        on_ready=ready,
    )
    _stderr("Stopped.")
    return 0


# --------------------------------------------------------------------------- demo


def _ms(start: float) -> str:
    return f"{(time.perf_counter() - start) * 1000:.1f} ms"


def _json_body(prompt: str) -> bytes:
    return json.dumps({"inputs": prompt}).encode()


def _token(line: bytes) -> str | None:
    """The text of one server-sent event line ``data: {"token": {"text": ...}}``."""
    if not line.startswith(b"data:"):
        return None
    try:
        event = json.loads(line[5:])
        text = event["token"]["text"]
    except (ValueError, KeyError, TypeError):
        return None
    return text if isinstance(text, str) else None


def _local_path(url: str) -> Path:
    return Path(url2pathname(urlsplit(url).path))


def _await_file(output: Path, failure: Path) -> tuple[bool, bytes]:
    """Wait (bounded) for the async result; ``(True, output)`` or ``(False, failure text)``."""
    deadline = time.monotonic() + _ASYNC_WAIT_SECONDS
    while time.monotonic() < deadline:
        if output.is_file():
            return True, output.read_bytes()
        if failure.is_file():
            return False, failure.read_bytes()
        time.sleep(0.01)
    raise TimeoutError(f"no async result after {_ASYNC_WAIT_SECONDS:g} s at {output}")


def _run_demo(endpoint: LocalEndpoint, say: Any) -> None:
    from .._client import SageMakerRuntime

    creds = endpoint.credentials
    say(f"Emulator   {endpoint.url}   model: stream (a text-generation stand-in)")
    say(
        f"           every call below is signed with SigV4 for {endpoint.region} using the "
        f"demo key {creds.access_key_id}, and checked by the emulator"
    )
    client = SageMakerRuntime(
        region_name=endpoint.region,
        endpoint_url=endpoint.url,
        aws_access_key_id=creds.access_key_id,
        aws_secret_access_key=creds.secret_access_key,
    )
    with client:
        _demo_invoke(client, say)
        _demo_stream(client, say)
        _demo_async(client, endpoint, say)


def _demo_invoke(client: SageMakerRuntime, say: Any) -> None:
    prompt = DEMO_PROMPTS["invoke"]
    say("\n1. InvokeEndpoint")
    say(f"   sent      {_json_body(prompt).decode()}  (application/json)")
    start = time.perf_counter()
    response = client.invoke_endpoint(
        EndpointName=DEMO_ENDPOINT,
        Body=_json_body(prompt),
        ContentType="application/json",
        Accept="application/json",
    )
    answer = response["Body"].read()
    status = response["ResponseMetadata"]["HTTPStatusCode"]
    say(
        f"   received  {status} {response.get('ContentType')} from variant "
        f"{response.get('InvokedProductionVariant')} in {_ms(start)}"
    )
    say(f"   answer    {answer.decode('utf-8', errors='replace')}")


def _demo_stream(client: SageMakerRuntime, say: Any) -> None:
    prompt = DEMO_PROMPTS["stream"]
    say("\n2. InvokeEndpointWithResponseStream (tokens printed as they arrive)")
    say(f"   sent      {_json_body(prompt).decode()}")
    start = time.perf_counter()
    response = client.invoke_endpoint_with_response_stream(
        EndpointName=DEMO_ENDPOINT, Body=_json_body(prompt), ContentType="application/json"
    )
    say("   tokens    ", end="")
    count = 0
    with response["Body"] as stream:
        for line in stream.iter_lines():
            token = _token(line)
            if token is not None:
                count += 1
                say(token, end="")
    say(f"\n   received  {count} tokens as {response.get('ContentType')} in {_ms(start)}")


def _demo_async(client: SageMakerRuntime, endpoint: LocalEndpoint, say: Any) -> None:
    prompt = DEMO_PROMPTS["async"]
    say("\n3. InvokeEndpointAsync")
    stored = endpoint.data_dir / "s3" / "demo-inputs" / "prompt.json"
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_bytes(_json_body(prompt))
    location = "s3://demo-inputs/prompt.json"
    say(f"   input     {location}  (the emulator's stand-in for S3: {stored})")
    start = time.perf_counter()
    response = client.invoke_endpoint_async(
        EndpointName=DEMO_ENDPOINT,
        InputLocation=location,
        ContentType="application/json",
    )
    status = response["ResponseMetadata"]["HTTPStatusCode"]
    say(f"   received  {status} InferenceId {response.get('InferenceId')}")
    say(f"   output at {response.get('OutputLocation')}")
    ok, content = _await_file(
        _local_path(response["OutputLocation"]), _local_path(response["FailureLocation"])
    )
    kind = "output" if ok else "failure"
    say(f"   {kind:<9} {content.decode('utf-8', errors='replace')}  (after {_ms(start)})")


def demo(args: argparse.Namespace) -> int:
    """``demo``: start the emulator on a free loopback port, call it, print a transcript."""
    from ..local import serve

    def say(text: str, end: str = "\n") -> None:
        print(text, end=end, flush=True)

    if args.debug:
        _log_to_stderr(logging.DEBUG)
    _stderr("Starting a local SageMaker Runtime endpoint on a free loopback port...")
    with serve(model="stream", region=args.region or _DEFAULT_REGION) as endpoint:
        say("sagemaker-runtime demo: three SageMaker Runtime calls to a local endpoint")
        _run_demo(endpoint, say)
    say("\nDone. Run your own endpoint with `sagemaker-runtime serve-local --model stream`,")
    say("or `--model http://HOST:PORT` to put it in front of your model container.")
    return 0
