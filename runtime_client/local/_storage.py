"""Local stand-ins for the S3 locations of InvokeEndpointAsync.

Layout of the data folder (``data_dir``)::

    data_dir/
      s3/                                   stands in for S3: s3://BUCKET/KEY is s3/BUCKET/KEY
        sagemaker-local/                    the emulator's output bucket
          async-output/[EXTENSION/]NAME     results      (NAME: Filename, else <uuid>.out)
          async-failures/[EXTENSION/]NAME-error.out      failures (the error message)

``InputLocation`` may be::

    s3://BUCKET/KEY                              data_dir/s3/BUCKET/KEY
    https://BUCKET.s3[.REGION].amazonaws.com/KEY the same (virtual-hosted S3 URL)
    https://s3[.REGION].amazonaws.com/BUCKET/KEY the same (path-style S3 URL)
    file:///ABSOLUTE/PATH or /ABSOLUTE/PATH      a local file inside ``data_dir`` (or a
                                                 folder named by ``readable_dirs``)

S3 locations never leave ``data_dir/s3``, and local files never leave ``data_dir`` and the
``readable_dirs``: the check is made on the path with every ``..``, percent-escape and
symbolic link resolved, so no spelling of a path reaches a file outside (the endpoint's
published demo key works for any process on the machine, which must not make it a way to
read the user's files). Results are written to a temporary name and renamed, so a client
polling for the output never reads half a file.
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

__all__ = ["ASYNC_BUCKET", "InputLocationError", "LocalStore", "LocationStyle", "is_local_location"]

ASYNC_BUCKET = "sagemaker-local"
LocationStyle = Literal["file", "s3"]

_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}\Z")
_VIRTUAL_HOST = re.compile(r"(?P<bucket>.+?)\.s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com\Z")
_PATH_HOST = re.compile(r"s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com\Z")


class InputLocationError(ValueError):
    """An InputLocation the emulator cannot read; ``str()`` is the message for the caller."""


def is_local_location(location: str) -> bool:
    """Whether ``location`` is a ``file://`` URL or an absolute local path (which the
    service model's pattern, ``s3://`` or ``https://`` only, would refuse)."""
    return location.startswith("file://") or os.path.isabs(location)


def _segments(key: str, what: str) -> list[str]:
    parts = [part for part in key.split("/") if part]
    if not parts:
        raise InputLocationError(f"{what} has no object key")
    if any(part in (".", "..") for part in parts):
        raise InputLocationError(f"{what} must not contain '.' or '..' path segments")
    return parts


class LocalStore:
    """Maps S3 locations into ``root/s3`` and writes async results (see the module docs)."""

    def __init__(
        self,
        root: Path,
        style: LocationStyle = "file",
        readable: Sequence[str | os.PathLike[str]] = (),
    ) -> None:
        if style not in ("file", "s3"):
            raise ValueError(f"location style must be 'file' or 's3', not {style!r}")
        self.root = Path(root).resolve()
        self.s3_root = self.root / "s3"
        self.style: LocationStyle = style
        #: Where a local InputLocation may point: the data folder and ``readable``.
        self.readable = (self.root, *(Path(folder).resolve() for folder in readable))

    def s3_path(self, bucket: str, key: str) -> Path:
        """The local file standing in for ``s3://bucket/key``."""
        where = f"s3://{bucket}/{key}"
        if not _BUCKET.match(bucket) or bucket in (".", ".."):
            raise InputLocationError(f"{where}: {bucket!r} is not a bucket name")
        path = self.s3_root.joinpath(bucket, *_segments(key, where))
        path.resolve().relative_to(self.s3_root)  # a symlink may still lead out: refuse it
        return path

    def resolve_input(self, location: str) -> Path:
        """The local file an InputLocation names; raise :class:`InputLocationError`."""
        if location.startswith("file://"):
            parts = urlsplit(location)
            if parts.netloc not in ("", "localhost"):
                raise InputLocationError(f"{location}: a file:// URL must name a local file")
            path = self._confined(location, Path(url2pathname(parts.path)))
        elif os.path.isabs(location):
            path = self._confined(location, Path(location))
        elif location.startswith("s3://"):
            bucket, _, key = location[5:].partition("/")
            path = self._s3_checked(bucket, key)
        elif location.startswith("https://"):
            parts = urlsplit(location)
            host = (parts.hostname or "").lower()
            virtual = _VIRTUAL_HOST.match(host)
            if virtual:
                path = self._s3_checked(virtual.group("bucket"), unquote(parts.path))
            elif _PATH_HOST.match(host):
                bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
                path = self._s3_checked(bucket, key)
            else:
                raise InputLocationError(
                    f"{location}: the local emulator reads https:// input locations only in "
                    "the form of S3 URLs (https://BUCKET.s3.REGION.amazonaws.com/KEY)"
                )
        else:
            raise InputLocationError(f"{location}: not an s3://, https://, file:// or local path")
        if not path.is_file():
            raise InputLocationError(
                f"Could not read the input at {location}: no such file ({path})"
            )
        return path

    def _confined(self, location: str, path: Path) -> Path:
        """``path`` resolved, if it lies inside a readable folder."""
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL
            raise InputLocationError(f"{location}: not a path that can be read") from None
        if any(resolved.is_relative_to(folder) for folder in self.readable):
            return resolved
        raise InputLocationError(
            f"{location}: the local endpoint reads local files only inside its data folder "
            f"({self.root}) and the folders it was allowed to read (readable_dirs, "
            "--allow-read)"
        )

    def _s3_checked(self, bucket: str, key: str) -> Path:
        try:
            return self.s3_path(bucket, key)
        except ValueError as exc:  # relative_to: a symlink leading out of the folder
            if isinstance(exc, InputLocationError):
                raise
            raise InputLocationError(f"s3://{bucket}/{key} leads out of the S3 folder") from None

    def output_paths(self, filename: str | None, extension: str | None) -> tuple[Path, Path]:
        """Where the result and the failure of one async invocation go."""
        name = filename if filename else f"{uuid.uuid4()}.out"
        failure = f"{name.removesuffix('.out')}-error.out"
        extra = _segments(extension, "S3OutputPathExtension") if extension else []
        bucket = self.s3_root / ASYNC_BUCKET
        return (
            bucket.joinpath("async-output", *extra, name),
            bucket.joinpath("async-failures", *extra, failure),
        )

    def location(self, path: Path) -> str:
        """``path`` as the caller sees it: a file:// URL or an s3:// URI."""
        if self.style == "file":
            return path.resolve().as_uri()
        key = path.relative_to(self.s3_root).as_posix()
        return f"s3://{key}"

    @staticmethod
    def write_atomic(path: Path, data: bytes) -> None:
        """Write ``data`` to ``path`` so that readers see nothing or all of it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
