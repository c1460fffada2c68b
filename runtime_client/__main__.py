"""``python -m runtime_client``: the ``sagemaker-runtime`` command line
(see :mod:`runtime_client.cli`)."""

from __future__ import annotations

import sys

from .cli import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
