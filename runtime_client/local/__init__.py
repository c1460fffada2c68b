"""A local SageMaker Runtime endpoint: the real wire protocol and SigV4 checks on 127.0.0.1.

Run client code and a model container on one machine, unchanged::

    from runtime_client.local import serve

    with serve(model="stream") as endpoint:          # or "echo", or "http://127.0.0.1:8080"
        endpoint.url                                 # http://127.0.0.1:PORT
        endpoint.credentials                         # sigv4.Credentials the endpoint accepts

Every option is a field of :class:`EndpointSettings` (``serve(EndpointSettings(...))``,
or the same names as keywords).

The endpoint answers InvokeEndpoint, InvokeEndpointAsync and
InvokeEndpointWithResponseStream as the service does: every request's SigV4 signature is
checked (clock tolerance 5 minutes; 403 errors with ``x-amzn-ErrorType``), the service
model's validation rules are enforced (400 ``ValidationError``), failures of the model
become ``ModelError`` (424) with ``OriginalStatusCode`` and ``OriginalMessage``, and the
stream operation answers an ``application/vnd.amazon.eventstream`` of ``PayloadPart``
events. Async results are written under ``data_dir`` (see ``LocalStore`` for the layout
and the local stand-in for S3).

InvokeEndpointWithBidirectionalStream is served too, on the same port over cleartext
HTTP/2 (h2c with prior knowledge: give the client ``endpoint_url=endpoint.url``): the
request signature and every event's ``:chunk-signature`` are verified, and the parts go
to the model as they arrive (``"echo"`` answers each part at once; a container is
bridged to its WebSocket endpoint, see ``_bidi_endpoint.py`` and ``_bidi_container.py``).
A custom model serves it with ``open_bidirectional(BidiInvocation, parts)`` (see
``_bidi_models.py``).

Needs the ``local`` extra (hypercorn): ``pip install 'sagemaker-runtime-lite[local]'``.
"""

from ._app import EmulatorApp
from ._bidi_models import BidiInvocation, BidiPart
from ._container import ContainerModel
from ._models import (
    EchoModel,
    Model,
    ModelFailure,
    ModelRequest,
    ModelResponse,
    ModelStream,
    TokenStreamModel,
)
from ._server import LocalEndpoint, ModelStartError, ServerInfo, make_model, run, serve
from ._settings import DEFAULT_VARIANT, DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY, EndpointSettings
from ._storage import ASYNC_BUCKET, LocalStore

__all__ = [
    "ASYNC_BUCKET",
    "DEFAULT_VARIANT",
    "DEMO_ACCESS_KEY_ID",
    "DEMO_SECRET_ACCESS_KEY",
    "BidiInvocation",
    "BidiPart",
    "ContainerModel",
    "EchoModel",
    "EmulatorApp",
    "EndpointSettings",
    "LocalEndpoint",
    "LocalStore",
    "Model",
    "ModelFailure",
    "ModelRequest",
    "ModelResponse",
    "ModelStartError",
    "ModelStream",
    "ServerInfo",
    "TokenStreamModel",
    "make_model",
    "run",
    "serve",
]
