"""What a local endpoint serves and how it checks requests: one value, :class:`EndpointSettings`,
read by :func:`~runtime_client.local.serve`, :func:`~runtime_client.local.run`, the ASGI app
and its bidirectional endpoint alike (each option is named once, here)."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ._storage import LocationStyle

if TYPE_CHECKING:
    from ._models import Model

__all__ = [
    "DEFAULT_VARIANT",
    "DEMO_ACCESS_KEY_ID",
    "DEMO_SECRET_ACCESS_KEY",
    "EndpointSettings",
    "settings_from",
]

DEFAULT_VARIANT = "AllTraffic"
DEMO_ACCESS_KEY_ID = "AKIDLOCALDEMO0000000"
DEMO_SECRET_ACCESS_KEY = "local-demo-secret-not-for-aws"  # a published demo key
_LOCATION_STYLES = ("file", "s3")


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _secrets(credentials: Mapping[str, str] | None) -> Mapping[str, str]:
    if credentials is None:
        return MappingProxyType({DEMO_ACCESS_KEY_ID: DEMO_SECRET_ACCESS_KEY})
    if not isinstance(credentials, Mapping) or not credentials:
        raise ValueError("credentials must be a non-empty mapping of access key id to secret key")
    for key, secret in credentials.items():
        if not isinstance(key, str) or not key or not isinstance(secret, str) or not secret:
            raise ValueError("credentials must map non-empty str access key ids to str secrets")
    return MappingProxyType(dict(credentials))


def _tls_option(value: object) -> bool | tuple[Path, Path]:
    if isinstance(value, bool):
        return value
    if isinstance(value, (tuple, list)) and len(value) == 2:
        cert, key = (Path(part) if isinstance(part, (str, os.PathLike)) else None for part in value)
        if cert is not None and key is not None:
            for what, path in (("certificate", cert), ("key", key)):
                if not path.is_file():
                    raise ValueError(f"tls: the {what} file {str(path)!r} does not exist")
            return (cert, key)
    raise ValueError(f"tls must be True, False or (certificate file, key file), not {value!r}")


def _check_ports(port: object, http2_port: object) -> None:
    for name, value in (("port", port), ("http2_port", http2_port)):
        if value is None and name == "http2_port":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
            raise ValueError(f"{name} must be an int from 0 to 65535, not {value!r}")
    if http2_port is not None and http2_port == port != 0:
        raise ValueError(f"http2_port must differ from port ({port})")


def _folders(value: object) -> tuple[Path, ...]:
    if isinstance(value, (str, bytes, os.PathLike)) or not isinstance(value, Sequence):
        raise ValueError(f"readable_dirs must be a sequence of folders, not {value!r}")
    folders = []
    for folder in value:
        if not isinstance(folder, (str, os.PathLike)) or not Path(folder).is_dir():
            raise ValueError(f"readable_dirs: {folder!r} is not an existing folder")
        folders.append(Path(folder).resolve())
    return tuple(folders)


@dataclass(frozen=True)
class EndpointSettings:
    """Every option of a local endpoint, checked when the value is made (``ValueError``
    naming the option), before anything listens.

    ``model``: ``"echo"``, ``"stream"``, the URL of a container speaking SageMaker's
    container contract, or a :class:`~runtime_client.local.Model`. ``credentials`` maps
    the access key ids the endpoint accepts to their secret keys (default: the published
    demo key, ``DEMO_ACCESS_KEY_ID`` / ``DEMO_SECRET_ACCESS_KEY``, only on loopback).
    ``data_dir`` holds the stand-in for S3 and async results (default: a temporary folder,
    removed at close). ``endpoint_name`` limits the endpoint served (default: any name);
    ``variant`` is its one production variant. ``output_locations`` is how async results
    are named to the caller: ``"file"`` (file:// URLs) or ``"s3"`` (s3:// URIs into
    ``data_dir/s3``). A local ``InputLocation`` (``file://`` or an absolute path) is read
    only inside ``data_dir`` and the folders of ``readable_dirs``. ``invocation_timeout``
    and ``ping_timeout`` bound a container's answers. ``tolerance`` is the signature
    checker's clock tolerance and ``clock`` its clock (for tests). ``access_log`` logs
    each request to ``runtime_client.local.access``. ``max_body_bytes_in_flight`` caps
    the request body bytes held at once by the requests being read (beyond it: 503
    ServiceUnavailable); a request's signature is checked, all but its body's hash, before
    its body is read, so unauthenticated uploads hold nothing. ``tls``: ``True`` serves
    HTTPS with a certificate made at start (its CA written to ``data_dir/tls/ca.pem``,
    :attr:`ServerInfo.ca_bundle`), or ``(certificate file, key file)`` your own; HTTP/1.1
    and HTTP/2 are offered by ALPN on the one port. ``http2_port`` (0: a free one) adds a
    port that serves HTTP/2 only, as the service's ``:8443`` endpoint does
    (:attr:`ServerInfo.http2_url`). ``max_connections`` caps the connections held open
    on both ports together; one beyond it is answered 503 ServiceUnavailable.
    """

    model: str | Model = "echo"
    host: str = "127.0.0.1"
    port: int = 0
    credentials: Mapping[str, str] | None = field(default=None, repr=False)
    region: str = "us-east-1"
    data_dir: str | os.PathLike[str] | None = None
    readable_dirs: Sequence[str | os.PathLike[str]] = ()
    endpoint_name: str | None = None
    variant: str = DEFAULT_VARIANT
    output_locations: LocationStyle = "file"
    invocation_timeout: float = 60.0
    ping_timeout: float = 30.0
    account_id: str = "000000000000"
    tolerance: timedelta = timedelta(minutes=5)
    clock: Callable[[], datetime] = field(default=_utc_now, repr=False)
    access_log: bool = False
    max_body_bytes_in_flight: int = 64 * 1024 * 1024
    tls: bool | tuple[str | os.PathLike[str], str | os.PathLike[str]] = False
    http2_port: int | None = None
    max_connections: int = 256

    def __post_init__(self) -> None:
        _check_ports(self.port, self.http2_port)
        limit = self.max_connections
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"max_connections must be an int >= 1, not {limit!r}")
        if not isinstance(self.region, str) or not self.region:
            raise ValueError("region must be a non-empty str")
        if self.credentials is None and not _is_loopback(self.host):
            raise ValueError(
                f"host {self.host!r} is reachable from other machines: give credentials of "
                "your own (the demo key is published)"
            )
        object.__setattr__(self, "credentials", _secrets(self.credentials))
        if self.output_locations not in _LOCATION_STYLES:
            raise ValueError(
                f"output_locations must be 'file' or 's3', not {self.output_locations!r}"
            )
        cap = self.max_body_bytes_in_flight
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 6 * 1024 * 1024:
            raise ValueError(
                f"max_body_bytes_in_flight must be an int of at least 6 MiB (one request "
                f"body at the service's limit), not {cap!r}"
            )
        object.__setattr__(self, "tls", _tls_option(self.tls))
        for name in ("invocation_timeout", "ping_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{name} must be a number of seconds > 0, not {value!r}")
        if self.data_dir is not None:
            object.__setattr__(self, "data_dir", Path(self.data_dir))
        object.__setattr__(self, "readable_dirs", _folders(self.readable_dirs))

    @property
    def secrets(self) -> Mapping[str, str]:
        """The accepted keys: access key id -> secret key (read-only)."""
        assert self.credentials is not None  # set by __post_init__
        return self.credentials


_NAMES = frozenset(f.name for f in fields(EndpointSettings))


def settings_from(
    settings: EndpointSettings | None, options: Mapping[str, Any], **defaults: Any
) -> EndpointSettings:
    """``settings`` (or the defaults) with ``options`` applied; an unknown option is a
    ``TypeError`` that names it and lists the valid ones."""
    unknown = sorted(set(options) - _NAMES)
    if unknown:
        raise TypeError(
            f"unknown local endpoint option(s) {', '.join(unknown)}; valid: "
            f"{', '.join(sorted(_NAMES))}"
        )
    if settings is None:
        return EndpointSettings(**{**defaults, **options})
    return replace(settings, **options) if options else settings
