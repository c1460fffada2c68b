"""The ``sagemaker-runtime`` command line (also ``python -m runtime_client``), shaped like
``aws sagemaker-runtime``::

    sagemaker-runtime [global options] COMMAND [options]

    invoke-endpoint                       --endpoint-name N --body fileb://in.json ... OUTFILE
    invoke-endpoint-with-response-stream  --endpoint-name N --body ... OUTFILE
    invoke-endpoint-async                 --endpoint-name N --input-location s3://... ...
    invoke-endpoint-batch                 --endpoint-name N --input records.jsonl|DIR|-
                                          --output results.jsonl [--resume] ... (``_batch``)
    serve-local                           run the local emulator (the ``local`` extra)
    demo                                  start the emulator, call it three ways, say what happened

The options of the three operations are made from the service model (``_model``): every
input member becomes ``--kebab-case``, required ones are required (after
``--cli-input-json``'s parameters are merged under the options), integers are checked.
``--body`` takes ``fileb://PATH`` (the file's bytes), ``file://PATH`` (a UTF-8 text file)
or the text itself (sent as UTF-8, as the AWS CLI does with ``--cli-binary-format
raw-in-base64-out``).

What goes where::

    stdout   the answer's members (no Body, no ResponseMetadata) as ``--output`` json
             (default), text or table, after ``--query``, as the AWS CLI prints them
             (``_output``); with OUTFILE ``-`` stdout carries the body alone and the members
             go to stderr, so ``... - | jq`` works
    OUTFILE  the body; a response stream is written part by part, flushed as parts arrive
    stderr   progress and errors: one clean message, never a traceback (``--debug`` adds it)

Exit codes and error messages are in ``_errors``.

Startup is kept short: this module imports only argparse and the service model; each
command imports what it needs (``serve-local`` and ``demo`` are in ``_local``), so
``--help`` never loads hypercorn.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from .._model import (
    INVOKE_ENDPOINT,
    INVOKE_ENDPOINT_ASYNC,
    INVOKE_ENDPOINT_WITH_RESPONSE_STREAM,
    Member,
    Operation,
)
from .._version import __version__
from ._batch import add_batch_command
from ._errors import EXIT_INTERRUPTED, EXIT_LOCAL, classify_error, redact
from ._invoke import Command, invoker, kebab_case, load_blob, make_client
from ._output import FORMATS

__all__ = [
    "build_parser",
    "kebab_case",
    "load_blob",
    "main",
    "make_client",
]

PROG = "sagemaker-runtime"


_DESCRIPTIONS = {
    INVOKE_ENDPOINT.name: "Get an inference from a model hosted at an endpoint.",
    INVOKE_ENDPOINT_WITH_RESPONSE_STREAM.name: (
        "Get an inference as a stream of parts; each part is written to OUTFILE (flushed) as "
        "it arrives."
    ),
    INVOKE_ENDPOINT_ASYNC.name: (
        "Queue an inference; the answer names where the result will be written."
    ),
}
_BODY_HELP = (
    "fileb://PATH (the bytes of a file), file://PATH (a UTF-8 text file) or the text itself"
)


def _non_negative(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not seconds >= 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"{value!r} must be a finite number >= 0 (0: no limit)")
    return seconds


def _member_help(member: Member) -> str:
    where = f"header {member.wire_name}" if member.location == "header" else "in the URL path"
    rules = []
    if member.kind == "integer" and member.min is not None and member.max is not None:
        rules.append(f"{member.min} to {member.max}")
    elif member.max is not None:
        rules.append(f"at most {member.max} characters")
    return f"{member.name} ({where}{'; ' + rules[0] if rules else ''})"


def _add_member(parser: argparse.ArgumentParser, operation: Operation, member: Member) -> None:
    # Checked after --cli-input-json is merged (see _invoker), not by argparse.
    required = False
    flag = "--" + kebab_case(member.name)
    if member.kind == "blob":
        limit = f"; at most {member.max} bytes" if member.max is not None else ""
        parser.add_argument(
            flag,
            dest=member.name,
            metavar="BODY",
            type=load_blob,
            required=required,
            help=f"{member.name}: {_BODY_HELP}{limit}",
        )
        return
    parser.add_argument(
        flag,
        dest=member.name,
        metavar="N" if member.kind == "integer" else "VALUE",
        type=int if member.kind == "integer" else str,
        required=required,
        help=_member_help(member),
    )


def _add_global_options(
    parser: argparse.ArgumentParser, *, top: bool, full: bool, formats: bool = True
) -> None:
    """The AWS CLI's global options; on a subcommand they default to "not given" so that
    they may come before or after the command name. ``formats``: ``--output``/``--query``
    (not on the batch command, whose ``--output`` is its results file)."""

    def default(value: object) -> object:
        return value if top else argparse.SUPPRESS

    group = parser.add_argument_group("global options")
    group.add_argument("--region", default=default(None), help="the AWS region to sign for")
    if full:
        group.add_argument(
            "--profile", default=default(None), help="a named profile of your AWS config files"
        )
        group.add_argument(
            "--endpoint-url", default=default(None), help="send requests to this URL instead"
        )
        group.add_argument(
            "--no-verify-ssl",
            action="store_true",
            default=default(False),
            help="do not verify TLS certificates (unsafe)",
        )
        group.add_argument(
            "--ca-bundle", default=default(None), help="verify TLS certificates with this bundle"
        )
    if full and formats:
        group.add_argument(
            "--output",
            choices=FORMATS,
            default=default(None),
            help="how the answer's members are printed: json, text or table, as the AWS CLI "
            "prints them (default: AWS_DEFAULT_OUTPUT, the profile's output, or json)",
        )
        group.add_argument(
            "--query",
            metavar="JMESPATH",
            default=default(None),
            help="a JMESPath expression applied to the answer's members before printing "
            "(needs jmespath: the cli extra)",
        )
    if full:
        _add_timeouts(group, default)
    group.add_argument(
        "--debug",
        action="store_true",
        default=default(False),
        help="show the traceback of an error",
    )


def _add_timeouts(group: Any, default: Callable[[object], object]) -> None:
    """``--cli-read-timeout`` and ``--cli-connect-timeout``."""
    group.add_argument(
        "--cli-read-timeout",
        type=_non_negative,
        metavar="SECONDS",
        default=default(None),
        help="the most to wait for response bytes (0: no limit; default 70)",
    )
    group.add_argument(
        "--cli-connect-timeout",
        type=_non_negative,
        metavar="SECONDS",
        default=default(None),
        help="the most to wait for a connection (0: no limit; default 60)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; each subcommand's ``run`` is its :data:`Command`."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Call Amazon SageMaker Runtime endpoints, or run one locally.",
        epilog=(
            "First time? Run `sagemaker-runtime demo` (no AWS account needed). Exit codes: "
            "0 ok, 1 local failure, 2 usage, 253 configuration, 254 service error, "
            "255 transport error."
        ),
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    _add_global_options(parser, top=True, full=True)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    _add_invoke_commands(commands)
    add_batch_command(commands, _add_global_options)
    _add_serve_local(commands)
    _add_demo(commands)
    return parser


# ``argparse._SubParsersAction`` is private; its ``add_parser`` is what the helpers need.
_Commands = Any


def _add_invoke_commands(commands: _Commands) -> None:
    """One command per operation of ``aws sagemaker-runtime``, its options from the model."""
    for operation in (INVOKE_ENDPOINT, INVOKE_ENDPOINT_WITH_RESPONSE_STREAM, INVOKE_ENDPOINT_ASYNC):
        description = _DESCRIPTIONS[operation.name]
        sub = commands.add_parser(
            kebab_case(operation.name),
            help=description,
            description=f"{operation.name}: {description}",
            allow_abbrev=False,
        )
        for member in operation.inputs:
            _add_member(sub, operation, member)
        sub.add_argument(
            "--cli-input-json",
            metavar="JSON",
            help="the parameters as a JSON object (PascalCase names, as the API has them), "
            "or file://PATH holding one; options given on the command line win",
        )
        if operation.output_payload is not None:
            sub.add_argument(
                "outfile", metavar="OUTFILE", help="where to write the body; - for stdout"
            )
        _add_global_options(sub, top=False, full=True)
        sub.set_defaults(run=invoker(operation, sub))


def _add_serve_local(commands: _Commands) -> None:
    serve = commands.add_parser(
        "serve-local",
        help="run a local SageMaker Runtime endpoint (the emulator) until Ctrl+C",
        description=(
            "Serve InvokeEndpoint, InvokeEndpointWithResponseStream, InvokeEndpointAsync and "
            "InvokeEndpointWithBidirectionalStream (HTTP/2) on this machine, SigV4-checked, in "
            "front of a demo model or your own container. Needs the `local` extra (pip "
            "install 'sagemaker-runtime-lite[local]')."
        ),
        allow_abbrev=False,
    )
    serve.add_argument(
        "--model",
        default="echo",
        help="echo (answers with the request), stream (a text-generation stand-in) or the URL "
        "of a container speaking SageMaker's container contract (http://HOST:PORT); "
        "default echo",
    )
    serve.add_argument("--host", default="127.0.0.1", help="the address to bind (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="the port (8080; 0: any free one)")
    serve.add_argument(
        "--http2-port",
        type=int,
        metavar="PORT",
        help="also serve HTTP/2 only on this port, as the service's :8443 endpoint does (with "
        "--tls: ALPN h2 only); default: none, --port serves both protocols",
    )
    serve.add_argument(
        "--max-connections",
        type=int,
        default=256,
        metavar="N",
        help="the connections held open at once, both ports together; beyond it a request "
        "is answered 503 (256)",
    )
    serve.add_argument(
        "--data-dir",
        help="the folder standing in for S3 (async inputs and results); default: a temporary "
        "folder removed at exit",
    )
    serve.add_argument(
        "--allow-read",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder beyond --data-dir from which a local InputLocation (file:// or an "
        "absolute path) may be read; repeat for more (default: none)",
    )
    serve.add_argument("--endpoint-name", help="serve only this endpoint name (default: any)")
    _add_endpoint_options(serve)
    serve.add_argument(
        "--credentials-from-env",
        action="store_true",
        help="accept the key pair in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY instead of the "
        "published demo key (required to bind beyond loopback)",
    )
    serve.add_argument("--no-access-log", action="store_true", help="do not log each request")
    _add_global_options(serve, top=False, full=False)
    serve.set_defaults(run=_lazy("serve_local"))


def _add_endpoint_options(serve: argparse.ArgumentParser) -> None:
    """The endpoint's settings beyond where it listens (EndpointSettings' fields)."""
    serve.add_argument(
        "--variant", default="AllTraffic", help="the production variant served (AllTraffic)"
    )
    serve.add_argument(
        "--output-locations",
        choices=("file", "s3"),
        default="file",
        help="how async results are named to the caller: file:// URLs or s3:// URIs into "
        "--data-dir/s3 (file)",
    )
    serve.add_argument(
        "--invocation-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long a container may take to answer an invocation (60)",
    )
    serve.add_argument(
        "--ping-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long to wait at start for a container's GET /ping to answer 200 (30)",
    )
    serve.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS (HTTP/1.1 and HTTP/2 by ALPN) with a certificate made at start; "
        "its CA is written to DATA_DIR/tls/ca.pem (needs cryptography)",
    )
    serve.add_argument("--cert", metavar="FILE", help="serve HTTPS with this certificate chain")
    serve.add_argument("--key", metavar="FILE", help="the private key of --cert")
    serve.add_argument(
        "--account-id",
        default="000000000000",
        help="the account id in log stream ARNs and not-found messages (000000000000)",
    )


def _add_demo(commands: _Commands) -> None:
    demo = commands.add_parser(
        "demo",
        help="start the emulator on a free loopback port and show the three operations",
        description=(
            "Start the local emulator on a free loopback port, call it through "
            "runtime_client.SageMakerRuntime (InvokeEndpoint, the response stream token by "
            "token, InvokeEndpointAsync and its output file) and print what happened. Needs "
            "the `local` extra; no AWS account."
        ),
        allow_abbrev=False,
    )
    _add_global_options(demo, top=False, full=False)
    demo.set_defaults(run=_lazy("demo"))


def _lazy(name: str) -> Command:
    """A command of ``_local``, imported only when it runs."""

    def run(args: argparse.Namespace) -> int:
        from . import _local as _cli_local

        command: Command = getattr(_cli_local, name)
        return command(args)

    return run


# --------------------------------------------------------------------------- errors


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (the console script exits with it)."""
    parser = build_parser()
    args = parser.parse_args(argv)  # usage errors exit 2 here, with argparse's message
    command: Command = args.run
    try:
        return command(args)
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `... - | head -c 10`: the reader went away
        # Point stdout at devnull so that the interpreter's final flush stays quiet.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_LOCAL
    except Exception as exc:
        code, message = classify_error(exc)
        if args.debug:
            print(redact(traceback.format_exc()), file=sys.stderr, end="")
        print(redact(message), file=sys.stderr, flush=True)
        return code
