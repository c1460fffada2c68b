"""Bad input is a clear ParamValidationError or InvalidConfigError naming the parameter and
the rule, before anything is sent (issue 15): each test is named after the case."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from runtime_client import InvalidConfigError, ParamValidationError, SageMakerRuntime
from runtime_client._config import Config

KEYS: dict[str, Any] = {"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "secret"}
NOWHERE = "http://127.0.0.1:9"  # nothing listens: an error from the wire would be a connect error


def _client(**config: Any) -> SageMakerRuntime:
    return SageMakerRuntime(
        region_name="us-east-1", endpoint_url=NOWHERE, config=Config(**config), **KEYS
    )


def _refused(body: object, **params: Any) -> str:
    with _client() as client, pytest.raises(ParamValidationError) as info:
        client.invoke_endpoint(EndpointName="e", Body=body, **params)  # type: ignore[arg-type]
    return str(info.value)


def test_a_write_only_file_body_is_a_param_validation_error(tmp_path: Path) -> None:
    with open(tmp_path / "out.bin", "wb") as write_only:
        assert "Body: the file is not open for reading; open it with mode 'rb'" in _refused(
            write_only
        )


def test_a_closed_file_body_says_it_is_closed(tmp_path: Path) -> None:
    (tmp_path / "in.bin").write_bytes(b"data")
    with open(tmp_path / "in.bin", "rb") as handle:
        pass
    assert "Body: the file is closed" in _refused(handle)
    closed = io.BytesIO(b"x")
    closed.close()
    assert "Body: the file is closed" in _refused(closed)


def test_a_str_body_with_a_lone_surrogate_is_a_param_validation_error() -> None:
    message = _refused("ok \udcff")
    assert "Body: a str body must be text that UTF-8 can encode" in message
    assert "at position 3" in message


@pytest.mark.parametrize("member", ["ContentType", "Accept", "CustomAttributes", "InferenceId"])
def test_lone_surrogates_in_string_parameters_are_refused(member: str) -> None:
    assert f"{member}: must be ASCII only" in _refused(b"x", **{member: "a\ud800"})


@pytest.mark.parametrize(
    ("cert", "message"),
    [
        ("", "client_cert: a path must not be empty"),
        ("/", "client_cert: '/' is a folder, not a PEM file"),
        (("cert.pem", " "), "client_cert: a path must not be empty"),
        (("/", "key.pem"), "client_cert: '/' is a folder"),
        (42, "client_cert must be a path to a PEM file or a (cert_path, key_path) tuple"),
    ],
)
def test_client_cert_empty_or_a_folder_is_an_invalid_config_error(
    cert: object, message: str
) -> None:
    with pytest.raises(InvalidConfigError) as info:
        Config(client_cert=cert)  # type: ignore[arg-type]
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://", "a proxy URL needs a host"),
        ("ftp://proxy:21", "the proxy scheme must be http or https, not 'ftp'"),
        ("socks5://proxy:1080", "the proxy scheme must be http or https, not 'socks5': SOCKS"),
        ("http://proxy:notaport", "not a valid proxy URL"),
        ("http://proxy:0", "the proxy port must be from 1 to 65535"),
        ("http://[::1", "not a valid proxy URL"),
        ("http:// proxy:3128", "a proxy URL must not contain blanks"),
    ],
)
def test_odd_proxy_urls_are_invalid_config_errors_naming_the_key(
    url: str, rule: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(InvalidConfigError) as info:
        Config(proxies={"https": url})
    assert f"proxies['https']: {rule}" in str(info.value)
    monkeypatch.setenv("HTTPS_PROXY", url)
    with pytest.raises(InvalidConfigError) as from_env:
        SageMakerRuntime(region_name="us-east-1", **KEYS)
    assert f"environment variable HTTPS_PROXY: {rule}" in str(from_env.value)


def test_a_proxy_password_is_not_shown_in_the_error() -> None:
    with pytest.raises(InvalidConfigError) as info:
        Config(proxies={"https": "ftp://user:hunter2@proxy:21"})
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize("name", ["..", ".", ""])
def test_endpoint_name_dot_dot_with_validation_off_is_refused(name: str) -> None:
    with (
        _client(parameter_validation=False) as client,
        pytest.raises(ParamValidationError, match="EndpointName: must be a name"),
    ):
        client.invoke_endpoint(EndpointName=name, Body=b"x")
