"""``SigV4Auth``: sign any httpx request for any AWS service, with ``httpx.Client`` or
``httpx.AsyncClient``. The one place in ``sigv4`` that reads the clock."""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from datetime import datetime, timezone

import httpx

from ._credentials import Credentials, CredentialsProvider
from ._errors import SigningError
from ._hashing import hash_payload
from ._settings import SigningParams, SigningSettings
from ._signer import SignableRequest, sign

__all__ = ["CredentialsProvider", "CredentialsSource", "SigV4Auth"]


CredentialsSource = (
    Credentials
    | CredentialsProvider
    | Callable[[], Credentials]
    | Callable[[], Awaitable[Credentials]]
)

_OWNED = ("authorization", "x-amz-date", "x-amz-security-token")


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class SigV4Auth(httpx.Auth):
    """An ``httpx.Auth`` that signs each request with SigV4.

    ``credentials`` is a ``Credentials`` value, a provider with ``get_credentials()`` and
    ``aget_credentials()``, or a callable returning credentials (or, under an async client,
    an awaitable of credentials). The body is hashed from ``request.content``; for a streamed
    body, set the ``x-amz-content-sha256`` header to its hash (``sigv4.hash_payload``) or to
    ``UNSIGNED-PAYLOAD`` where the service allows it.

    >>> auth = SigV4Auth(creds, region="us-east-1", service="sagemaker")
    >>> httpx.post(url, content=b"{}", auth=auth)  # doctest: +SKIP
    """

    def __init__(
        self,
        credentials: CredentialsSource,
        region: str,
        service: str,
        settings: SigningSettings | None = None,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._source = credentials
        self._settings = settings if settings is not None else SigningSettings()
        self._clock = clock
        # Validate region and service now, not at the first request.
        SigningParams(Credentials("validation", "validation"), region, service, _utc_now())
        self.region = region
        self.service = service

    def __repr__(self) -> str:
        return f"SigV4Auth(region={self.region!r}, service={self.service!r})"

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        source = self._source
        if isinstance(source, Credentials):
            credentials = source
        elif isinstance(source, CredentialsProvider):
            credentials = source.get_credentials()
        else:
            result = source()
            if inspect.isawaitable(result):
                if inspect.iscoroutine(result):
                    result.close()
                raise SigningError(
                    "credentials", "an async credentials callable needs an AsyncClient"
                )
            credentials = result
        self._sign(request, credentials)
        yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        source = self._source
        if isinstance(source, Credentials):
            credentials = source
        elif isinstance(source, CredentialsProvider):
            credentials = await source.aget_credentials()
        else:
            result = source()
            credentials = await result if inspect.isawaitable(result) else result
        self._sign(request, credentials)
        yield request

    def _sign(self, request: httpx.Request, credentials: Credentials) -> None:
        if not isinstance(credentials, Credentials):
            raise SigningError("credentials", "the credentials source must give sigv4.Credentials")
        payload_hash = request.headers.get("x-amz-content-sha256")
        body = b""
        if payload_hash is None:
            try:
                body = request.content
            except httpx.RequestNotRead:
                raise SigningError(
                    "body",
                    "a streamed body cannot be hashed here: set the x-amz-content-sha256 header "
                    "to sigv4.hash_payload(...) of it (or UNSIGNED-PAYLOAD where allowed)",
                ) from None
            payload_hash = hash_payload(body)
        headers = request.headers
        for name in _OWNED:
            if name in headers:
                del headers[name]
        params = SigningParams(
            credentials, self.region, self.service, self._clock(), self._settings
        )
        target = request.url.raw_path.decode("ascii")
        result = sign(
            SignableRequest(
                request.method, target, request.headers.multi_items(), payload_hash=payload_hash
            ),
            params,
        )
        for name, value in result.headers:
            request.headers[name] = value
        if result.query:
            request.url = request.url.copy_with(raw_path=result.signed_url(target).encode("ascii"))
