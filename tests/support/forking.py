"""``os.fork`` for the fork-safety tests, without the warning Python 3.12+ gives for it.

Forking a process that has threads warns ("multi-threaded, use of fork() may lead to
deadlocks in the child"): the suite's loopback servers run in threads of the test process.
The children these tests fork take no lock a parent thread may hold (they use only what
they were given, then ``os._exit``), so that one warning is silenced here, and no other.
"""

from __future__ import annotations

import os
import warnings

__all__ = ["fork"]


def fork() -> int:
    """``os.fork()``: 0 in the child, the child's pid in the parent."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r".*multi-threaded.*fork\(\)", category=DeprecationWarning
        )
        return os.fork()
