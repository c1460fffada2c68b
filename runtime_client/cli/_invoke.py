"""What an operation's command does (``invoke-endpoint`` and its siblings): merge
``--cli-input-json`` under the options, check the required ones, call the client, write
the body to OUTFILE, print the other members as ``--output`` and ``--query`` say
(``_output``). The parser that builds these commands is in ``_main``."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import IO, TYPE_CHECKING, Any

from .._model import (
    INVOKE_ENDPOINT,
    INVOKE_ENDPOINT_ASYNC,
    INVOKE_ENDPOINT_WITH_RESPONSE_STREAM,
    Operation,
)
from ._errors import EXIT_OK
from ._output import FORMATS, compile_query, render

if TYPE_CHECKING:
    from .._client import SageMakerRuntime

__all__ = ["Command", "invoker", "kebab_case", "load_blob", "make_client"]

Command = Callable[[argparse.Namespace], int]


def kebab_case(name: str) -> str:
    """``RequestTTLSeconds`` -> ``request-ttl-seconds`` (botocore's ``xform_name``, with -)."""
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1-\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", name).lower()


def load_blob(value: str) -> bytes:
    """A ``--body`` value as bytes: ``fileb://PATH``, ``file://PATH`` or the text itself.

    Raises ``argparse.ArgumentTypeError`` (a usage error) when the file cannot be read.
    """
    for prefix, binary in (("fileb://", True), ("file://", False)):
        if value.startswith(prefix):
            path = value[len(prefix) :]
            try:
                if binary:
                    with open(path, "rb") as file:
                        return file.read()
                with open(path, encoding="utf-8") as text:
                    return text.read().encode("utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise argparse.ArgumentTypeError(
                    f"Unable to load paramfile {value}: {exc}"
                ) from None
    return value.encode("utf-8")


def make_client(args: argparse.Namespace, **config: Any) -> SageMakerRuntime:
    """A client from the global options (the rest comes from the environment and profile);
    ``config``: more ``Config`` options the command sets."""
    from .._client import SageMakerRuntime
    from .._config import Config

    options: dict[str, Any] = dict(config)
    if args.cli_read_timeout is not None:
        options["read_timeout"] = args.cli_read_timeout or None
    if args.cli_connect_timeout is not None:
        options["connect_timeout"] = args.cli_connect_timeout or None
    verify: bool | str | None = False if args.no_verify_ssl else args.ca_bundle
    return SageMakerRuntime(
        region_name=args.region,
        endpoint_url=args.endpoint_url,
        profile_name=args.profile,
        config=Config(**options) if options else None,
        verify=verify,
    )


def _params(args: argparse.Namespace, operation: Operation) -> dict[str, Any]:
    values = vars(args)
    return {m.name: values[m.name] for m in operation.inputs if values.get(m.name) is not None}


@contextlib.contextmanager
def _output(outfile: str) -> Iterator[IO[bytes]]:
    """OUTFILE as a binary writer; ``-`` is stdout (flushed, not closed)."""
    if outfile == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    with open(outfile, "wb") as file:
        yield file


def _invoke_endpoint(client: SageMakerRuntime, params: Any, outfile: str) -> Mapping[str, Any]:
    response = client.invoke_endpoint(**params)
    # OUTFILE is opened only once the call succeeded: a failed call leaves no empty file.
    with response["Body"] as body, _output(outfile) as out:
        for chunk in body.iter_chunks():
            out.write(chunk)
    return response


def _invoke_with_response_stream(
    client: SageMakerRuntime, params: Any, outfile: str
) -> Mapping[str, Any]:
    response = client.invoke_endpoint_with_response_stream(**params)
    with response["Body"] as stream, _output(outfile) as out:
        for event in stream:  # an error event raises here, after the parts before it
            part = event.get("PayloadPart")
            if part is not None:
                out.write(part["Bytes"])
                out.flush()
    return response


def _invoke_async(client: SageMakerRuntime, params: Any, outfile: str) -> Mapping[str, Any]:
    return client.invoke_endpoint_async(**params)


_CALLS: Mapping[str, Callable[[SageMakerRuntime, Any, str], Mapping[str, Any]]] = {
    INVOKE_ENDPOINT.name: _invoke_endpoint,
    INVOKE_ENDPOINT_WITH_RESPONSE_STREAM.name: _invoke_with_response_stream,
    INVOKE_ENDPOINT_ASYNC.name: _invoke_async,
}


def invoker(operation: Operation, parser: argparse.ArgumentParser) -> Command:
    """The command of one operation: call it, write the body, print the other members."""
    call = _CALLS[operation.name]

    def run(args: argparse.Namespace) -> int:
        params = {**_input_json(args, operation, parser), **_params(args, operation)}
        missing = [
            "--" + kebab_case(m.name)
            for m in operation.inputs
            if m.name in operation.required and m.name not in params
        ]
        if missing:
            parser.error(f"the following arguments are required: {', '.join(missing)}")
        output = _output_format(args)
        try:  # before anything is sent
            query = compile_query(args.query) if getattr(args, "query", None) else None
        except ValueError as exc:
            parser.error(str(exc))
        outfile: str = getattr(args, "outfile", "")
        with make_client(args) as client:
            response = call(client, params, outfile)
        members = {k: v for k, v in response.items() if k not in ("Body", "ResponseMetadata")}
        text = render(members, output, operation.name, query)
        print(text, end="", file=sys.stderr if outfile == "-" else sys.stdout, flush=True)
        return EXIT_OK

    return run


def _input_json(
    args: argparse.Namespace, operation: Operation, parser: argparse.ArgumentParser
) -> dict[str, Any]:
    """``--cli-input-json``'s parameters (a usage error names what is wrong with them)."""
    given: str | None = getattr(args, "cli_input_json", None)
    if given is None:
        return {}
    text = given
    if given.startswith("file://"):
        try:
            text = load_blob(given).decode("utf-8")  # read as --body reads file://
        except argparse.ArgumentTypeError as exc:
            parser.error(f"--cli-input-json: {exc}")
    try:
        data = json.loads(text)
    except ValueError as exc:
        parser.error(f"--cli-input-json: not valid JSON: {exc}")
    if not isinstance(data, dict):
        parser.error("--cli-input-json: must be a JSON object of parameters")
    names = {m.name for m in operation.inputs}
    unknown = sorted(set(data) - names)
    if unknown:
        parser.error(
            f"--cli-input-json: unknown parameter(s) {', '.join(unknown)} for "
            f"{operation.name}; valid: {', '.join(sorted(names))}"
        )
    return {
        k: (v.encode("utf-8") if k == "Body" and isinstance(v, str) else v) for k, v in data.items()
    }


def _output_format(args: argparse.Namespace) -> str:
    """``--output``, else AWS_DEFAULT_OUTPUT, else the profile's ``output``, else json."""
    chosen: str | None = getattr(args, "output", None) or os.environ.get("AWS_DEFAULT_OUTPUT")
    if chosen is None:
        from .._config_files import load_profile_config

        chosen = load_profile_config(getattr(args, "profile", None)).get("output")
    chosen = chosen or "json"
    if chosen not in FORMATS:
        raise ValueError(f"output must be one of {', '.join(FORMATS)}, got {chosen!r}")
    return chosen
