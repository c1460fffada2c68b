"""Clock skew: telling a signature refused for our clock from other refusals, and learning
the server's clock from an answer's ``Date`` header (pure; the flow applies it).

The offset learned is bounded by :data:`MAX_SKEW` (24 hours): SigV4 accepts a request
within 5 minutes of the server's clock, and a real client clock (a laptop back from sleep,
a VM restored from a snapshot, a container without NTP) can be hours off; a ``Date`` more
than a day from ours is far likelier a broken or hostile server or proxy, and learning it
would move every later signature (and the retry ``ttl``) to that time. Beyond the bound,
or unparseable, a ``Date`` teaches nothing and the error is raised as it came.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Final

from sigv4._record import field, record

__all__ = ["MAX_SKEW", "ClockSkew", "is_clock_skew_error", "skew_from_date_header"]

#: The largest server-minus-local offset learned from a ``Date`` header (see above).
MAX_SKEW: Final = timedelta(hours=24)

_SKEW_CODES = frozenset({"RequestTimeTooSkewed", "RequestExpired", "RequestInTheFuture"})
_SKEW_MESSAGES = ("Signature expired", "Signature not yet current")


@record
class ClockSkew:
    """The offset (server clock minus local clock) learned from a skew error; per client.

    Writing one float is atomic, so a sync client shared by threads needs no lock here.
    """

    offset: timedelta = field(default_factory=timedelta)


def is_clock_skew_error(status: int, error: dict[str, Any]) -> bool:
    """A signature refused because our clock is off (boto3 never corrects this)."""
    code = error.get("Error", {}).get("Code", "")
    message = str(error.get("Error", {}).get("Message", ""))
    if code in _SKEW_CODES:
        return True
    return (
        status == 403
        and code in ("InvalidSignatureException", "403")
        and any(text in message for text in _SKEW_MESSAGES)
    )


def skew_from_date_header(date_header: str | None, local_now: datetime) -> timedelta | None:
    """Server time (from an HTTP ``Date`` header) minus ``local_now``; None if the header
    is missing, unparseable, or further than :data:`MAX_SKEW` from ``local_now``."""
    if not date_header:
        return None
    import email.utils  # only on an error answer: not worth its import time up front

    try:
        server = email.utils.parsedate_to_datetime(date_header)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if server.tzinfo is None:
        server = server.replace(tzinfo=timezone.utc)
    try:
        skew = server - local_now
    except OverflowError:  # pragma: no cover - datetimes within range always subtract
        return None
    return skew if abs(skew) <= MAX_SKEW else None
