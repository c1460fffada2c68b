"""Records in, results out: what one record of a batch is, and how a result is written.

A record is what ``invoke_endpoint`` gets for one item of the input: the batch's shared
parameters (``EndpointName``, ``ContentType``, ...) under the item's own. An item is
``bytes`` or ``str`` (the ``Body``), or a mapping of ``invoke_endpoint`` parameters that
holds ``Body``, and may hold ``id`` (any JSON value, written back with the result). Each
record also has its position in the input, counted from 0: its ``index``.

Input lines (``records.jsonl``, ``-``): a JSON object holding ``"Body"`` is such a mapping
(a ``Body`` that is not a string is sent as its compact JSON); any other line is the body
itself, its bytes as they are (so a file of model inputs, one JSON document a line, works
unchanged). Blank lines are not records. A folder: each regular file, by name (hidden
ones left out), is one record whose ``id`` is its name and whose body is its bytes.

A result is one JSON line, written whole (one ``write``)::

    {"index": 0, "id": ..., "ContentType": "...", "InvokedProductionVariant": "...",
     "RequestId": "...", "Body": "<the answer as text>"}        (or "BodyBase64": "...")
    {"index": 1, "id": ..., "Error": {"Code": "ModelError", "Message": "..."},
     "HTTPStatusCode": 424, "RequestId": "..."}

so that every record of the input appears exactly once in a complete output, and
:func:`read_done` can tell which records an output already holds after a crash.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from sigv4._record import record

__all__ = [
    "BatchRecord",
    "BatchResult",
    "DoneSet",
    "answer_members",
    "as_record",
    "count_line_records",
    "file_records",
    "folder_names",
    "folder_records",
    "line_records",
    "make_record",
    "read_done",
    "records_from",
    "result_line",
]

#: Members of an answer copied into its result line, in this order.
_ANSWER_MEMBERS = ("ContentType", "InvokedProductionVariant", "CustomAttributes", "NewSessionId")


@record(frozen=True, slots=True)
class BatchRecord:
    """One call to make: its position in the input, its id, and its parameters; or, with
    ``problem`` set, an input item that cannot be sent (its result is that error)."""

    index: int
    id: Any
    params: Mapping[str, Any]
    problem: str | None = None


@record(frozen=True, slots=True)
class BatchResult:
    """How one record ended: the answer (``body`` and ``response``: the answer's members and
    ``ResponseMetadata``) or the error (``error``: ``Code``, ``Message``, and the
    ``HTTPStatusCode`` when the service answered). ``rounds``: how many times the batch
    sent it (a throttled record, or one that could not connect, is sent again, each time
    through the client's retries)."""

    index: int
    id: Any
    body: bytes | None
    response: Mapping[str, Any] | None
    error: Mapping[str, Any] | None
    rounds: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None


def make_record(index: int, item: object, shared: Mapping[str, Any]) -> BatchRecord:
    """The record for ``item``; one with a ``problem`` if it is not a record."""
    if isinstance(item, (bytes, bytearray, memoryview, str)):
        return BatchRecord(index, None, {**shared, "Body": item})
    if isinstance(item, Mapping):
        own = dict(item)
        record_id = own.pop("id", None)
        if "Body" not in own:
            return BatchRecord(index, record_id, {}, "a record mapping must hold Body")
        return BatchRecord(index, record_id, {**shared, **own})
    kind = type(item).__name__
    return BatchRecord(index, None, {}, f"a record must be bytes, str or a mapping, not {kind}")


def as_record(index: int, item: object, shared: Mapping[str, Any]) -> BatchRecord:
    """Item ``index`` of the input as a record (a :class:`BatchRecord` is taken as it is)."""
    return item if isinstance(item, BatchRecord) else make_record(index, item, shared)


def records_from(items: Iterable[object], shared: Mapping[str, Any]) -> Iterator[BatchRecord]:
    """The records of ``items``, numbered from 0."""
    for index, item in enumerate(items):
        yield as_record(index, item, shared)


def answer_members(answer: Mapping[str, Any]) -> dict[str, Any]:
    """An InvokeEndpoint answer without its ``Body`` (a result keeps the body's bytes)."""
    return {k: v for k, v in answer.items() if k != "Body"}


def _line_item(line: bytes) -> object:
    if line.startswith(b"{"):
        try:
            parsed = json.loads(line)
        except ValueError:
            return line
        if isinstance(parsed, dict) and "Body" in parsed:
            body = parsed["Body"]
            if not isinstance(body, str):
                parsed["Body"] = json.dumps(body, separators=(",", ":"))
            return parsed
    return line


def line_records(lines: Iterable[bytes], shared: Mapping[str, Any]) -> Iterator[BatchRecord]:
    """Records from JSON lines (see the module): one per non-blank line, in order."""
    index = 0
    for raw in lines:
        if not raw.strip():
            continue
        yield make_record(index, _line_item(raw.rstrip(b"\r\n")), shared)
        index += 1


def count_line_records(stream: IO[bytes]) -> int:
    """How many records :func:`line_records` finds in ``stream`` (read to its end)."""
    return sum(1 for raw in iter(stream.readline, b"") if raw.strip())


def file_records(stream: IO[bytes], shared: Mapping[str, Any]) -> Iterator[BatchRecord]:
    """:func:`line_records` of a binary stream, read line by line."""
    return line_records(iter(stream.readline, b""), shared)


def folder_names(folder: str) -> list[str]:
    """The names of the record files of ``folder``: its regular files but hidden ones, sorted."""
    with os.scandir(folder) as entries:
        return sorted(e.name for e in entries if e.is_file() and not e.name.startswith("."))


def folder_records(
    folder: str, shared: Mapping[str, Any], names: list[str] | None = None
) -> Iterator[BatchRecord]:
    """One record per file of :func:`folder_names` (or ``names``, listed before); each
    file is read when its turn comes (only the names are held)."""
    for index, name in enumerate(folder_names(folder) if names is None else names):
        with open(os.path.join(folder, name), "rb") as file:
            body = file.read()
        yield BatchRecord(index, name, {**shared, "Body": body})


def result_line(result: BatchResult) -> bytes:
    """The result as one JSON line (see the module), ending in a newline."""
    line: dict[str, Any] = {"index": result.index, "id": result.id}
    metadata: Mapping[str, Any] = {}
    if result.error is not None:
        line["Error"] = {"Code": result.error["Code"], "Message": result.error["Message"]}
        if result.error.get("HTTPStatusCode") is not None:
            line["HTTPStatusCode"] = result.error["HTTPStatusCode"]
        metadata = result.error.get("ResponseMetadata") or {}
    if result.response is not None:
        for name in _ANSWER_MEMBERS:
            if name in result.response:
                line[name] = result.response[name]
        metadata = result.response.get("ResponseMetadata") or {}
    if metadata.get("RequestId"):
        line["RequestId"] = metadata["RequestId"]
    if result.rounds > 1:
        line["Rounds"] = result.rounds
    if result.body is not None:
        try:
            line["Body"] = result.body.decode("utf-8")
        except UnicodeDecodeError:
            line["BodyBase64"] = base64.b64encode(result.body).decode("ascii")
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


class DoneSet:
    """The indexes an output already holds, one bit each (memory ~ records / 8 bytes)."""

    def __init__(self) -> None:
        self._bits = bytearray()
        self.count = 0

    def add(self, index: int) -> None:
        byte, bit = divmod(index, 8)
        if byte >= len(self._bits):
            self._bits.extend(bytes(byte + 1 - len(self._bits)))
        if not self._bits[byte] >> bit & 1:
            self._bits[byte] |= 1 << bit
            self.count += 1

    def __contains__(self, index: object) -> bool:
        if not isinstance(index, int) or index < 0:
            return False
        byte, bit = divmod(index, 8)
        return byte < len(self._bits) and bool(self._bits[byte] >> bit & 1)


def read_done(path: str) -> tuple[DoneSet, int]:
    """What the output at ``path`` holds: the indexes of its complete result lines, and the
    length of its complete part (a line cut by a crash, the last one, is not complete: the
    caller truncates the file there before appending)."""
    done, good = DoneSet(), 0
    with open(path, "rb") as file:
        for line in iter(file.readline, b""):
            if not line.endswith(b"\n"):
                break
            try:
                parsed = json.loads(line)
                index = parsed["index"]
            except (ValueError, KeyError, TypeError):
                break  # not ours, or damaged: nothing after it is trusted
            if not isinstance(index, int):
                break
            done.add(index)
            good += len(line)
    return done, good


def drop_error_lines(path: str) -> tuple[DoneSet, int]:
    """Rewrite the output at ``path`` without its error results (``--retry-errors``), so
    that those records are sent again and each one still appears once: the indexes it
    then holds (as :func:`read_done` gives them) and how many were dropped. The complete
    part of the output is kept otherwise as it was, in its order, and a line cut by a crash
    goes. The new file replaces the old one in one step: a crash meanwhile leaves the old
    one whole."""
    _, good = read_done(path)
    done, dropped = DoneSet(), 0
    temporary = f"{path}.retry-errors"
    with open(path, "rb") as source, open(temporary, "wb") as kept:
        while good > 0:  # bounded: each line read takes its length off the good part
            line = source.readline()
            good -= len(line)
            parsed = json.loads(line)  # read_done found it whole and ours
            if "Error" in parsed:
                dropped += 1
            else:
                kept.write(line)
                done.add(parsed["index"])
        kept.flush()
        os.fsync(kept.fileno())
    os.replace(temporary, path)
    return done, dropped
