"""The one progress protocol: ``progress(done, total, label)``.

Long library calls take ``progress=None`` or a callable. They call it with the work done so far,
the total, and a short label of what is running, first with ``done=0``; the last call has
``done == total``. The library never draws: the command line turns the calls into a rich
progress bar (``svdlens.cli``), the app and the tests pass their own callables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Optional, TypeVar

__all__ = ["Progress", "report", "track"]

Progress = Optional[Callable[[int, int, str], None]]
"""A progress callback, ``progress(done, total, label)``, or None for none."""

T = TypeVar("T")


def report(progress: Progress, done: int, total: int, label: str = "") -> None:
    """Call ``progress`` if there is one."""
    if progress is not None:
        progress(done, total, label)


def track(items: Iterable[T], total: int, label: str, progress: Progress) -> Iterator[T]:
    """Yield ``items``, reporting after each one (and once before the first)."""
    report(progress, 0, total, label)
    for i, item in enumerate(items, start=1):
        yield item
        report(progress, i, total, label)
