"""``--output json|text|table``, ``--query`` and ``--cli-input-json``: what we print equals
what the AWS CLI prints for the same answer. The AWS CLI (version 1, from the package
index, in a virtual environment the test run makes) and our command line call the same
local endpoint; the renderer is also checked on its own against answers the AWS CLI
printed (recorded below), nested and wide ones included."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime_client.cli._output import compile_query, render
from runtime_client.local import DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY, LocalEndpoint, serve
from tests.cli.helpers import CLI, REGION, assert_clean_error, clean_env, run_cli
from tests.support.venvs import venv_with

pytest.importorskip("jmespath", reason="--query needs jmespath (it comes with botocore)")

QUERIES = [
    None,
    "ContentType",
    "[ContentType,InvokedProductionVariant]",
    "{a: ContentType, n: {x: ContentType, y: [ContentType]}}",
    "[{a: ContentType}, {a: InvokedProductionVariant, b: ContentType}]",
    "Missing",
    "{k: [ContentType, InvokedProductionVariant]}",
    "{x: `1`, y: `true`, z: `null`}",
    "{wide: join('', [ContentType,ContentType,ContentType,ContentType,ContentType,"
    "ContentType,ContentType,ContentType,ContentType]), other: ContentType}",
    "{a: ContentType, l: [{x: ContentType, y: {z: ContentType}}, {x: InvokedProductionVariant}]}",
]


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``aws`` command of a new virtual environment holding the AWS CLI."""
    folder = tmp_path_factory.mktemp("awscli")
    return venv_with(folder, sys.executable, ("awscli",)) / "aws"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[LocalEndpoint]:
    with serve() as running:
        yield running


def _env(aws_files: Path) -> dict[str, str]:
    return clean_env(aws_files, keys=(DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY))


@pytest.mark.parametrize("output", ["json", "text", "table"])
def test_invoke_endpoint_prints_what_aws_prints(
    aws: Path, endpoint: LocalEndpoint, aws_files: Path, tmp_path: Path, output: str
) -> None:
    """Both commands, whole, against the local endpoint: the answer and a nested query."""
    env = _env(aws_files)
    for query in (None, QUERIES[3]):
        tail = ["--output", output] + (["--query", query] if query else [])
        call = [
            "--endpoint-url", endpoint.url, "--region", REGION, "sagemaker-runtime",
            "invoke-endpoint", "--endpoint-name", "e", "--body", "hi", "--content-type",
            "text/plain", str(tmp_path / "theirs.bin"), *tail,
        ]  # fmt: skip
        theirs = subprocess.run(
            [str(aws), *call], env=env, capture_output=True, text=True, timeout=60
        )
        assert theirs.returncode == 0, theirs.stderr
        # The same arguments, without the AWS CLI's service name and with our own OUTFILE.
        ours = subprocess.run(
            [*CLI, *call[:4], *call[5 : -len(tail) - 1], str(tmp_path / "ours.bin"), *tail],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert ours.returncode == 0, ours.stderr
        assert ours.stdout == theirs.stdout, (query, output)


# Every query and format through the AWS CLI's own formatters, in one process of its venv
# (the command above adds only the call around them).
_FORMATTERS = """
import io, json, sys
import jmespath
from awscli.formatter import get_formatter
members = json.loads(sys.argv[1])
out = {}
for query in json.loads(sys.argv[2]):
    for output in ("json", "text", "table"):
        args = type("Args", (), {"query": jmespath.compile(query) if query else None,
                                 "color": "off"})()
        stream = io.StringIO()
        get_formatter(output, args)("InvokeEndpoint", dict(members), stream)
        out[f"{output} {query}"] = stream.getvalue()
print(json.dumps(out))
"""


def test_every_query_and_format_as_the_aws_cli_formats_it(aws: Path) -> None:
    members = {"ContentType": "text/plain", "InvokedProductionVariant": "AllTraffic"}
    ran = subprocess.run(
        [str(aws.parent / "python"), "-c", _FORMATTERS, json.dumps(members), json.dumps(QUERIES)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    theirs = json.loads(ran.stdout)
    for query in QUERIES:
        compiled = compile_query(query) if query else None
        for output in ("json", "text", "table"):
            ours = render(members, output, "InvokeEndpoint", compiled, width=80)
            assert ours == theirs[f"{output} {query}"], (output, query)


# Answers the AWS CLI 1.46 printed for these members (recorded).
MEMBERS = {"ContentType": "text/plain", "InvokedProductionVariant": "AllTraffic"}
RECORDED = {
    ("text", None): "text/plain\tAllTraffic\n",
    ("table", None): (
        "---------------------------------------------\n"
        "|              InvokeEndpoint               |\n"
        "+--------------+----------------------------+\n"
        "|  ContentType | InvokedProductionVariant   |\n"
        "+--------------+----------------------------+\n"
        "|  text/plain  |  AllTraffic                |\n"
        "+--------------+----------------------------+\n"
    ),
    ("json", "ContentType"): '"text/plain"\n',
    ("text", "ContentType"): "text/plain\n",
    ("table", "ContentType"): "----------------\n|InvokeEndpoint|\n+--------------+\n",
    ("json", None): '{\n    "ContentType": "text/plain",\n    "InvokedProductionVariant": '
    '"AllTraffic"\n}\n',
}


@pytest.mark.parametrize(("output", "query"), list(RECORDED))
def test_the_renderer_against_recorded_aws_answers(output: str, query: str | None) -> None:
    compiled = compile_query(query) if query else None
    assert render(MEMBERS, output, "InvokeEndpoint", compiled, width=80) == RECORDED[output, query]


def test_a_table_wider_than_the_terminal_turns_one_row_sections_on_their_side() -> None:
    wide = {"A": "x" * 50, "B": "y" * 50}
    assert render(wide, "table", "T", width=200).count("\n") == 7  # header row, value row
    turned = render(wide, "table", "T", width=80)
    assert f"|  A|  {'x' * 50}   |" in turned.splitlines()
    assert turned.splitlines()[0] == "-" * len(turned.splitlines()[1])


def test_cli_input_json_gives_the_parameters_and_options_win(
    endpoint: LocalEndpoint, aws_files: Path, tmp_path: Path
) -> None:
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"EndpointName": "e", "Body": "from json", "Accept": "a/b"}))
    result = run_cli(
        f"--endpoint-url {endpoint.url} --region {REGION} invoke-endpoint "
        f"--cli-input-json file://{params} --body 'from the option' -",
        env=_env(aws_files),
    )
    assert result.code == 0, result.stderr
    assert result.stdout == b"from the option"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ("--cli-input-json '[1]'", "--cli-input-json: must be a JSON object"),
        ("--cli-input-json '{\"Nope\": 1}'", "unknown parameter(s) Nope for InvokeEndpoint"),
        ("--cli-input-json 'not json'", "--cli-input-json: not valid JSON"),
        ("--cli-input-json '{}'", "the following arguments are required: --endpoint-name, --body"),
        ("--endpoint-name e --body x --query '[['", "Bad value for --query [["),
    ],
)
def test_bad_input_json_or_query_is_a_usage_error_before_anything_is_sent(
    endpoint: LocalEndpoint, aws_files: Path, arguments: str, message: str
) -> None:
    result = run_cli(
        f"--endpoint-url {endpoint.url} --region {REGION} invoke-endpoint {arguments} -",
        env=_env(aws_files),
    )
    assert_clean_error(result, 2)
    assert message in result.stderr
