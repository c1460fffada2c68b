"""The ``amz-sdk-invocation-id`` of each call: a version 4 UUID, new for every call (the
same for the attempts of one call: see test_integration), and different in a forked child
than in its parent."""

from __future__ import annotations

import os
import re
import uuid

import pytest

from runtime_client._retry import new_invocation_id
from tests.support.forking import fork


def test_a_version_4_uuid_as_uuid4_prints_it() -> None:
    ids = [new_invocation_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        assert re.fullmatch(
            r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", text
        )
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (4, uuid.RFC_4122, text)
    # every variant digit and every bit outside the fixed ones is used
    assert {text[19] for text in ids} == set("89ab")
    assert len({text[0] for text in ids}) == 16


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is not available here")
def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    read, write = os.pipe()
    pid = fork()
    if pid == 0:  # the child: its next ids, to the parent
        try:
            os.write(write, " ".join(new_invocation_id() for _ in range(50)).encode())
        finally:
            os._exit(0)
    os.close(write)
    parent = {new_invocation_id() for _ in range(50)}
    with os.fdopen(read, "rb") as pipe:
        child = set(pipe.read().decode().split())
    os.waitpid(pid, 0)
    assert len(child) == 50
    assert not parent & child
