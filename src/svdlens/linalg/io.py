"""Reading matrices from text ("2 1; 1 3") and from files (.npy, .npz, .csv, .txt, .mtx)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import scipy.io
import scipy.sparse as sp

__all__ = ["parse_matrix", "parse_vector", "load_matrix", "read_matrix", "MatrixParseError"]

FILE_TYPES = (".npy", ".npz", ".csv", ".txt", ".mtx")


class MatrixParseError(ValueError):
    """A matrix string or file could not be read; the message names the bad token and where."""


def parse_matrix(text: str) -> np.ndarray:
    """Read a matrix written MATLAB-style: rows split by ``;`` or new lines, entries by spaces or commas.

    Surrounding brackets are allowed: ``"[2 1; 1 3]"``, ``"2,1;1,3"`` and ``"2 1\\n1 3"`` all
    give ``[[2, 1], [1, 3]]``.

    >>> parse_matrix("0.4 0.2; 1 3").tolist()
    [[0.4, 0.2], [1.0, 3.0]]
    """
    if not isinstance(text, str):
        raise MatrixParseError(f"expected a matrix as text; got {type(text).__name__}")
    body = text.strip()
    if body.startswith("[") and body.endswith("]"):
        body = body[1:-1]
    rows, widths = [], []
    offset = text.find(body) if body else 0
    for r, m in enumerate(re.finditer(r"[^;\n]+|(?<=;)(?=;)", body)):
        row_text = m.group(0)
        tokens = [(t.group(0), offset + m.start() + t.start()) for t in re.finditer(r"[^\s,\[\]]+", row_text)]
        if not tokens:
            continue
        values = []
        for c, (tok, pos) in enumerate(tokens):
            try:
                values.append(float(tok))
            except ValueError:
                raise MatrixParseError(
                    f"cannot read {text!r}: token {tok!r} at row {len(rows) + 1}, column {c + 1} "
                    f"(character {pos + 1}) is not a number"
                ) from None
        rows.append(values)
        widths.append(len(values))
    if not rows:
        raise MatrixParseError(f"cannot read {text!r}: no numbers found; write rows like \"2 1; 1 3\"")
    if len(set(widths)) > 1:
        bad = next(i for i, w in enumerate(widths) if w != widths[0])
        raise MatrixParseError(
            f"cannot read {text!r}: row {bad + 1} has {widths[bad]} entries but row 1 has {widths[0]}; "
            "every row needs the same number"
        )
    return np.array(rows, dtype=np.float64)


def parse_vector(text: str) -> np.ndarray:
    """Read a vector: ``"2 1"``, ``"2,1"`` or ``"[2; 1]"``."""
    M = parse_matrix(text)
    if min(M.shape) != 1:
        raise MatrixParseError(f"cannot read {text!r} as a vector: it has shape {M.shape}")
    return M.reshape(-1)


def load_matrix(path, key: str | None = None):
    """Load a matrix from ``.npy``, ``.npz`` (the only array, or ``key``), ``.csv``/``.txt`` or ``.mtx``.

    ``.mtx`` files give a scipy sparse matrix when they are stored sparse.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    ext = path.suffix.lower()
    try:
        if ext == ".npy":
            return np.load(path, allow_pickle=False)
        if ext == ".npz":
            with np.load(path, allow_pickle=False) as z:
                names = list(z.keys())
                if key is None:
                    if len(names) != 1:
                        raise MatrixParseError(
                            f"{path} holds {len(names)} arrays ({', '.join(names)}); name one with --key"
                        )
                    key = names[0]
                if key not in names:
                    raise MatrixParseError(f"{path} has no array {key!r}; it holds {', '.join(names)}")
                return z[key]
        if ext in (".csv", ".txt"):
            delimiter = "," if ext == ".csv" else None
            return _read_text_table(path, delimiter)
        if ext == ".mtx":
            M = scipy.io.mmread(str(path))
            return sp.csr_array(M) if sp.issparse(M) else np.asarray(M)
    except MatrixParseError:
        raise
    except (ValueError, OSError) as err:
        raise MatrixParseError(f"cannot read {path}: {err}") from None
    raise MatrixParseError(f"cannot read {path}: unknown file type {ext!r}; use one of {', '.join(FILE_TYPES)}")


def _read_text_table(path: Path, delimiter):
    lines = [ln for ln in path.read_text().splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    rows = []
    for i, line in enumerate(lines):
        cells = line.split(delimiter) if delimiter else line.split()
        row = []
        for j, cell in enumerate(cells):
            try:
                row.append(float(cell))
            except ValueError:
                raise MatrixParseError(
                    f"cannot read {path}: {cell.strip()!r} at line {i + 1}, column {j + 1} is not a number"
                ) from None
        rows.append(row)
    if not rows:
        raise MatrixParseError(f"cannot read {path}: the file holds no numbers")
    widths = {len(r) for r in rows}
    if len(widths) > 1:
        raise MatrixParseError(f"cannot read {path}: rows have different lengths {sorted(widths)}")
    return np.array(rows)


def read_matrix(spec: str, key: str | None = None):
    """A matrix from a file path (by its extension) or from matrix text."""
    if spec.lower().endswith(FILE_TYPES) or Path(spec).is_file():
        return load_matrix(spec, key)
    return parse_matrix(spec)
