"""Many local bases: on this machine, or as tasks on a ``dask.distributed`` cluster, each cached by content.

:func:`local_bases` maps a picklable ``basis_fn(item) -> LocalBasis`` over many items (the
images of Park et al. 2023's global basis, say). With a ``client`` (a ``distributed.Client`` or
a scheduler's address) every item is one task; ``basis_fn`` travels with it and may load its
model once per worker process. Results come back to the caller, which writes each one to
``cache_dir`` as it arrives, keyed by the item's contents and ``basis_fn.cache_token``: the
workers need no shared disk, a rerun after a failure computes only what is missing, and a
worker that dies loses only the task it was running (the scheduler gives it to another worker).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import hashlib
import os
import tempfile
import uuid
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from .._dask import connect, require_distributed
from .._progress import Progress, report
from ..exceptions import (
    InputFileError,
    ModelError,
    OutputError,
    SvdlensError,
    SvdlensWarning,
)
from ._basis import LocalBasis, _hash_tensor

__all__ = ["local_bases", "BasisRun", "connect"]

LABEL = "local bases"
MIN_IN_FLIGHT = 4  # tasks handed to the cluster at once, at least; else twice its threads


class BasisRun(NamedTuple):
    """What :func:`local_bases` made: one basis per item, their cache keys, and which were computed.

    Attributes
    ----------
    bases : list of LocalBasis
        One per item, in the items' order, without their live ``jacobian``.
    keys : list of str
        Each item's cache key (32 hex digits), or ``""`` for all when there is no cache.
    computed : list of int
        The items computed by this call, in order; the others were read from the cache.
    """

    bases: list[LocalBasis]
    keys: list[str]
    computed: list[int]


def _token(basis_fn: Callable) -> str:
    token = getattr(basis_fn, "cache_token", None)
    if not isinstance(token, str) or not token:
        raise SvdlensError(
            f"caching needs basis_fn.cache_token, a string that names the model and every setting of "
            f"{getattr(basis_fn, '__qualname__', type(basis_fn).__name__)}, so that a cached basis is never "
            "reused for other settings; give the callable one, or leave cache_dir out"
        )
    return token


def _item_key(token: str, item: Any) -> str:
    """32 hex digits over ``token`` and the item's contents (shape, dtype and bytes of an array; a file's bytes)."""
    h = hashlib.sha256()
    h.update(token.encode())
    h.update(b"\0")
    _feed(h, item)
    return h.hexdigest()[:32]


def _feed(h: Any, item: Any) -> None:
    """Hash what ``item`` holds, unambiguously: each part says its kind and its length."""

    def chunk(kind: str, data: bytes) -> None:
        h.update(f"{kind}:{len(data)}:".encode())
        h.update(data)

    if isinstance(item, torch.Tensor):
        h.update(b"tensor")
        _hash_tensor(h, item)
    elif isinstance(item, np.ndarray):
        a = np.ascontiguousarray(item)
        if a.dtype.hasobject:
            raise SvdlensError("cannot key an array of Python objects for the cache; give numbers")
        chunk("array", str((a.shape, a.dtype.str)).encode())
        chunk("data", a.tobytes())
    elif isinstance(item, (bytes, bytearray)):
        chunk("bytes", bytes(item))
    elif isinstance(item, Path):
        chunk("path", str(item).encode())
        if item.is_file():  # keyed by what it holds too, so that an edited file is never served from the cache
            data = hashlib.sha256()
            try:
                with open(item, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        data.update(block)
            except OSError as err:
                raise InputFileError(f"cannot read {item} to key it for the cache: {err.strerror or err}") from None
            chunk("file", data.digest())
    elif isinstance(item, (tuple, list)):
        h.update(f"{type(item).__name__}:{len(item)}:".encode())
        for part in item:
            _feed(h, part)
    elif isinstance(item, (str, int, float, bool)) or item is None:
        chunk(type(item).__name__, repr(item).encode())
    else:
        raise SvdlensError(
            f"cannot key an item of type {type(item).__name__} for the cache; give arrays, tensors, "
            "files, bytes, strings or numbers"
        )


def _check_cache_folder(cache: Path) -> None:
    """Refuse, before any work, a cache folder that is a file or cannot be written (without making it)."""
    if cache.exists() and not cache.is_dir():
        raise OutputError(f"the cache folder {cache} is a file; give a folder, or leave the cache out")
    existing = cache
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"cannot make the cache folder {cache}: {existing} is a file; give another folder")
    try:
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".svdlens-probe-")
    except OSError as err:
        where = "" if existing == cache else f" (its parent {existing} cannot be written)"
        raise OutputError(
            f"cannot write to the cache folder {cache}{where}: {err.strerror or err}; make it writable, "
            "or give another folder"
        ) from None
    os.close(fd)
    os.remove(probe)


def _compute(basis_fn: Callable[[Any], LocalBasis], item: Any) -> tuple[LocalBasis, list[tuple[type, str]]]:
    """The task: one basis, without its live Jacobian (it holds the model and does not travel),
    and the warnings it raised, which the caller shows once each (a worker's would be lost).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SvdlensWarning)
        basis = basis_fn(item)
    if not isinstance(basis, LocalBasis):
        raise SvdlensError(f"basis_fn returned a {type(basis).__name__}, not a LocalBasis")
    notes = [(w.category, str(w.message)) for w in caught]
    return dataclasses.replace(basis, jacobian=None), notes


def _failed(name: str, err: BaseException) -> SvdlensError:
    if type(err).__name__ == "KilledWorker":
        return SvdlensError(
            f"the local basis of {name} killed every worker that tried it ({err}); the bases finished so far "
            "are cached, so a rerun computes only the rest"
        )
    if isinstance(err, (concurrent.futures.CancelledError, asyncio.CancelledError)):
        return SvdlensError(
            f"the dask cluster cancelled the local basis of {name} (the scheduler went away?); the bases "
            "finished so far are cached, so a rerun computes only the rest"
        )
    return ModelError(f"the local basis of {name} failed: {type(err).__name__}: {err}")


def local_bases(
    items: Sequence[Any],
    basis_fn: Callable[[Any], LocalBasis],
    *,
    client: Any = None,
    cache_dir: str | Path | None = None,
    progress: Progress = None,
    timeout: float = 10.0,
    names: Sequence[str] | None = None,
) -> BasisRun:
    """``basis_fn(item)`` for every item, here or as tasks on a dask cluster, each result cached.

    Parameters
    ----------
    items : sequence
        What to take a local basis at (images, points). ``items[i]`` is read once, when item
        i's turn comes, so a sequence that reads files on indexing keeps memory flat.
    basis_fn : callable
        ``basis_fn(item) -> LocalBasis``. With a ``client`` it must pickle (a module-level
        function or an instance of a module-level class; no lambdas); a model it needs is
        best loaded once per process, inside it. With a ``cache_dir`` it needs a
        ``cache_token`` attribute, a string that names its model and every setting.
    client : distributed.Client or str, optional
        Run one task per item on this dask cluster (a client, or a scheduler's address to
        connect to and close again). Default: one after another in this process.
    cache_dir : path, optional
        Read item i's basis from ``basis-<key>.safetensors`` there if it exists, and write it
        there (atomically, from this process; the folder is made then) as soon as it is
        computed. The key is a hash of ``basis_fn.cache_token`` and the item's contents (a
        file item: its path and its bytes). An entry that cannot be read as a basis (corrupt,
        or another program's file) is named in a :class:`~svdlens.exceptions.SvdlensWarning`,
        computed again and replaced.
    progress : callable, optional
        ``progress(done, total, label)`` after each basis, cached ones included.
    timeout : float
        Seconds the whole connection may take when ``client`` is an address (see
        ``svdlens._dask.connect``: a silent peer or one that is not dask is refused in time).
    names : sequence of str, optional
        How errors name the items (default: ``item 0``, ``item 1``, ...).

    Returns
    -------
    BasisRun
        ``bases`` in the items' order (without their live ``jacobian``), their cache ``keys``,
        and the indices of the items ``computed`` by this call.

    Raises
    ------
    OutputError
        A ``cache_dir`` that is a file or cannot be written (checked before any work), or a
        cache entry that is a folder; each names the path.
    SvdlensError
        No items; a ``cache_dir`` without ``basis_fn.cache_token``; items that cannot be
        keyed; no scheduler at ``client``, or a peer there that is not one; a task that
        killed every worker that ran it. An error of ``basis_fn`` itself comes back as it was raised (an svdlens
        error) or as a :class:`~svdlens.exceptions.ModelError` that names the item. Either way
        the bases finished before it stay in the cache.
    MissingDependencyError
        ``client`` given but distributed is not installed.

    Notes
    -----
    Tasks go to the cluster a few at a time (twice its threads, at least four), so the items
    need not all fit in memory at once. A worker that dies (killed, out of memory) takes only
    its running task with it: dask gives that task to another worker, and gives up on it
    after ``distributed.scheduler.allowed-failures`` deaths (3 by default).

    Examples
    --------
    >>> import torch, svdlens as sl
    >>> from svdlens.nets import local_bases
    >>> W = torch.tensor([[3.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    >>> def basis(x):
    ...     return sl.local_basis(lambda y: W @ y, x, k=1, method="exact")
    >>> run = local_bases([torch.ones(2), torch.zeros(2)], basis)
    >>> [b.s.tolist() for b in run.bases], run.computed
    ([[3.0], [3.0]], [0, 1])
    """
    n = len(items)
    if n == 0:
        raise SvdlensError("no items: need at least one to take a local basis at")
    if not callable(basis_fn):
        raise SvdlensError(f"basis_fn must be callable; got {type(basis_fn).__name__}")
    if names is not None and len(names) != n:
        raise SvdlensError(f"names has {len(names)} entries for {n} items")
    label = [f"item {i}" for i in range(n)] if names is None else [str(s) for s in names]
    cache = None if cache_dir is None else Path(cache_dir)
    token = _token(basis_fn) if cache is not None else ""
    if cache is not None:
        _check_cache_folder(cache)

    bases: list[LocalBasis | None] = [None] * n
    keys = [""] * n
    computed: list[int] = []
    done = 0
    report(progress, 0, n, LABEL)

    def cached(i: int, item: Any) -> bool:
        nonlocal done
        if cache is None:
            return False
        keys[i] = _item_key(token, item)
        path = cache / f"basis-{keys[i]}.safetensors"
        if path.is_dir():
            raise OutputError(
                f"the cache entry {path} is a folder, where svdlens keeps a basis file; remove it, or give another "
                "cache folder"
            )
        if not path.exists():
            return False
        try:
            bases[i] = LocalBasis.load(path)
        except InputFileError as err:
            # corrupt (a disk that filled up) or foreign (not a basis): say so, compute it again, replace it
            reason = " ".join(str(err).split())
            warnings.warn(f"{reason}; computing it again and replacing the cache entry", SvdlensWarning, stacklevel=4)
            return False
        done += 1
        report(progress, done, n, LABEL)
        return True

    seen: set[tuple[type, str]] = set()

    def finish(i: int, result: tuple[LocalBasis, list[tuple[type, str]]]) -> None:
        nonlocal done
        basis, notes = result
        for note in notes:
            if note not in seen:
                seen.add(note)
                warnings.warn(note[1], note[0], stacklevel=4)
        if cache is not None:
            path = cache / f"basis-{keys[i]}.safetensors"
            try:
                basis.save(path)
            except OSError as err:
                raise OutputError(
                    f"cannot write the cached basis {path}: {err.strerror or err}; make the cache folder writable "
                    "(or free space on its disk), or give another folder"
                ) from None
        bases[i] = basis
        computed.append(i)
        done += 1
        report(progress, done, n, LABEL)

    if client is None:
        for i in range(n):
            item = items[i]
            if cached(i, item):
                continue
            try:
                result = _compute(basis_fn, item)
            except SvdlensError:
                raise
            except Exception as err:
                raise _failed(label[i], err) from err
            finish(i, result)
    else:
        own = isinstance(client, (str, Path))
        if own:
            client = connect(str(client), timeout)
        try:
            _run_on_cluster(client, items, basis_fn, cached, finish, label)
        finally:
            if own:
                client.close()
    return BasisRun([b for b in bases if b is not None], keys, sorted(computed))


def _run_on_cluster(client, items, basis_fn, cached, finish, label) -> None:
    """Feed the cluster a few tasks at a time; finish each result as it comes back."""
    distributed = require_distributed("running local bases on a dask cluster")
    run = uuid.uuid4().hex[:8]
    threads = sum(client.nthreads().values())
    window = max(MIN_IN_FLIGHT, 2 * threads)
    pending: dict[Any, int] = {}
    # with_results: each result is fetched as soon as it is done, so a worker that dies later
    # does not take finished work with it.
    queue = distributed.as_completed(loop=client.loop, with_results=True, raise_errors=False)
    upcoming = iter(range(len(items)))

    def fill() -> None:
        while len(pending) < window:
            i = next(upcoming, None)
            if i is None:
                return
            item = items[i]
            if cached(i, item):
                continue
            future = client.submit(_compute, basis_fn, item, key=f"local_basis-{run}-{i}", pure=False)
            pending[future] = i
            queue.add(future)

    try:
        fill()
        for future, result in queue:
            i = pending.pop(future)
            if future.status != "finished":
                try:
                    future.result()  # raises the task's error, KilledWorker, or a cancellation
                except (SvdlensError, KeyboardInterrupt, SystemExit):
                    raise
                except BaseException as err:
                    raise _failed(label[i], err) from None
                raise _failed(label[i], RuntimeError(f"the task ended as {future.status!r}"))
            finish(i, result)
            fill()
    finally:
        if pending:
            client.cancel(list(pending))
