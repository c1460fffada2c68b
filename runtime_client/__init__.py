"""A small, fast, exact client for Amazon SageMaker Runtime."""

from ._version import __version__

__all__ = ["__version__"]
