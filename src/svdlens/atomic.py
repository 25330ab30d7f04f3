"""Atomic output: results appear whole or not at all, and inputs are never overwritten."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

__all__ = ["staged_output"]


@contextmanager
def staged_output(out_dir, protect=()):
    """Write into a temporary folder beside ``out_dir``; on success move every file into place.

    ``protect`` lists input paths that must not be overwritten. If the block raises, nothing
    is moved and the temporary folder is removed, so ``out_dir`` never holds half-written files.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    guarded = {Path(p).resolve() for p in protect}
    stage = Path(tempfile.mkdtemp(prefix=".svdlens-", dir=out.parent if out.parent.exists() else None))
    try:
        yield stage
        for src in sorted(stage.rglob("*")):
            if src.is_dir():
                continue
            dest = out / src.relative_to(stage)
            if dest.resolve() in guarded:
                raise ValueError(f"refusing to overwrite the input {dest}; choose another --out")
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dest)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
