"""Unwrap the exception group a nursery puts around a single error.

``connect`` runs its reader in a nursery, and trio wraps whatever escapes a
nursery in an ``ExceptionGroup``, so a caller's own ``raise ValueError`` inside
``async with connect(...)`` would come out as a group. A group that holds exactly
one exception besides ``Cancelled`` is unwrapped to that exception.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import NoReturn, ParamSpec, TypeVar

import trio

__all__ = ["unwrap_exception_groups"]

P = ParamSpec("P")
T = TypeVar("T")


def _leaves(group: BaseExceptionGroup[BaseException]) -> Iterator[BaseException]:
    for exception in group.exceptions:
        if isinstance(exception, BaseExceptionGroup):
            yield from _leaves(exception)
        else:
            yield exception


def _raise_single(group: BaseExceptionGroup[BaseException]) -> NoReturn:
    """Raise the group's one real exception (keeping its own context), else the group."""
    real = [leaf for leaf in _leaves(group) if not isinstance(leaf, trio.Cancelled)]
    if len(real) != 1:
        raise group
    exception = real[0]
    context = exception.__context__
    try:
        raise exception
    finally:
        exception.__context__ = context  # not the group we took it from
        del exception, context


def unwrap_exception_groups(
    factory: Callable[P, AbstractAsyncContextManager[T]],
) -> Callable[P, AbstractAsyncContextManager[T]]:
    """Wrap an async context manager factory so single errors escape unwrapped."""

    @functools.wraps(factory)
    @asynccontextmanager
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> AsyncIterator[T]:
        try:
            async with factory(*args, **kwargs) as value:
                yield value
        except BaseExceptionGroup as group:
            _raise_single(group)

    return wrapper
