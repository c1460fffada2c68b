"""The ``sagemaker-runtime`` command line (also ``python -m runtime_client``), shaped like
``aws sagemaker-runtime``: ``_main`` has the parser and the invoke commands, ``_local`` the
local endpoint's commands (``serve-local``, ``demo``)."""

from ._main import main

__all__ = ["main"]
