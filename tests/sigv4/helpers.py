"""What the signer tests share: a key pair with a session token, a fixed time, an
InvokeEndpoint URL, signing parameters."""

from __future__ import annotations

from datetime import datetime, timezone

from sigv4 import (
    Credentials,
    SigningParams,
    SigningResult,
    SigningSettings,
)

AKID = "AKIDEXAMPLE"


SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


TOKEN = "FwoGZXIvYXdzEXAMPLETOKEN/with+slash=="


T0 = datetime(2026, 11, 28, 3, 4, 5, tzinfo=timezone.utc)


HOST = "runtime.sagemaker.us-east-1.amazonaws.com"


URL = f"https://{HOST}/endpoints/my-endpoint/invocations"


def params(
    credentials: Credentials | None = None,
    settings: SigningSettings | None = None,
    time: datetime = T0,
) -> SigningParams:
    return SigningParams(
        credentials=credentials or Credentials(AKID, SECRET, session_token=TOKEN),
        region="us-east-1",
        service="sagemaker",
        time=time,
        settings=settings or SigningSettings(),
    )


def canonical_lines(result: SigningResult) -> list[str]:
    return result.canonical_request.text.split("\n")
