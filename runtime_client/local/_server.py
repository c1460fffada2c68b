"""Serve the emulator with hypercorn: in a background thread (:func:`serve`) or blocking
(:func:`run`, for the command line).

The listening socket is made here, before hypercorn starts, so the port is known (and
already accepting connections into its backlog) even when ``port=0`` asks for any free
one; hypercorn receives it as ``fd://N``. :func:`serve` returns once the app has started
(for a container: once ``GET /ping`` answered 200) and raises if it could not.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sigv4 import Credentials

from .._closing import ClosesOnExit
from ._app import EmulatorApp
from ._container import ContainerModel
from ._models import EchoModel, Model, TokenStreamModel
from ._settings import EndpointSettings, settings_from
from ._storage import LocalStore
from ._tls import make_certificates

__all__ = [
    "ModelStartError",
    "LocalEndpoint",
    "ServerInfo",
    "make_model",
    "run",
    "serve",
]

_log = logging.getLogger("runtime_client.local")
_GRACEFUL_SECONDS = 2.0


def make_model(
    model: str | Model, *, invocation_timeout: float = 60.0, ping_timeout: float = 30.0
) -> Model:
    """``"echo"``, ``"stream"``, a container URL (``http://host:port``) or a
    :class:`Model` object, as a :class:`Model`."""
    if isinstance(model, str):
        if model == "echo":
            return EchoModel()
        if model == "stream":
            return TokenStreamModel()
        if model.startswith(("http://", "https://")):
            return ContainerModel(
                model, invocation_timeout=invocation_timeout, ping_timeout=ping_timeout
            )
        raise ValueError(
            f"model must be 'echo', 'stream', a container URL (http://host:port) or a Model, "
            f"not {model!r}"
        )
    if isinstance(model, Model):
        return model
    raise TypeError(f"model must be a str or a Model, not {type(model).__name__}")


class ModelStartError(RuntimeError):
    """The endpoint's model did not start (a container that never answered ``GET /ping``
    with 200 within ``ping_timeout``); ``str()`` says why."""


@dataclass(frozen=True)
class ServerInfo:
    """Where the emulator listens and how to call it.

    ``credentials`` is the first accepted key pair as ``sigv4.Credentials`` (its repr
    masks the secret), ready for a client.
    """

    url: str
    host: str
    port: int
    region: str
    data_dir: Path
    credentials: Credentials = field(repr=False)
    #: The CA file to trust for ``https://`` (the made certificate's), else None.
    ca_bundle: Path | None = None


@dataclass
class _Prepared:
    app: EmulatorApp
    config: Any
    fd: int
    info: ServerInfo
    owned_dir: Path | None


def _listen(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        if os.name != "nt":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno != errno.EADDRINUSE:
            raise
        busy = OSError(
            f"port {port} on {host} is already in use: stop what listens there, or choose "
            "another port (--port, or port=; 0 picks a free one)"
        )
        busy.errno = exc.errno
        raise busy from None
    except BaseException:
        sock.close()
        raise
    return sock


def _prepare(settings: EndpointSettings) -> _Prepared:
    """Check the model, bind the socket, make the data folder and the app; nothing serves
    yet (hypercorn takes the socket over as ``fd://N``)."""
    try:
        from hypercorn.config import Config
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            "the local emulator needs hypercorn: pip install 'sagemaker-runtime-lite[local]'"
        ) from None
    chosen = make_model(
        settings.model,
        invocation_timeout=settings.invocation_timeout,
        ping_timeout=settings.ping_timeout,
    )
    sock = _listen(settings.host, settings.port)
    owned_dir = None
    try:
        if settings.data_dir is None:
            owned_dir = root = Path(tempfile.mkdtemp(prefix="sagemaker-local-"))
        else:
            root = Path(settings.data_dir)
            root.mkdir(parents=True, exist_ok=True)
        store = LocalStore(root, settings.output_locations, settings.readable_dirs)
    except BaseException:
        sock.close()
        if owned_dir is not None:
            shutil.rmtree(owned_dir, ignore_errors=True)
        raise
    app = EmulatorApp(chosen, settings, store)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    fd = sock.detach()
    config = Config()
    config.bind = [f"fd://{fd}"]
    config.graceful_timeout = _GRACEFUL_SECONDS
    config.include_server_header = False
    ca_bundle = _configure_tls(config, settings, store.root, bound_host)
    config.errorlog = _log
    access = settings.access_log
    config.accesslog = logging.getLogger("runtime_client.local.access") if access else None
    key, secret = next(iter(settings.secrets.items()))
    info = ServerInfo(
        f"{'https' if settings.tls else 'http'}://{shown}:{bound_port}",
        bound_host,
        bound_port,
        settings.region,
        store.root,
        Credentials(key, secret),
        ca_bundle,
    )
    return _Prepared(app, config, fd, info, owned_dir)


def _is_late_data(exc: BaseException | None) -> bool:
    """True for hypercorn's KeyError (seen with hypercorn 0.18) when HTTP/2 DATA arrives on
    a stream whose answer is complete: a bidirectional call answered early (424, or a bad
    event signature) while the caller was still sending. hypercorn then closes that
    connection; the caller already has its complete answer."""
    inner = getattr(exc, "exceptions", None)  # an exception group (3.10: the backport)
    if inner is not None:
        return bool(inner) and all(_is_late_data(e) for e in inner)
    if not isinstance(exc, KeyError):
        return False
    tb, last = exc.__traceback__, None
    while tb is not None:  # bounded by the traceback's depth
        last, tb = tb, tb.tb_next
    filename = last.tb_frame.f_code.co_filename if last is not None else ""
    return filename.endswith(os.path.join("hypercorn", "protocol", "h2.py"))


def _ignore_late_data() -> None:
    """Make hypercorn's HTTP/2 protocol drop DATA for a stream it has already answered
    (acknowledging it for flow control) instead of failing on it with a KeyError and
    closing the whole connection. A server answers a bidirectional call early (424, or a
    bad event signature) while the caller is still sending; closing the connection then can
    destroy the answer before the caller has read it. Applied once, at the first start;
    a no-op where hypercorn's internals are not as expected."""
    try:
        import h2.events
        from hypercorn.protocol.h2 import H2Protocol
    except ImportError:  # pragma: no cover - depends on the installed extras
        return
    original = getattr(H2Protocol, "_handle_events", None)
    if original is None or getattr(original, "_drops_late_data", False):
        return

    async def _handle_events(self: Any, events: list[Any]) -> None:
        for event in events:  # in order: a batch may open a stream, then carry its DATA
            if isinstance(event, h2.events.DataReceived) and event.stream_id not in self.streams:
                self.connection.acknowledge_received_data(
                    event.flow_controlled_length, event.stream_id
                )
            else:
                await original(self, [event])
        await original(self, [])  # sends what is pending (the acknowledgements)

    _handle_events._drops_late_data = True  # type: ignore[attr-defined]
    setattr(H2Protocol, "_handle_events", _handle_events)  # noqa: B010


def _exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    if _is_late_data(context.get("exception")):
        _log.debug("HTTP/2 DATA after a stream's complete answer: the connection was closed")
        return
    loop.default_exception_handler(context)


def _configure_tls(config: Any, settings: EndpointSettings, root: Path, host: str) -> Path | None:
    """Point hypercorn at the certificate and key; the CA to trust, if one was made."""
    if settings.tls is False:
        return None
    if settings.tls is True:
        files = make_certificates(root / "tls", host)
        cert, key, ca = files.cert, files.key, files.ca
    else:
        cert, key = (Path(part) for part in settings.tls)  # checked files (EndpointSettings)
        ca = None
    config.certfile, config.keyfile = str(cert), str(key)
    config.alpn_protocols = ["h2", "http/1.1"]
    return ca


async def _serve(prepared: _Prepared, stop: asyncio.Event | None) -> None:
    from hypercorn.asyncio import serve as hypercorn_serve

    _ignore_late_data()
    asyncio.get_running_loop().set_exception_handler(_exception_handler)
    trigger = None if stop is None else stop.wait
    await hypercorn_serve(cast(Any, prepared.app), prepared.config, shutdown_trigger=trigger)


class LocalEndpoint(ClosesOnExit):
    """A running emulator (see :func:`serve`). Close it, or use it as a context manager.

    ``url``, ``host``, ``port``, ``region``, ``data_dir`` and ``credentials`` (the first
    accepted key pair as ``sigv4.Credentials``) say how to reach it. ``url`` serves
    HTTP/1.1 and cleartext HTTP/2 (h2c, prior knowledge) on one port, so a client given
    ``endpoint_url=endpoint.url`` reaches every operation there, the HTTP/2
    bidirectional stream included (a custom endpoint URL is the client's HTTP/2 endpoint
    as is).
    """

    def __init__(self, prepared: _Prepared, startup_timeout: float) -> None:
        self._prepared = prepared
        self.info = prepared.info
        self._ready = threading.Event()
        self._done = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._closed = False
        prepared.app.on_startup = self._ready.set
        self._thread = threading.Thread(
            target=self._main, name=f"sagemaker-local:{self.info.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + startup_timeout
        while not self._ready.wait(0.05):  # bounded by the deadline
            if self._done.is_set() or time.monotonic() > deadline:
                self.close()
                failure = self._prepared.app.start_failure
                if failure is not None:
                    raise ModelStartError(f"the model did not start: {failure}")
                reason = repr(self._error) if self._error is not None else "timed out"
                raise RuntimeError(f"the local endpoint did not start: {reason}")

    def _main(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            await _serve(self._prepared, self._stop)

        try:
            asyncio.run(main())
        except BaseException as exc:
            self._error = exc
            _log.error("the local endpoint stopped: %r", exc)
        finally:
            if not self._ready.is_set():  # hypercorn never took the socket over
                with contextlib.suppress(OSError):
                    os.close(self._prepared.fd)
            self._done.set()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the endpoint URL for a client (``endpoint_url=``).

        The same port answers HTTP/1.1 and cleartext HTTP/2 with prior knowledge (h2c),
        so InvokeEndpointWithBidirectionalStream, which the client sends over HTTP/2 to
        its custom endpoint URL as given, reaches it too. There is no TLS and no ``:8443``
        port: the service's HTTP/2 endpoint is ``https://runtime.sagemaker.REGION...:8443``,
        the emulator's is this URL."""
        return self.info.url

    @property
    def host(self) -> str:
        return self.info.host

    @property
    def port(self) -> int:
        return self.info.port

    @property
    def region(self) -> str:
        return self.info.region

    @property
    def data_dir(self) -> Path:
        return self.info.data_dir

    @property
    def credentials(self) -> Credentials:
        """The first accepted key pair (its repr masks the secret)."""
        return self.info.credentials

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        state = "closed" if self._closed else "running"
        return f"<LocalEndpoint {self.info.url} model={self._prepared.app.model!r} {state}>"

    def close(self, timeout: float = 15.0) -> None:
        """Stop serving (finishing requests in flight for up to 2 s) and wait for the
        thread; remove the data folder if :func:`serve` made it."""
        if self._closed:
            return
        self._closed = True
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(stop.set)
        self._thread.join(timeout)
        owned = self._prepared.owned_dir
        if owned is not None and not self._thread.is_alive():
            shutil.rmtree(owned, ignore_errors=True)


def serve(
    settings: EndpointSettings | None = None,
    /,
    *,
    startup_timeout: float | None = None,
    **options: Any,
) -> LocalEndpoint:
    """Start a local SageMaker Runtime endpoint in a background thread; return its handle.

    Give an :class:`EndpointSettings`, or its options as keywords (``serve(model="stream",
    port=8080)``), or both (the keywords replace those options of ``settings``). By
    default the endpoint listens on a free loopback port, serves the ``"echo"`` model and
    accepts the published demo key. ``startup_timeout`` bounds the wait for the model to
    start (default: ``ping_timeout`` + 10 s). Binding beyond loopback
    (``host="0.0.0.0"``) needs ``credentials`` of your own. Needs hypercorn (the
    ``local`` extra).
    """
    chosen = settings_from(settings, options)
    prepared = _prepare(chosen)
    if startup_timeout is None:
        startup_timeout = chosen.ping_timeout + 10.0
    return LocalEndpoint(prepared, startup_timeout)


def run(
    settings: EndpointSettings | None = None,
    /,
    *,
    on_ready: Callable[[ServerInfo], None] | None = None,
    **options: Any,
) -> None:
    """Serve in this thread until SIGINT or SIGTERM (the command line's ``serve-local``).

    Takes what :func:`serve` takes (here the default port is 8080 and requests are
    logged); ``on_ready`` is called with the :class:`ServerInfo` once the endpoint accepts
    requests. Call it from the main thread.
    """
    prepared = _prepare(settings_from(settings, options, port=8080, access_log=True))
    from hypercorn.utils import LifespanFailureError  # there: _prepare checked for hypercorn

    started = threading.Event()

    def startup() -> None:
        started.set()
        if on_ready is not None:
            on_ready(prepared.info)

    prepared.app.on_startup = startup
    try:
        asyncio.run(_serve(prepared, None))
    except KeyboardInterrupt:
        pass
    except LifespanFailureError:  # the app refused its start: the model did not start
        raise ModelStartError(f"the model did not start: {prepared.app.start_failure}") from None
    finally:
        if not started.is_set():
            with contextlib.suppress(OSError):
                os.close(prepared.fd)
        if prepared.owned_dir is not None:
            shutil.rmtree(prepared.owned_dir, ignore_errors=True)
