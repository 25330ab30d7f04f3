"""Parameter checks, one place for all of them, run before any work starts.

After scipy's ``_iv()`` helpers and scikit-learn's parameter constraints: each function takes
the parameter's *name* as the caller spells it (``"k"`` in the library, ``"--k"`` on the
command line), checks one value, and returns it in a canonical type or raises
:class:`~svdlens.exceptions.InvalidParameterError` with a message that names the parameter,
the allowed range and what was given.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import TypeVar

from .exceptions import InvalidParameterError, NonFiniteError

__all__ = ["check_int", "check_float", "check_choice", "check_fraction", "check_optional_int", "check_finite"]

T = TypeVar("T")


def check_int(name: str, value: object, *, low: int | None = 1, high: int | None = None) -> int:
    """A whole number in ``[low, high]`` (bools are refused).

    >>> check_int("k", 3)
    3
    >>> check_int("k", 0)
    Traceback (most recent call last):
    ...
    svdlens.exceptions.InvalidParameterError: k must be a positive whole number; got 0
    """
    if low == 1:
        kind = "a positive whole number" + (f" ≤ {high}" if high is not None else "")
    else:
        kind = f"a whole number{_range(low, high)}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidParameterError(f"{name} must be {kind}; got {value!r}")
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        raise InvalidParameterError(f"{name} must be {kind}; got {v}")
    return v


def check_optional_int(name: str, value: object, *, low: int | None = 1, high: int | None = None) -> int | None:
    """``None``, or a whole number as :func:`check_int` accepts."""
    return None if value is None else check_int(name, value, low=low, high=high)


def check_float(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A finite real number in the range given (closed unless ``low_open``/``high_open``).

    >>> check_float("tol", 1e-4, low=0, low_open=True)
    0.0001
    >>> check_float("t", float("nan"))
    Traceback (most recent call last):
    ...
    svdlens.exceptions.InvalidParameterError: t must be a finite number; got nan
    >>> check_fraction("t", 1.5)
    Traceback (most recent call last):
    ...
    svdlens.exceptions.InvalidParameterError: t must be in (0, 1]; got 1.5
    """
    if low == 0 and high is None:
        wanted = f"{name} must be a positive number" if low_open else f"{name} must be a number ≥ 0"
    elif low is not None and high is not None:
        wanted = f"{name} must be{_range(low, high, low_open, high_open)}"
    else:
        wanted = f"{name} must be a finite number{_range(low, high, low_open, high_open)}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidParameterError(f"{wanted}; got {value!r}")
    v = float(value)
    bad = not math.isfinite(v)
    if low is not None:
        bad = bad or v < low or (low_open and v == low)
    if high is not None:
        bad = bad or v > high or (high_open and v == high)
    if bad:
        raise InvalidParameterError(f"{wanted}; got {v!r}")
    return v


def check_fraction(name: str, value: object) -> float:
    """A number in (0, 1], such as how far into the diffusion ``t`` is."""
    return check_float(name, value, low=0.0, high=1.0, low_open=True)


def check_choice(name: str, value: T, choices: Iterable[T]) -> T:
    """One of ``choices``.

    >>> check_choice("method", "krylov", ("exact", "krylov"))
    'krylov'
    """
    options = tuple(choices)
    if value not in options:
        raise InvalidParameterError(f"unknown {name} {value!r}: {name} must be one of {', '.join(map(str, options))}")
    return value


def _range(low, high, low_open: bool = False, high_open: bool = False) -> str:
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{_num(low)}, {_num(high)}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '≥'} {_num(low)}"
    if high is not None:
        return f" {'<' if high_open else '≤'} {_num(high)}"
    return ""


def _num(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def check_finite(where: str, value: object, fix: str = "the model's weights or configuration are broken") -> None:
    """Refuse a result (numpy array or torch tensor) that holds NaN or Inf, saying ``where`` it appeared.

    The one guard between a model's numbers and anything written: a broken model must end in
    this error, not in NaN images.

    >>> import numpy as np
    >>> check_finite("the VAE's decoder output", np.array([1.0, np.nan]))
    Traceback (most recent call last):
    ...
    svdlens.exceptions.NonFiniteError: the VAE's decoder output holds NaN or Inf (1 of 2 values): the model's weights or configuration are broken; nothing was written
    """
    isfinite = getattr(value, "isfinite", None)
    if isfinite is not None:  # a torch tensor: reduce where it lives
        finite = isfinite()
        if bool(finite.all()):
            return
        bad, total = int((~finite).sum()), finite.numel()
    else:
        import numpy as np

        finite = np.isfinite(np.asarray(value))
        if finite.all():
            return
        bad, total = int((~finite).sum()), finite.size
    raise NonFiniteError(f"{where} holds NaN or Inf ({bad} of {total} values): {fix}; nothing was written")
