"""Serve the emulator with hypercorn: in a background thread (:func:`serve`) or blocking
(:func:`run`, for the command line).

The listening sockets (the main port and, with ``http2_port``, the HTTP/2-only one; see
``_hypercorn.py``) are made here, before hypercorn starts, so the ports are known (and
already accepting connections into their backlog) even when ``0`` asks for any free one;
hypercorn receives each as ``fd://N``. :func:`serve` returns once the app has started
(for a container: once ``GET /ping`` answered 200) and raises if it could not.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import shutil
import signal
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
from ._hypercorn import (
    ConnectionCap,
    Http2Only,
    attach_cap,
    exception_handler,
    ignore_late_data,
    install_connection_cap,
)
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
    #: The HTTP/2-only listener's URL (``http2_port``), else None.
    http2_url: str | None = None


@dataclass
class _Listener:
    """One hypercorn server: its config (which binds ``fd://N``) and the app it serves."""

    config: Any
    fd: int
    app: Any


@dataclass
class _Prepared:
    app: EmulatorApp
    listeners: tuple[_Listener, ...]
    info: ServerInfo
    owned_dir: Path | None

    def close_sockets(self) -> None:
        """Close the listening sockets hypercorn never took over."""
        for listener in self.listeners:
            with contextlib.suppress(OSError):
                os.close(listener.fd)


def _listen(host: str, port: int, option: str = "port") -> socket.socket:
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
        flag = option.replace("_", "-")
        busy = OSError(
            f"port {port} on {host} is already in use: stop what listens there, or choose "
            f"another port (--{flag}, or {option}=; 0 picks a free one)"
        )
        busy.errno = exc.errno
        raise busy from None
    except BaseException:
        sock.close()
        raise
    return sock


def _url(scheme: str, sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"


def _prepare(settings: EndpointSettings) -> _Prepared:
    """Check the model, bind the sockets, make the data folder and the app; nothing serves
    yet (hypercorn takes each socket over as ``fd://N``)."""
    try:
        import hypercorn.config  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            "the local emulator needs hypercorn: pip install 'sagemaker-runtime-lite[local]'"
        ) from None
    chosen = make_model(
        settings.model,
        invocation_timeout=settings.invocation_timeout,
        ping_timeout=settings.ping_timeout,
    )
    socks = [_listen(settings.host, settings.port)]
    owned_dir = None
    try:
        if settings.http2_port is not None:
            socks.append(_listen(settings.host, settings.http2_port, "http2_port"))
        if settings.data_dir is None:
            owned_dir = root = Path(tempfile.mkdtemp(prefix="sagemaker-local-"))
        else:
            root = Path(settings.data_dir)
            root.mkdir(parents=True, exist_ok=True)
        store = LocalStore(root, settings.output_locations, settings.readable_dirs)
        bound_host = socks[0].getsockname()[0]
        certificates = _certificates(settings, store.root, bound_host)
    except BaseException:
        for sock in socks:
            sock.close()
        if owned_dir is not None:
            shutil.rmtree(owned_dir, ignore_errors=True)
        raise
    app = EmulatorApp(chosen, settings, store)
    scheme = "https" if settings.tls else "http"
    urls = [_url(scheme, sock) for sock in socks]
    bound_port = socks[0].getsockname()[1]
    listeners = _listeners(settings, app, socks, urls[0], certificates)
    key, secret = next(iter(settings.secrets.items()))
    info = ServerInfo(
        urls[0],
        bound_host,
        bound_port,
        settings.region,
        store.root,
        Credentials(key, secret),
        certificates[2] if certificates is not None else None,
        urls[1] if len(urls) > 1 else None,
    )
    return _Prepared(app, listeners, info, owned_dir)


def _listeners(
    settings: EndpointSettings,
    app: EmulatorApp,
    socks: list[socket.socket],
    main_url: str,
    certificates: tuple[Path, Path, Path | None] | None,
) -> tuple[_Listener, ...]:
    """A hypercorn config per socket (which it detaches): the main port, then the
    HTTP/2-only one; their connections count against one cap."""
    from hypercorn.config import Config

    cap = ConnectionCap(settings.max_connections)
    access = settings.access_log
    listeners = []
    for index, sock in enumerate(socks):
        fd = sock.detach()
        config = Config()
        config.bind = [f"fd://{fd}"]
        config.graceful_timeout = _GRACEFUL_SECONDS
        config.include_server_header = False
        config.errorlog = _log
        config.accesslog = logging.getLogger("runtime_client.local.access") if access else None
        attach_cap(config, cap)
        http2_only = index == 1
        if certificates is not None:
            config.certfile, config.keyfile = (str(path) for path in certificates[:2])
            config.alpn_protocols = ["h2"] if http2_only else ["h2", "http/1.1"]
        listeners.append(_Listener(config, fd, Http2Only(app, main_url) if http2_only else app))
    return tuple(listeners)


def _certificates(
    settings: EndpointSettings, root: Path, host: str
) -> tuple[Path, Path, Path | None] | None:
    """The certificate and key to serve, and the CA to trust if one was made; None
    without TLS."""
    if settings.tls is False:
        return None
    if settings.tls is True:
        files = make_certificates(root / "tls", host)
        return files.cert, files.key, files.ca
    cert, key = (Path(part) for part in settings.tls)  # checked files (EndpointSettings)
    return cert, key, None


async def _serve(prepared: _Prepared, stop: asyncio.Event | None) -> None:
    """Run every listener until ``stop`` is set (None: until SIGINT or SIGTERM); if one
    fails (the model did not start), the others stop and its error is raised."""
    from hypercorn.asyncio import serve as hypercorn_serve

    ignore_late_data()
    install_connection_cap()
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(exception_handler)
    if stop is None:
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # then Ctrl+C raises
                loop.add_signal_handler(signum, stop.set)
    tasks = [
        asyncio.ensure_future(
            hypercorn_serve(listener.app, listener.config, shutdown_trigger=stop.wait)
        )
        for listener in prepared.listeners
    ]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in tasks:  # the main listener's failure first
        if task in done and task.exception() is not None:
            raise cast(BaseException, task.exception())


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
            if not self._ready.is_set():  # hypercorn never took the sockets over
                self._prepared.close_sockets()
            self._done.set()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the endpoint URL for a client (``endpoint_url=``).

        The same port answers HTTP/1.1 and cleartext HTTP/2 with prior knowledge (h2c),
        so InvokeEndpointWithBidirectionalStream, which the client sends over HTTP/2 to
        its custom endpoint URL as given, reaches it too. With ``tls`` it is ``https://``
        and offers both by ALPN."""
        return self.info.url

    @property
    def http2_url(self) -> str | None:
        """The HTTP/2-only port's URL (``http2_port``), the stand-in for the service's
        ``https://runtime.sagemaker.REGION...:8443``; None without one."""
        return self.info.http2_url

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
            prepared.close_sockets()
        if prepared.owned_dir is not None:
            shutil.rmtree(prepared.owned_dir, ignore_errors=True)
