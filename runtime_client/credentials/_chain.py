"""The default credential chain, in botocore's order.

======  =================================  ================================================
 step    name                               configured by
======  =================================  ================================================
 1       ``env``                            AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
                                            AWS_SESSION_TOKEN / AWS_SECURITY_TOKEN,
                                            AWS_CREDENTIAL_EXPIRATION
 2       ``assume-role``                    profile ``role_arn`` + ``source_profile`` or
                                            ``credential_source``
 3       ``assume-role-with-web-identity``  AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN,
                                            AWS_ROLE_SESSION_NAME, or the profile's
                                            ``web_identity_token_file`` + ``role_arn``
 4       ``sso``                            profile ``sso_session`` (or legacy ``sso_*`` keys)
 5       ``shared-credentials-file``        ~/.aws/credentials (AWS_SHARED_CREDENTIALS_FILE)
 6       ``custom-process``                 profile ``credential_process``
 7       ``config-file``                    static keys in ~/.aws/config (AWS_CONFIG_FILE)
 8       ``container-role``                 AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI
 9       ``iam-role``                       EC2 instance metadata (IMDS)
======  =================================  ================================================

Deciding which step applies is pure (it reads only the environment mapping and the
parsed files); only fetching does I/O, through the flows of each source. A profile
given as an argument removes step 1, as in botocore (``AWS_PROFILE`` does not). A
step that is configured but fails raises; only IMDS, which is never "configured",
is skipped when it does not answer.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from sigv4 import Credentials

from .._flow import Call, Flow
from ._context import ChainContext, ca_bundle
from ._errors import CredentialsRetrievalError, NoCredentialsError
from ._local import config_file_step, env_step, process_step, shared_file_step
from ._source import Clock, Source, utcnow

if TYPE_CHECKING:
    import ssl

# The role, container and IMDS steps (and the STS/SSO sources, subprocess, shlex, hashlib)
# are imported when the chain reaches them: most processes get their credentials from the
# environment or a profile's keys, and a cold start pays for every module it imports.

__all__ = ["CHAIN", "ChainSource", "resolve_chain"]


Step = Callable[[ChainContext], "Source | str"]


def _later(module: str, name: str) -> Step:
    """The step ``name`` of ``module``, imported the first time the chain reaches it."""

    def step(ctx: ChainContext) -> Source | str:
        found: Step = getattr(__import__(module[1:], globals(), None, (name,), 1), name)
        return found(ctx)

    step.__name__ = step.__qualname__ = name
    return step


CHAIN: tuple[tuple[str, Step], ...] = (
    ("env", env_step),
    ("assume-role", _later("._roles", "assume_role_step")),
    ("assume-role-with-web-identity", _later("._roles", "web_identity_step")),
    ("sso", _later("._roles", "sso_step")),
    ("shared-credentials-file", shared_file_step),
    ("custom-process", process_step),
    ("config-file", config_file_step),
    ("container-role", _later("._metadata", "container_step")),
    ("iam-role", _later("._metadata", "imds_step")),
)


def resolve_chain(ctx: ChainContext) -> Flow[tuple[Source, Credentials]]:
    """Walk the chain; return the first source that applies and its first credentials."""
    tried: list[tuple[str, str]] = []
    for name, step in CHAIN:
        found = step(ctx)
        if isinstance(found, str):
            tried.append((name, found))
            continue
        if name != "iam-role":
            creds = yield from found.fetch()
            return found, creds
        try:
            creds = yield from found.fetch()
        except CredentialsRetrievalError as exc:  # IMDS is probed, not configured
            tried.append((name, exc.problem))
            continue
        return found, creds
    raise NoCredentialsError(tried)


class ChainSource:
    """The default chain as one source: resolved on first fetch, then the winner refetched.

    :meth:`prepare` reads the config files once (blocking) and builds the TLS context
    from ``AWS_CA_BUNDLE`` / ``ca_bundle``.
    """

    def __init__(
        self,
        profile_name: str | None = None,
        environ: Mapping[str, str] | None = None,
        *,
        clock: Clock = utcnow,
        container_retry_delay: float = 1.0,
    ) -> None:
        self._profile_name = profile_name
        self._environ = environ
        self._clock = clock
        self._container_retry_delay = container_retry_delay
        self._context: ChainContext | None = None
        self._ssl: ssl.SSLContext | None = None
        self.chosen: Source | None = None

    @property
    def name(self) -> str:
        return self.chosen.name if self.chosen is not None else "the default credential chain"

    def prepare(self) -> ssl.SSLContext:
        """The TLS context for the chain's HTTP requests (reads the config files first)."""
        if self._ssl is None:
            from ._provider import ssl_context

            self._ssl = ssl_context(ca_bundle(self._load_context()))
        return self._ssl

    def _load_context(self) -> ChainContext:
        """Read the config files once (blocking: a flow asks for it through ``Call``)."""
        if self._context is None:
            from .._config_files import ProfileNotFoundError, load_aws_config, select_profile

            environ = os.environ if self._environ is None else self._environ
            name, explicit = select_profile(self._profile_name, environ)
            config = load_aws_config(environ)
            if explicit and not config.has_profile(name):
                raise ProfileNotFoundError(name, config.config_file, config.credentials_file)
            context = ChainContext(
                environ=environ,
                config=config,
                profile_name=name,
                profile_from_argument=self._profile_name is not None,
                clock=self._clock,
                container_retry_delay=self._container_retry_delay,
            )
            self._context = context
        return self._context

    def fetch(self) -> Flow[Credentials]:
        if self.chosen is not None:
            return (yield from self.chosen.fetch())
        context = self._context
        if context is None:
            context = yield Call(self._load_context)
        source, creds = yield from resolve_chain(context)
        self.chosen = source
        return creds
