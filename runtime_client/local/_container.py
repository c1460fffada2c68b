"""A model served by a container that speaks SageMaker's container contract.

The contract (what SageMaker hosting expects of an inference container)::

    GET  /ping          200 when the container is ready to serve
    POST /invocations   the request body as sent, with Content-Type and Accept; the answer's
                        body and Content-Type go back to the caller. For
                        InvokeEndpointWithResponseStream the container answers with a
                        streamed (chunked) body, relayed to the caller as PayloadPart events
                        chunk by chunk as they arrive.

The emulator also forwards ``X-Amzn-SageMaker-Custom-Attributes`` (and passes the
container's own back), ``X-Amzn-SageMaker-Target-Model``, ``X-Amzn-SageMaker-Inference-Id``
and ``X-Amzn-SageMaker-Session-Id``. A non-2xx answer becomes a ``ModelError`` (424) whose
``OriginalStatusCode`` and ``OriginalMessage`` are the container's status and body.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx

from ._models import ModelFailure, ModelRequest, ModelResponse, ModelStream

__all__ = ["MAX_RESPONSE_BYTES", "ContainerModel"]

MAX_RESPONSE_BYTES = 6291456
"""The most a container may answer to InvokeEndpoint (SageMaker's 6 MB payload limit)."""

_PING_INTERVAL = 0.2
_CONTAINER = "primary"


def _check_seconds(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
    return float(value)


class ContainerModel:
    """Forward invocations to the container at ``url`` (``http://host:port``).

    ``invocation_timeout`` bounds the wait for an answer (SageMaker's is 60 s for real-time
    endpoints) and, when streaming, for each next chunk. ``ping_timeout`` bounds how long
    :meth:`start` waits for ``GET /ping`` to answer 200.
    """

    name = "container"

    def __init__(
        self,
        url: str,
        *,
        invocation_timeout: float = 60.0,
        ping_timeout: float = 30.0,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url must be an http:// or https:// URL of a container, not {url!r}")
        if parts.query or parts.fragment:
            raise ValueError(f"url must not have a query or fragment: {url!r}")
        self.url = url.rstrip("/")
        self.invocation_timeout = _check_seconds("invocation_timeout", invocation_timeout)
        self.ping_timeout = _check_seconds("ping_timeout", ping_timeout)
        self._client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"ContainerModel({self.url!r})"

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("ContainerModel.start() has not run")
        return self._client

    async def start(self) -> None:
        """Open the connection pool and wait until ``GET /ping`` answers 200."""
        self._client = httpx.AsyncClient(
            base_url=self.url, timeout=self.invocation_timeout, trust_env=False
        )
        deadline = time.monotonic() + self.ping_timeout
        problem = "no answer"
        while True:  # bounded by the deadline
            try:
                response = await self._client.get("/ping", timeout=min(5.0, self.ping_timeout))
                if response.status_code == 200:
                    return
                problem = f"status {response.status_code}"
            except httpx.HTTPError as exc:
                problem = type(exc).__name__
            if time.monotonic() >= deadline:
                await self.aclose()
                raise RuntimeError(
                    f"the container at {self.url} did not answer GET /ping with 200 within "
                    f"{self.ping_timeout:g} s (last: {problem})"
                )
            await asyncio.sleep(_PING_INTERVAL)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def _request(self, request: ModelRequest) -> httpx.Request:
        headers = {
            "Content-Type": request.content_type,
            "Accept": request.accept,
            "X-Amzn-SageMaker-Custom-Attributes": request.custom_attributes,
            "X-Amzn-SageMaker-Target-Model": request.target_model,
            "X-Amzn-SageMaker-Inference-Id": request.inference_id,
            "X-Amzn-SageMaker-Session-Id": request.session_id,
        }
        return self.client.build_request(
            "POST",
            "/invocations",
            content=request.body,
            headers={name: value for name, value in headers.items() if value is not None},
        )

    def _timed_out(self) -> ModelFailure:
        return ModelFailure(
            f"Your invocation timed out while waiting for a response from container "
            f"{_CONTAINER} (after {self.invocation_timeout:g} s).",
            stream_error_code="ModelInvocationTimeExceeded",
        )

    def _unreachable(self, exc: httpx.HTTPError) -> ModelFailure:
        return ModelFailure(
            f"Could not get an answer from container {_CONTAINER} at {self.url} "
            f"({type(exc).__name__})."
        )

    async def _read_limited(self, response: httpx.Response) -> bytes:
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > MAX_RESPONSE_BYTES:
                raise ModelFailure(
                    f"The response from container {_CONTAINER} is larger than "
                    f"{MAX_RESPONSE_BYTES} bytes."
                )
        return bytes(body)

    async def _failure(self, response: httpx.Response) -> ModelFailure:
        body = await self._read_limited(response)
        return ModelFailure(
            body.decode("utf-8", errors="replace"), status_code=response.status_code
        )

    async def invoke(self, request: ModelRequest) -> ModelResponse:
        try:
            response = await self.client.send(self._request(request), stream=True)
            try:
                if not 200 <= response.status_code < 300:
                    raise await self._failure(response)
                body = await self._read_limited(response)
            finally:
                await response.aclose()
        except httpx.TimeoutException:
            raise self._timed_out() from None
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from None
        headers = response.headers
        return ModelResponse(
            body,
            headers.get("content-type", "application/octet-stream"),
            headers.get("x-amzn-sagemaker-custom-attributes"),
            headers.get("x-amzn-sagemaker-new-session-id"),
            headers.get("x-amzn-sagemaker-closed-session-id"),
        )

    async def stream(self, request: ModelRequest) -> ModelStream:
        try:
            response = await self.client.send(self._request(request), stream=True)
        except httpx.TimeoutException:
            raise self._timed_out() from None
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from None
        if not 200 <= response.status_code < 300:
            try:
                raise await self._failure(response)
            except httpx.TimeoutException:
                raise self._timed_out() from None
            except httpx.HTTPError as exc:
                raise self._unreachable(exc) from None
            finally:
                await response.aclose()
        return ModelStream(
            self._relay(response),
            response.headers.get("content-type", "application/octet-stream"),
            response.headers.get("x-amzn-sagemaker-custom-attributes"),
        )

    async def _relay(self, response: httpx.Response) -> AsyncIterator[bytes]:
        try:
            async for chunk in response.aiter_bytes():
                yield chunk
        except httpx.TimeoutException:
            raise self._timed_out() from None
        except httpx.HTTPError as exc:
            raise ModelFailure(
                f"The stream from container {_CONTAINER} broke ({type(exc).__name__}).",
                stream_error_code="StreamBroken",
            ) from None
        finally:
            await response.aclose()
