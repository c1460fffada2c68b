"""A local InputLocation reads files only inside the data folder and the folders the
endpoint was allowed to read: every spelling of a path outside (absolute, file://,
``..``, percent-escapes, symbolic links) is a ValidationError, and nothing is read."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from runtime_client.cli._main import build_parser
from runtime_client.local import EndpointSettings, LocalEndpoint, serve
from tests.local.emulator import ACCEPTED, ASYNC, auth, error_of, local_path, wait_for_file


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("confinement")
    made = {name: root / name for name in ("data", "allowed", "outside")}
    for folder in made.values():
        folder.mkdir()
    (made["outside"] / "secret.txt").write_bytes(b"the user's secret")
    (made["data"] / "inside.txt").write_bytes(b"inside the data folder")
    (made["allowed"] / "shared.txt").write_bytes(b"in an allowed folder")
    # Links inside the readable folders that lead out, and one that stays inside
    (made["data"] / "link-out.txt").symlink_to(made["outside"] / "secret.txt")
    (made["data"] / "dir-out").symlink_to(made["outside"], target_is_directory=True)
    (made["data"] / "s3" / "bucket").mkdir(parents=True)
    (made["data"] / "s3" / "bucket" / "key").symlink_to(made["outside"] / "secret.txt")
    (made["allowed"] / "link-in.txt").symlink_to(made["allowed"] / "shared.txt")
    return made


@pytest.fixture(scope="module")
def endpoint(folders: dict[str, Path]) -> Iterator[LocalEndpoint]:
    with serve(
        credentials=ACCEPTED, data_dir=folders["data"], readable_dirs=[folders["allowed"]]
    ) as running:
        yield running


def _outside_spellings(folders: dict[str, Path]) -> list[str]:
    secret = folders["outside"] / "secret.txt"
    data = folders["data"]
    dotted = f"{data}/../outside/secret.txt"
    escaped = data.as_uri() + "/%2e%2e/outside/secret.txt"
    return [
        str(secret),  # absolute
        secret.as_uri(),  # file://
        "file://localhost" + secret.as_posix(),  # file://localhost/
        dotted,  # .. from inside the data folder
        "file://" + dotted,
        escaped,  # percent-escaped ..
        data.as_uri() + "/..%2Foutside%2Fsecret.txt",  # an escaped slash too
        str(data / "link-out.txt"),  # a file link leading out
        str(data / "dir-out" / "secret.txt"),  # a folder link leading out
        "s3://bucket/key",  # an S3 key whose file is a link leading out
        "/etc/passwd",
        "file:///etc/passwd",
    ]


def _post(endpoint: LocalEndpoint, location: str) -> httpx.Response:
    with httpx.Client(base_url=endpoint.url, auth=auth()) as client:
        return client.post(ASYNC, headers={"X-Amzn-SageMaker-InputLocation": location})


def test_no_spelling_of_a_path_outside_is_read(
    endpoint: LocalEndpoint, folders: dict[str, Path]
) -> None:
    for location in _outside_spellings(folders):
        response = _post(endpoint, location)
        status, code, body = error_of(response)
        assert (status, code) == (400, "ValidationError"), (location, response.text)
        assert "the user's secret" not in response.text, location
        message = body["Message"]
        assert "data folder" in message or "leads out" in message, (location, message)


def test_files_inside_the_data_folder_and_the_allowed_folders_are_read(
    endpoint: LocalEndpoint, folders: dict[str, Path]
) -> None:
    cases = {
        str(folders["data"] / "inside.txt"): b"inside the data folder",
        (folders["data"] / "inside.txt").as_uri(): b"inside the data folder",
        str(folders["allowed"] / "shared.txt"): b"in an allowed folder",
        str(folders["allowed"] / "link-in.txt"): b"in an allowed folder",  # a link within
        f"{folders['allowed']}/../allowed/shared.txt": b"in an allowed folder",
    }
    for location, expected in cases.items():
        response = _post(endpoint, location)
        assert response.status_code == 202, (location, response.text)
        output = local_path(response.headers["X-Amzn-SageMaker-OutputLocation"])
        assert wait_for_file(output).read_bytes() == expected, location


def test_a_symlink_loop_is_a_validation_error(
    endpoint: LocalEndpoint, folders: dict[str, Path]
) -> None:
    loop = folders["data"] / "loop"
    if not loop.is_symlink():
        loop.symlink_to(loop)
    status, code, _ = error_of(_post(endpoint, str(loop)))
    assert (status, code) == (400, "ValidationError")


def test_readable_dirs_are_checked_when_the_settings_are_made(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"readable_dirs: .*missing.* is not an existing folder"):
        EndpointSettings(readable_dirs=[tmp_path / "missing"])
    with pytest.raises(ValueError, match="readable_dirs must be a sequence of folders"):
        EndpointSettings(readable_dirs=str(tmp_path))
    settings = EndpointSettings(readable_dirs=[str(tmp_path)])
    assert settings.readable_dirs == (tmp_path.resolve(),)


def test_serve_local_takes_allow_read_folders(tmp_path: Path) -> None:
    args = build_parser().parse_args(
        ["serve-local", "--allow-read", str(tmp_path), "--allow-read", os.curdir]
    )
    assert args.allow_read == [str(tmp_path), os.curdir]
    assert build_parser().parse_args(["serve-local"]).allow_read == []
