"""``invoke-endpoint-batch``: every record of a file, a folder or stdin through one endpoint,
one JSON line per record into ``--output`` (``runtime_client.batch._records`` says what the
lines in and out hold).

    sagemaker-runtime invoke-endpoint-batch --endpoint-name E --input records.jsonl|DIR|-
        --output results.jsonl [--concurrency 16] [--resume [--retry-errors]] [...]

Each result line is written whole and at once, so the output is valid after Ctrl+C or
``kill -9`` (a line cut by ``kill -9`` is the last one; ``--resume`` drops it), and
``--resume`` sends only the records the output does not hold yet: every record once.
``--retry-errors`` (with ``--resume``) first takes the error results out of the output,
so that those records are sent again and each one still appears once.
Progress goes to stderr: a tqdm bar when tqdm is installed (the ``progress`` extra) and
stderr is a terminal, else one status line every few seconds; a summary at the end.
The client uses adaptive retries and a pool sized to ``--concurrency``.

Exit codes: 0 every record answered; 254 some records failed (their errors are in the
output); 130 interrupted (resume to continue); the others as for every command.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

from .._errors import ParamValidationError
from .._model import INVOKE_ENDPOINT
from ._errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_SERVICE
from ._invoke import kebab_case, make_client

if TYPE_CHECKING:
    from ..batch._records import BatchRecord
    from ..batch._run import BatchStats

__all__ = ["add_batch_command"]

_SHARED = [m for m in INVOKE_ENDPOINT.inputs if m.name not in ("Body", "EndpointName")]
_STATUS_EVERY = 5.0  # seconds between status lines when there is no bar
_MAX_ROUNDS_HELP = (
    "how many times a throttled record, or one that could not connect, is sent before its "
    "error is its result (5)"
)


def add_batch_command(commands: Any, add_global_options: Any) -> None:
    """Register the command (``_main`` passes its subparsers and global options)."""
    sub = commands.add_parser(
        "invoke-endpoint-batch",
        help="send every record of a file, folder or stdin to an endpoint; one result line each",
        description=(
            "Send every record of a JSON-lines file, a folder or stdin to one endpoint, "
            "--concurrency at once (lowered while the endpoint throttles). Each result is one "
            "JSON line of --output, written whole: after Ctrl+C or kill -9, --resume sends "
            "only the records the output lacks. Exit 0: every record answered; 254: some "
            "failed (their errors are in the output); 130: interrupted."
        ),
        allow_abbrev=False,
    )
    sub.add_argument("--endpoint-name", dest="EndpointName", required=True, metavar="NAME")
    sub.add_argument(
        "--input",
        required=True,
        metavar="PATH",
        help="a JSON-lines file (a line is a body, or an object with Body and maybe id and "
        "other parameters), a folder (each file is a body) or - for stdin",
    )
    sub.add_argument(
        "--output",
        dest="output_path",
        required=True,
        metavar="PATH",
        help="the JSON-lines file of results (- for stdout); it must not exist unless --resume",
    )
    sub.add_argument("--concurrency", type=int, default=16, metavar="N", help="the ceiling (16)")
    sub.add_argument(
        "--resume", action="store_true", help="skip the records --output already holds"
    )
    sub.add_argument(
        "--retry-errors",
        action="store_true",
        help="with --resume: send again the records whose result in --output is an error "
        "(their error lines are taken out of --output first)",
    )
    sub.add_argument(
        "--as-completed", action="store_true", help="write results as they finish, not in order"
    )
    sub.add_argument(
        "--max-rounds",
        type=int,
        default=5,
        metavar="N",
        help=_MAX_ROUNDS_HELP,
    )
    sub.add_argument("--no-progress", action="store_true", help="no progress on stderr")
    for member in _SHARED:
        sub.add_argument(
            "--" + kebab_case(member.name),
            dest=member.name,
            metavar="VALUE",
            help=f"{member.name}, the same for every record",
        )
    add_global_options(sub, top=False, full=True, formats=False)
    sub.set_defaults(run=run_batch)


def _records(path: str, shared: dict[str, Any]) -> tuple[Iterator[BatchRecord], int | None]:
    """The records of ``--input`` and how many there are (None for stdin)."""
    from ..batch._records import count_line_records, file_records, folder_names, folder_records

    if path == "-":
        return file_records(sys.stdin.buffer, shared), None
    if os.path.isdir(path):
        names = folder_names(path)
        return folder_records(path, shared, names), len(names)
    with open(path, "rb") as file:  # counted first, for the ETA: one quick read
        count = count_line_records(file)
    stream = open(path, "rb")  # noqa: SIM115 - closed when the records run out (below)

    def lines() -> Iterator[BatchRecord]:
        with stream:
            yield from file_records(stream, shared)

    return lines(), count


def _open_output(args: argparse.Namespace) -> tuple[IO[bytes], Any]:
    """The output, opened to append, and what it already holds (``--resume``)."""
    from ..batch._records import DoneSet, drop_error_lines, read_done

    path = args.output_path
    if path == "-":
        if args.resume:
            raise SystemExit("--resume needs an --output file, not stdout")
        return sys.stdout.buffer, DoneSet()
    done: Any = DoneSet()
    if os.path.exists(path) and os.path.getsize(path) > 0:
        if not args.resume:
            raise SystemExit(
                f"{path} already holds results: add --resume to continue it, or remove it"
            )
        if args.retry_errors:  # the rewrite drops a line cut by kill -9 too
            done, dropped = drop_error_lines(path)
            print(
                f"invoke-endpoint-batch: {dropped:,} error results to send again", file=sys.stderr
            )
        else:
            done, good = read_done(path)
            with open(path, "r+b") as file:  # a line cut by kill -9 goes
                file.truncate(good)
    return open(path, "ab", buffering=0), done


def _errors(stats: BatchStats) -> str:
    return ", ".join(f"{code}={n}" for code, n in sorted(stats.errors.items()))


def _status(stats: BatchStats) -> str:
    elapsed = max(time.monotonic() - stats.started, 1e-9)
    rate = stats.done / elapsed
    total = stats.to_do
    line = f"{stats.done:,}" + (f" of {total:,}" if total is not None else "") + " done"
    line += f", {rate:,.1f}/s"
    if total and rate > 0:
        left = max(total - stats.done, 0) / rate
        line += f", ETA {int(left // 3600)}:{int(left % 3600 // 60):02d}:{int(left % 60):02d}"
    line += f", errors: {_errors(stats) or 'none'}, concurrency {stats.window:.0f}"
    if stats.skipped:
        line += f", {stats.skipped:,} already in the output"
    return line


class _Progress:
    """A tqdm bar on a terminal (if tqdm is installed), else a status line now and then."""

    def __init__(self, stats: BatchStats, quiet: bool) -> None:
        self._stats, self._quiet, self._bar, self._last = stats, quiet, None, time.monotonic()
        if quiet or not sys.stderr.isatty():
            return
        try:
            from tqdm import tqdm
        except ImportError:
            return
        self._bar = tqdm(total=stats.to_do, unit="rec", file=sys.stderr, dynamic_ncols=True)

    def update(self) -> None:
        if self._bar is not None:
            self._bar.update(self._stats.done - self._bar.n)
            errors = _errors(self._stats)
            window = f"concurrency {self._stats.window:.0f}"
            self._bar.set_postfix_str(f"errors: {errors}, {window}" if errors else window)
        elif not self._quiet and time.monotonic() - self._last >= _STATUS_EVERY:
            self._last = time.monotonic()
            print(f"invoke-endpoint-batch: {_status(self._stats)}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def run_batch(args: argparse.Namespace) -> int:
    """Run the batch; the summary line says what happened and what to do next."""
    from ..batch._records import result_line
    from ..batch._run import check_options

    shared = {m.name: getattr(args, m.name) for m in _SHARED if getattr(args, m.name)}
    shared["EndpointName"] = args.EndpointName
    check_options(args.concurrency, args.max_rounds, shared)  # before the output is made
    if args.retry_errors and not args.resume:
        raise ParamValidationError(
            [("--retry-errors", "needs --resume (it sends again the errors of an output)")]
        )
    records, total = _records(args.input, shared)
    output, done = _open_output(args)
    client = make_client(
        args, retries={"mode": "adaptive"}, max_pool_connections=max(args.concurrency, 1)
    )
    interrupted = False
    try:
        with (
            client,
            client.invoke_endpoint_batch(
                records,
                EndpointName=args.EndpointName,
                concurrency=args.concurrency,
                ordered=not args.as_completed,
                max_rounds=args.max_rounds,
                skip=done,
                total=total,
            ) as results,
        ):
            progress = _Progress(results.stats, args.no_progress)
            try:
                for result in results:
                    output.write(result_line(result))
                    progress.update()
            except KeyboardInterrupt:
                interrupted = True
            finally:
                progress.close()
    finally:
        if output is not sys.stdout.buffer:
            output.close()
    return _summary(results.stats, interrupted, args)


def _summary(stats: BatchStats, interrupted: bool, args: argparse.Namespace) -> int:
    print(f"invoke-endpoint-batch: {_status(stats)}", file=sys.stderr, flush=True)
    if interrupted:
        print(
            "Interrupted: the output holds whole lines; run again with --resume to continue.",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    failed = sum(stats.errors.values())
    if failed:
        where = args.output_path if args.output_path != "-" else "stdout"
        print(f"{failed:,} records failed: their errors are in {where}", file=sys.stderr)
        return EXIT_SERVICE
    return EXIT_OK
