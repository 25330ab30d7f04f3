"""Reading matrices from text ("2 1; 1 3") and from files (.npy, .npz, .csv, .txt, .mtx)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import scipy.io
import scipy.sparse as sp

from ..exceptions import InputFileError, MatrixParseError, MissingInputError

__all__ = ["parse_matrix", "parse_vector", "load_matrix", "read_matrix", "read_npy", "read_npz", "npy_layout"]

FILE_TYPES = (".npy", ".npz", ".csv", ".txt", ".mtx")


def parse_matrix(text: str) -> np.ndarray:
    """Read a matrix written MATLAB-style: rows split by ``;`` or new lines, entries by spaces or commas.

    Surrounding brackets are allowed: ``"[2 1; 1 3]"``, ``"2,1;1,3"`` and ``"2 1\\n1 3"`` all
    give ``[[2, 1], [1, 3]]``.

    Parameters
    ----------
    text : str
        The matrix as text.

    Returns
    -------
    numpy.ndarray
        The matrix, float64, of shape ``(rows, columns)``.

    Raises
    ------
    MatrixParseError
        Not text, no numbers, a token that is not a number (its row, column and character
        are named), or rows of different lengths.

    Examples
    --------
    >>> parse_matrix("0.4 0.2; 1 3").tolist()
    [[0.4, 0.2], [1.0, 3.0]]
    """
    if not isinstance(text, str):
        raise MatrixParseError(f"expected a matrix as text; got {type(text).__name__}")
    body = text.strip()
    if body.startswith("[") and body.endswith("]"):
        body = body[1:-1]
    rows: list[list[float]] = []
    widths: list[int] = []
    offset = text.find(body) if body else 0
    for m in re.finditer(r"[^;\n]+|(?<=;)(?=;)", body):
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
        raise MatrixParseError(f'cannot read {text!r}: no numbers found; write rows like "2 1; 1 3"')
    if len(set(widths)) > 1:
        bad = next(i for i, w in enumerate(widths) if w != widths[0])
        raise MatrixParseError(
            f"cannot read {text!r}: row {bad + 1} has {widths[bad]} entries but row 1 has {widths[0]}; "
            "every row needs the same number"
        )
    return np.array(rows, dtype=np.float64)


def parse_vector(text: str) -> np.ndarray:
    """Read a vector: ``"2 1"``, ``"2,1"`` or ``"[2; 1]"``.

    Parameters
    ----------
    text : str
        One row or one column written as for :func:`parse_matrix`.

    Returns
    -------
    numpy.ndarray
        The vector, float64, of shape ``(n,)``.

    Raises
    ------
    MatrixParseError
        The text does not read as a matrix, or the matrix has more than one row and column.

    Examples
    --------
    >>> parse_vector("[2; 1]").tolist()
    [2.0, 1.0]
    """
    M = parse_matrix(text)
    if min(M.shape) != 1:
        raise MatrixParseError(f"cannot read {text!r} as a vector: it has shape {M.shape}")
    return M.reshape(-1)


def load_matrix(path: str | Path, key: str | None = None) -> np.ndarray | sp.csr_array:
    """Load a matrix from ``.npy``, ``.npz`` (the only array, or ``key``), ``.csv``/``.txt`` or ``.mtx``.

    Parameters
    ----------
    path : str or pathlib.Path
        The file; its extension says how to read it.
    key : str, optional
        The array to take from an ``.npz`` that holds several.

    Returns
    -------
    numpy.ndarray or scipy.sparse.csr_array
        The matrix as stored; ``.mtx`` files give a scipy sparse matrix when they are stored sparse.

    Raises
    ------
    MissingInputError
        No such file.
    MatrixParseError
        An unknown extension, an unreadable file, or an ``.npz`` without (or with an ambiguous) ``key``.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "A.npy")
    >>> np.save(path, np.eye(2))
    >>> load_matrix(path).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"no such file: {path}")
    ext = path.suffix.lower()
    try:
        if ext == ".npy":
            return read_npy(path)
        if ext == ".npz":
            arrays = read_npz(path)
            names = list(arrays)
            if key is None:
                if len(names) != 1:
                    raise MatrixParseError(f"{path} holds {len(names)} arrays ({', '.join(names)}); name one (its key)")
                key = names[0]
            if key not in names:
                raise MatrixParseError(f"{path} has no array {key!r}; it holds {', '.join(names)}")
            return arrays[key]
        if ext in (".csv", ".txt"):
            delimiter = "," if ext == ".csv" else None
            return _read_text_table(path, delimiter)
        if ext == ".mtx":
            M = scipy.io.mmread(str(path))
            return sp.csr_array(M) if sp.issparse(M) else np.asarray(M)
    except MatrixParseError:
        raise
    except InputFileError as err:
        raise MatrixParseError(str(err)) from None
    except (ValueError, OSError) as err:
        raise MatrixParseError(f"cannot read {path}: {err}") from None
    raise MatrixParseError(f"cannot read {path}: unknown file type {ext!r}; use one of {', '.join(FILE_TYPES)}")


def npy_layout(path: str | Path) -> tuple[tuple[int, ...], np.dtype, int, bool]:
    """The header of a ``.npy`` file: ``(shape, dtype, data offset, fortran order)``, checked.

    The size the header declares is checked against the file's size before anything is
    allocated, so a header that lies (claiming 10⁶×10⁶ in a small file) is an error, not a
    ``MemoryError``. Object arrays (pickles) are refused.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"no such file: {path}")
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            shape, fortran, dtype = _read_header(f, version)
            offset = f.tell()
    except (ValueError, OSError) as err:
        raise InputFileError(f"cannot read {path}: not a valid .npy file ({err})") from None
    _check_declared(path, shape, dtype, path.stat().st_size - offset)
    return tuple(shape), dtype, offset, bool(fortran)


def _read_header(f, version):
    fmt = np.lib.format
    return fmt.read_array_header_1_0(f) if version == (1, 0) else fmt.read_array_header_2_0(f)


def _check_declared(where, shape, dtype, available: int) -> None:
    if dtype.hasobject:
        raise InputFileError(
            f"cannot read {where}: it holds Python objects; only numeric arrays are read (pickles can run code)"
        )
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if declared > available:
        raise InputFileError(
            f"{where} declares an array of shape {tuple(shape)} ({declared:,} bytes) but holds only "
            f"{available:,} bytes of data; the file is truncated or its header is wrong"
        )


def read_npy(path: str | Path, *, mmap: bool = False) -> np.ndarray:
    """Read a ``.npy`` file after checking its header (:func:`npy_layout`); ``mmap`` maps it read-only."""
    npy_layout(path)
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise InputFileError(f"cannot read {path}: {err}") from None


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Read every array of a ``.npz`` file, each header checked against its stored size first."""
    import zipfile

    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                with zf.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    shape, _, dtype = _read_header(f, version)
                    _check_declared(f"{path} [{info.filename}]", shape, dtype, info.file_size)
        with np.load(path, allow_pickle=False) as z:
            return {name: z[name] for name in z.files}
    except InputFileError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile) as err:
        raise InputFileError(f"cannot read {path}: {err}") from None


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


def read_matrix(spec: str, key: str | None = None) -> np.ndarray | sp.csr_array:
    """A matrix from a file path (by its extension) or from matrix text.

    Parameters
    ----------
    spec : str
        A path to a ``.npy``, ``.npz``, ``.csv``, ``.txt`` or ``.mtx`` file (see
        :func:`load_matrix`), or matrix text such as ``"2 1; 1 3"`` (see :func:`parse_matrix`).
    key : str, optional
        The array to take from an ``.npz`` that holds several.

    Returns
    -------
    numpy.ndarray or scipy.sparse.csr_array
        The matrix.

    Raises
    ------
    MatrixParseError
        Text that does not read as a matrix, or a file that cannot be read.
    MissingInputError
        A path with a matrix file's extension that does not exist.

    Examples
    --------
    >>> read_matrix("2 1; 1 3").tolist()
    [[2.0, 1.0], [1.0, 3.0]]
    """
    if spec.lower().endswith(FILE_TYPES) or _is_file(spec):
        return load_matrix(spec, key)
    return parse_matrix(spec)


def _is_file(spec: str) -> bool:
    try:
        return Path(spec).is_file()
    except OSError:  # text too long to be a file name: it is matrix text
        return False
