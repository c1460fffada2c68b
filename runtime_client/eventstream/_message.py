"""Event-stream messages and header values: what the encoder takes and the decoder gives.

Header values never appear in exception messages, and bytes values never in reprs (a
``:chunk-signature`` header carries a signature).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import TypeAlias, cast

from sigv4._record import field, record

from ._errors import InvalidMessageError
from ._format import INTS, HeaderType

__all__ = [
    "EMPTY_HEADERS",
    "EMPTY_TYPED",
    "EventStreamHeaders",
    "EventStreamMessage",
    "HeaderInput",
    "HeaderValue",
    "PlainHeaderValue",
    "safe_repr",
]


PlainHeaderValue: TypeAlias = bool | int | bytes | str | datetime | uuid.UUID
"""A header value as plain Python, the way :attr:`EventStreamMessage.headers` gives it."""

_OTHER_RULES = {
    HeaderType.TRUE: "True",
    HeaderType.FALSE: "False",
    HeaderType.BYTES: "bytes",
    HeaderType.STRING: "a str",
    HeaderType.TIMESTAMP: "a timezone-aware datetime",
    HeaderType.UUID: "a uuid.UUID",
}


def _natural_type(value: object) -> HeaderType | None:
    """The wire type a plain non-int value maps to, or None."""
    if value is True or value is False:
        return HeaderType.TRUE if value else HeaderType.FALSE
    if isinstance(value, str):
        return HeaderType.STRING
    if isinstance(value, (bytes, bytearray, memoryview)):
        return HeaderType.BYTES
    if isinstance(value, datetime) and value.utcoffset() is not None:
        return HeaderType.TIMESTAMP
    if isinstance(value, uuid.UUID):
        return HeaderType.UUID
    return None


@record(frozen=True, slots=True)
class HeaderValue:
    """A header value with an explicit wire type.

    Plain Python values map to a type on their own (see :func:`encode_headers`); use this
    to choose another, e.g. ``HeaderValue(HeaderType.INT16, 7)`` or ``HeaderValue.int16(7)``.
    ``value`` must be an int in range for the INT types, and otherwise what maps to the
    type: True, False, bytes (a bytearray or memoryview is copied), a str, a timezone-aware
    datetime, a uuid.UUID. Raises :class:`InvalidMessageError`.
    """

    type: HeaderType
    value: PlainHeaderValue

    def __post_init__(self) -> None:
        kind, value = self.type, cast(object, self.value)  # callers may pass anything
        if not isinstance(kind, HeaderType):
            raise InvalidMessageError("HeaderValue.type must be a HeaderType")
        if kind in INTS:
            _, low, high = INTS[kind]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise InvalidMessageError(
                    f"a {kind.name} header value must be an int in {low}..{high}"
                )
        elif _natural_type(value) is not kind:
            raise InvalidMessageError(f"a {kind.name} header value must be {_OTHER_RULES[kind]}")
        elif isinstance(value, (bytearray, memoryview)):
            object.__setattr__(self, "value", bytes(value))

    def __repr__(self) -> str:
        return f"HeaderValue({self.type.name}, {safe_repr(self.value)})"

    @classmethod
    def int8(cls, value: int) -> HeaderValue:
        return cls(HeaderType.INT8, value)

    @classmethod
    def int16(cls, value: int) -> HeaderValue:
        return cls(HeaderType.INT16, value)

    @classmethod
    def int32(cls, value: int) -> HeaderValue:
        return cls(HeaderType.INT32, value)

    @classmethod
    def int64(cls, value: int) -> HeaderValue:
        return cls(HeaderType.INT64, value)


HeaderInput: TypeAlias = PlainHeaderValue | HeaderValue | bytearray | memoryview
"""What the encoder accepts as a header value."""

EventStreamHeaders: TypeAlias = Mapping[str, HeaderInput] | Iterable[tuple[str, HeaderInput]]
"""Headers for the encoder: a mapping, or (name, value) pairs in wire order."""


def safe_repr(value: object) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    return repr(value)


EMPTY_HEADERS: Mapping[str, PlainHeaderValue] = MappingProxyType({})
EMPTY_TYPED: Mapping[str, HeaderValue] = MappingProxyType({})


def _empty_typed() -> Mapping[str, HeaderValue]:
    return EMPTY_TYPED


@record(frozen=True, slots=True)
class EventStreamMessage:
    """One decoded message.

    ``headers`` maps each name to its plain Python value, in wire order; ``typed_headers``
    keeps each wire type too (an INT8 and an INT32 look alike in ``headers``), so that
    ``encode_message(m.typed_headers, m.payload)`` gives back the exact bytes. Both are
    read-only mappings. ``typed_headers`` does not take part in equality.
    """

    headers: Mapping[str, PlainHeaderValue]
    payload: bytes
    typed_headers: Mapping[str, HeaderValue] = field(default_factory=_empty_typed, compare=False)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name!r}: {safe_repr(v)}" for name, v in self.headers.items())
        return f"EventStreamMessage(headers={{{shown}}}, payload=<{len(self.payload)} bytes>)"

    def _str_header(self, name: str) -> str | None:
        value = self.headers.get(name)
        return value if isinstance(value, str) else None

    @property
    def message_type(self) -> str | None:
        """``:message-type``: ``event``, ``exception`` or ``error``."""
        return self._str_header(":message-type")

    @property
    def event_type(self) -> str | None:
        """``:event-type`` of an event, e.g. ``PayloadPart``."""
        return self._str_header(":event-type")

    @property
    def exception_type(self) -> str | None:
        """``:exception-type`` of an exception, e.g. ``ModelStreamError``."""
        return self._str_header(":exception-type")

    @property
    def content_type(self) -> str | None:
        return self._str_header(":content-type")

    @property
    def error_code(self) -> str | None:
        """``:error-code`` of an ``error`` message."""
        return self._str_header(":error-code")

    @property
    def error_message(self) -> str | None:
        """``:error-message`` of an ``error`` message."""
        return self._str_header(":error-message")
