"""``with`` and ``async with`` for the objects that own a connection: leaving the block
closes the object, however the block ends (a cancellation included). Written once for the
clients, bodies and streams."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TypeVar

__all__ = ["AsyncClosesOnExit", "ClosesOnExit", "aclose_shielded"]

_S = TypeVar("_S", bound="ClosesOnExit")
_A = TypeVar("_A", bound="AsyncClosesOnExit")


class ClosesOnExit:
    """``with obj:`` calls ``obj.close()`` on the way out."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClosesOnExit:
    """``async with obj:`` awaits ``obj.aclose()`` on the way out."""

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self: _A) -> _A:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await aclose_shielded(self.aclose)


async def aclose_shielded(close: Callable[[], Awaitable[object]]) -> None:
    """Await ``close()`` even in a cancelled scope: trio cancels every await there, and
    asyncio may cancel again, so an unshielded close could leave a connection open."""
    import anyio  # httpx's dependency; loaded by every async caller already

    with anyio.CancelScope(shield=True):
        await close()
