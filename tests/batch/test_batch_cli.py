"""``sagemaker-runtime invoke-endpoint-batch`` as a user runs it: whole processes against a
loopback stand-in; ``kill -9`` and Ctrl+C at random points, then ``--resume``."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.batch_server import BatchServer


@pytest.fixture
def server() -> Iterator[BatchServer]:
    with BatchServer() as srv:
        yield srv


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="AKIDEXAMPLE",
        AWS_SECRET_ACCESS_KEY="secret",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
    )
    return env


def _command(server: BatchServer, source: str, output: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "runtime_client", "invoke-endpoint-batch",
        "--endpoint-name", "ep", "--endpoint-url", server.url,
        "--input", source, "--output", str(output), *extra,
    ]  # fmt: skip


def _run(
    command: list[str], tmp_path: Path, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        env=_env(tmp_path),
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def _write_records(path: Path, n: int, sleep: float = 0.0) -> None:
    with path.open("w") as file:
        for i in range(n):
            file.write(json.dumps({"i": i, "sleep": sleep}) + "\n")


def test_a_file_in_order_with_errors_recorded_per_record(
    server: BatchServer, tmp_path: Path
) -> None:
    source = tmp_path / "records.jsonl"
    source.write_text(
        '{"a": 1}\n\n{"Body": {"b": 2}, "id": "second"}\nplease fail\n'
        '{"Body": "ok", "ContentType": "text/plain"}\n'
    )
    output = tmp_path / "results.jsonl"
    result = _run(_command(server, str(source), output, "--content-type", "json"), tmp_path)
    assert result.returncode == 254, result.stderr  # some records failed
    lines = _lines(output)
    assert [line["index"] for line in lines] == [0, 1, 2, 3]
    assert lines[0]["Body"] == '{"a": 1}'
    assert (lines[1]["id"], lines[1]["Body"]) == ("second", '{"b":2}')
    assert lines[2]["Error"] == {"Code": "ModelError", "Message": "the model failed on this record"}
    assert lines[2]["HTTPStatusCode"] == 424
    assert lines[3]["Body"] == "ok"
    assert "4 of 4 done" in result.stderr
    assert "errors: ModelError=1" in result.stderr
    assert "1 records failed: their errors are in" in result.stderr


def test_a_folder_and_stdin(server: BatchServer, tmp_path: Path) -> None:
    folder = tmp_path / "bodies"
    folder.mkdir()
    for name in ("b.bin", "a.bin", ".hidden"):
        (folder / name).write_bytes(b"\xff\x00" + name.encode())
    output = tmp_path / "from-folder.jsonl"
    assert _run(_command(server, str(folder), output), tmp_path).returncode == 0
    lines = _lines(output)
    assert [line["id"] for line in lines] == ["a.bin", "b.bin"]
    assert lines[0]["BodyBase64"] == "/wBhLmJpbg=="  # not UTF-8: base64
    piped = _run(_command(server, "-", tmp_path / "from-stdin.jsonl"), tmp_path, input="x\ny\n")
    assert piped.returncode == 0, piped.stderr
    assert [line["Body"] for line in _lines(tmp_path / "from-stdin.jsonl")] == ["x", "y"]


def test_an_existing_output_needs_resume(server: BatchServer, tmp_path: Path) -> None:
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_records(source, 3)
    output.write_text('{"index": 0}\n')
    result = _run(_command(server, str(source), output), tmp_path)
    assert result.returncode == 1
    assert "already holds results: add --resume" in result.stderr
    assert sum(server.seen.values()) == 0


def test_a_bad_option_is_named_and_nothing_is_made_or_sent(
    server: BatchServer, tmp_path: Path
) -> None:
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_records(source, 3)
    result = _run(_command(server, str(source), output, "--concurrency", "0"), tmp_path)
    assert result.returncode == 2
    assert "concurrency: must be an integer >= 1, not 0" in result.stderr
    assert not output.exists()
    missing = _run(_command(server, str(tmp_path / "nope.jsonl"), output), tmp_path)
    assert missing.returncode == 1
    assert "nope.jsonl" in missing.stderr
    assert sum(server.seen.values()) == 0


def test_resume_with_retry_errors_sends_the_failed_records_again(
    server: BatchServer, tmp_path: Path
) -> None:
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    # 0, 3, 6 and 9 fail the first time only
    bodies = [{"i": i, "flaky": 1} if i % 3 == 0 else {"i": i} for i in range(10)]
    source.write_text("".join(json.dumps(body) + "\n" for body in bodies))
    first = _run(_command(server, str(source), output), tmp_path)
    assert first.returncode == 254
    errors = [line["index"] for line in _lines(output) if "Error" in line]
    assert errors == [0, 3, 6, 9]
    again = _run(_command(server, str(source), output, "--resume", "--retry-errors"), tmp_path)
    assert again.returncode == 0, again.stderr
    assert "4 error results to send again" in again.stderr
    lines = _lines(output)
    assert sorted(int(str(line["index"])) for line in lines) == list(range(10))  # each once
    assert not [line for line in lines if "Error" in line]
    assert [line["index"] for line in lines[:6]] == [1, 2, 4, 5, 7, 8]  # the kept, in order
    sent = {json.loads(body)["i"]: n for body, n in server.seen.items()}
    assert sent == {i: 2 if i % 3 == 0 else 1 for i in range(10)}
    assert not (tmp_path / "out.jsonl.retry-errors").exists()


def test_retry_errors_needs_resume(server: BatchServer, tmp_path: Path) -> None:
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_records(source, 3)
    result = _run(_command(server, str(source), output, "--retry-errors"), tmp_path)
    assert result.returncode == 2
    assert "--retry-errors: needs --resume" in result.stderr
    assert not output.exists()
    assert sum(server.seen.values()) == 0


@pytest.mark.parametrize("how", ["kill -9", "Ctrl+C"])
def test_stopped_at_a_random_point_then_resumed_every_record_once(
    server: BatchServer, tmp_path: Path, how: str
) -> None:
    seed = random.randrange(1 << 30)
    print(f"seed {seed}")  # shown on failure, to replay the stop point
    rng = random.Random(seed)
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_records(source, 1200, sleep=0.002)
    process = subprocess.Popen(
        _command(server, str(source), output, "--as-completed"),
        env=_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # as from a terminal: a background job (CI's) inherits SIGINT ignored, and Python
        # then installs no KeyboardInterrupt handler
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 30
    while sum(server.seen.values()) < rng.randrange(20, 900):
        assert time.monotonic() < deadline, "the batch took too long"
        assert process.poll() is None, "the batch ended before the stop"
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL if how == "kill -9" else signal.SIGINT)
    try:
        _, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
        pytest.fail(f"the batch did not end within 30 s of {how}; its stderr:\n{stderr}")
    if how == "Ctrl+C":
        assert process.returncode == 130, stderr
        assert "run again with --resume" in stderr
    written = output.read_bytes()
    whole = written[: written.rfind(b"\n") + 1]
    assert all(json.loads(line)["index"] >= 0 for line in whole.splitlines())
    resumed = _run(_command(server, str(source), output, "--resume"), tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "already in the output" in resumed.stderr
    indexes = sorted(line["index"] for line in _lines(output))  # type: ignore[type-var]
    assert indexes == list(range(1200))  # every record exactly once
    assert len(server.seen) == 1200


def test_on_a_terminal_with_tqdm_a_progress_bar(server: BatchServer, tmp_path: Path) -> None:
    pytest.importorskip("tqdm", reason="tqdm is not installed (the dev extra has it)")
    import pty

    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_records(source, 50)
    leader, follower = pty.openpty()
    import fcntl
    import struct
    import termios

    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # 120 wide
    try:
        process = subprocess.Popen(
            _command(server, str(source), output),
            env=_env(tmp_path),
            stdout=subprocess.DEVNULL,
            stderr=follower,
        )
        assert process.wait(timeout=60) == 0
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other end is closed: all read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
    text = shown.decode(errors="replace")
    assert "50/50" in text  # tqdm's count
    assert "rec/s" in text
    assert "50 of 50 done" in text  # and the summary line


def test_off_a_terminal_a_status_line_now_and_then(
    server: BatchServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from runtime_client.cli import _batch
    from runtime_client.cli._main import main

    for name, value in _env(tmp_path).items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setattr(_batch, "_STATUS_EVERY", 0.0)  # every result, instead of every 5 s
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("a\nplease fail\nb\n")
    assert main(_command(server, str(source), output)[3:]) == 254
    lines = capsys.readouterr().err.splitlines()
    status = [line for line in lines if line.startswith("invoke-endpoint-batch: ")]
    assert len(status) == 4  # one per result written, then the summary
    done = [int(line.split()[1]) for line in status]  # "N of 3 done": finished, not written
    assert done == sorted(done)
    assert done[0] >= 1
    assert "ETA 0:00:" in status[0]
    assert status[-1].startswith("invoke-endpoint-batch: 3 of 3 done, ")
    assert "errors: ModelError=1, concurrency 16" in status[-1]
