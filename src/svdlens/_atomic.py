"""Atomic output, the one home for writing results: whole or nothing, inputs never overwritten.

Two tools. :func:`atomic_write` writes one file through a temporary file in the same folder
and ``os.replace`` (atomic on POSIX). :func:`staged_output` stages a whole folder's worth of
files beside the output folder and moves them in only when the block succeeds. Before the
first file moves, every destination is checked:

- no output may be one of the inputs (``protect``);
- a file already there must have been written by svdlens, as recorded in the folder's
  manifest (``.svdlens-manifest.json``), unless ``force=True``.

So a refused run changes nothing in the output folder. The staging folder is removed on any
exit, SIGTERM included, and an output folder this run created is removed again if the run fails and left it empty.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .exceptions import OutputError

__all__ = ["atomic_write", "staged_output", "check_destinations", "check_output_folder", "MANIFEST"]

MANIFEST = ".svdlens-manifest.json"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write: Callable[[str], object]) -> Path:
    """Call ``write(tmp)`` on a temporary path beside ``path``, then move it into place.

    The file gets the permissions the user's umask gives a new file (``mkstemp`` alone makes
    it 0600). If ``write`` raises, ``path`` is untouched and the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".svdlens-", suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _read_manifest(out: Path) -> set[str]:
    try:
        data = json.loads((out / MANIFEST).read_text())
        return {str(name) for name in data.get("files", [])}
    except (OSError, ValueError, AttributeError):
        return set()


def check_destinations(out: Path, names: Iterable[str], protect: Iterable, force: bool) -> None:
    """Refuse, before anything moves, outputs that are inputs or files svdlens did not write."""
    guarded = [Path(p).resolve() for p in protect if p is not None]
    ours = _read_manifest(out)
    for name in sorted(names):  # inputs first: the most important refusal gets named
        target = (out / name).resolve()
        if any(target == g or (g.is_dir() and target.is_relative_to(g)) for g in guarded):
            raise OutputError(f"refusing to overwrite the input {out / name}: write the results to another folder")
    for name in sorted(names):
        dest = out / name
        if dest.is_dir() and not dest.is_symlink():
            raise OutputError(f"{dest} is a folder; an output file needs its place. Choose another output folder")
        if (dest.exists() or dest.is_symlink()) and name not in ours and not force:
            raise OutputError(
                f"{dest} exists and svdlens did not write it; choose another output folder or force the overwrite"
            )


def check_output_folder(out_dir: str | os.PathLike) -> Path:
    """Refuse, before any work, an output folder that cannot be written; returns it as a Path.

    A file in its place, a path under a file, a read-only file system, ``/proc``, or a folder
    without write permission: each is found by making (and removing) an empty folder where
    the results would go, so the answer is the operating system's own.

    Raises
    ------
    OutputError
        Naming the folder and the reason.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError(f"the output folder {out} is a file; give a folder")
    parent = out
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"cannot make the output folder {out}: {parent} is not a folder")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".svdlens-probe-", dir=parent))
    except OSError as err:
        raise OutputError(f"cannot write to the output folder {out} ({err.strerror}); choose another one") from None
    return out


_OUTPUT_FAULTS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG, errno.EIO}


def _output_fault(err: OSError, places: Iterable[Path]) -> bool:
    """Whether ``err`` came from writing the results: a disk or permission fault in one of ``places``."""
    if err.errno not in _OUTPUT_FAULTS:
        return False
    if err.filename is None:  # a write() on an open file names no path
        return True
    target = Path(os.fsdecode(err.filename)).absolute()
    return any(target == p or target.is_relative_to(p) for p in places)


@contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """Turn SIGTERM into an exception while the block runs, so ``finally`` clauses clean up."""
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL or not _main_thread():
        yield
        return

    def raise_exit(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, raise_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextmanager
def _faults_named(out: Path, stage: Path) -> Iterator[None]:
    """A disk-full, read-only or permission fault while writing the results becomes an OutputError naming ``out``."""
    try:
        yield
    except OSError as err:
        if not _output_fault(err, [out.absolute(), stage.absolute()]):
            raise
        raise OutputError(
            f"could not write the results to {out} ({err.strerror or err}); nothing was written there. "
            "Free some space or choose another output folder"
        ) from None


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


@contextmanager
def staged_output(out_dir: str | os.PathLike, protect: Iterable = (), *, force: bool = False) -> Iterator[Path]:
    """Write into a staging folder beside ``out_dir``; on success move every file into place.

    Parameters
    ----------
    out_dir : path
        The output folder; created if missing (and removed again if the block fails with it empty).
    protect : paths
        Inputs of the run; no output may overwrite one.
    force : bool
        Replace files in ``out_dir`` that svdlens did not write.

    Raises
    ------
    OutputError
        ``out_dir`` is a file, an output would overwrite an input, or a file svdlens did not
        write is in the way. Nothing has been moved when it is raised.
    """
    out = check_output_folder(out_dir)
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=".svdlens-", dir=out.parent))
    except OSError as err:
        raise OutputError(f"cannot write to the output folder {out} ({err.strerror}); choose another one") from None
    done = False
    try:
        with _sigterm_as_exit(), _faults_named(out, stage):
            yield stage
            names = [str(p.relative_to(stage)) for p in stage.rglob("*") if not p.is_dir()]
            check_destinations(out, names, protect, force)
            mode = 0o666 & ~_umask()
            for name in sorted(names):
                dest = out / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(stage / name, mode)
                os.replace(stage / name, dest)
            record = sorted(_read_manifest(out) | set(names))
            atomic_write(out / MANIFEST, lambda tmp: Path(tmp).write_text(json.dumps({"files": record}, indent=1)))
            done = True
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if created and not done:
            try:
                out.rmdir()  # only if still empty
            except OSError:
                pass
