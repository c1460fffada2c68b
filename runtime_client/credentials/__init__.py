"""AWS credentials for the clients: boto3's default chain, refreshed once for all callers.

A provider hands out :class:`sigv4.Credentials` to blocking code (``get_credentials``)
and to async code (``aget_credentials``, asyncio or trio); :class:`CredentialsProvider`
is that interface (the same one ``sigv4.SigV4Auth`` takes), so a provider of your own
works with the clients and the signer alike.

* :func:`static_credentials_provider`: fixed keys (what ``aws_access_key_id=`` gives).
* :func:`default_credentials_provider`: the default chain, in botocore's order
  (environment, assume-role profiles, web identity, SSO, the shared credentials file,
  ``credential_process``, the config file, the container endpoint, EC2 instance
  metadata), resolved on first use and refreshed before the credentials expire.

Modules: the chain's order (``_chain``) and what it reads (``_context``); the sources on
this machine (``_local``), the compute platform's endpoints (``_metadata``), STS and SSO
(``_sts``, with the role steps in ``_roles``); the refresh decisions (``_refresh``) and the
providers that take the locks (``_provider``). Every source that does I/O is a flow.

Errors::

    SageMakerRuntimeError
     └── CredentialsError                 base of every credentials failure
          ├── NoCredentialsError          no source in the chain had credentials;
          │                               the message lists every source tried and why
          ├── PartialCredentialsError     a source sets some keys but not all (names them)
          ├── CredentialsConfigError      inconsistent settings (also a ValueError): a role
          │                               profile without a source, a source_profile loop,
          │                               a container URI that is not allowed, ...
          └── CredentialsRetrievalError   a configured source failed: an HTTP error, a bad
                                          response, a credential_process failure, ...

Messages name the source, the setting and the rule; they never carry a secret key,
a session token or a bearer token.
"""

from ._errors import (
    CredentialsConfigError,
    CredentialsError,
    CredentialsRetrievalError,
    NoCredentialsError,
    PartialCredentialsError,
)
from ._provider import (
    CredentialsProvider,
    RefreshingCredentialsProvider,
    default_credentials_provider,
    static_credentials_provider,
)

__all__ = [
    "CredentialsConfigError",
    "CredentialsError",
    "CredentialsProvider",
    "CredentialsRetrievalError",
    "NoCredentialsError",
    "PartialCredentialsError",
    "RefreshingCredentialsProvider",
    "default_credentials_provider",
    "static_credentials_provider",
]
