"""``python -m runtime_client``: the ``sagemaker-runtime`` command line (see ``_cli``)."""

from __future__ import annotations

import sys

from ._cli import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
