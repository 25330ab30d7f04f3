"""Face images in: the built-in faces from scikit-image, folders of images, .npy and .npz files."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, overload

import numpy as np

from .. import _defaults
from ..exceptions import InputFileError, MissingInputError, SkippedFilesWarning, SvdlensError
from ..linalg._io import read_npy, read_npz

__all__ = ["builtin", "load", "read_image", "fit_to_size", "LoadReport", "IMAGE_EXTENSIONS"]

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".pgm", ".ppm", ".pbm", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


@dataclass
class LoadReport:
    """What :func:`load` read, skipped and changed.

    Attributes
    ----------
    loaded : list of str
        The files (or ``name.npy[i]`` entries) that were loaded, in order.
    skipped : dict of str to str
        File name -> why it was skipped.
    resized : list of str
        The images that were resized or centre-cropped to ``size``.
    size : tuple of int, optional
        The size ``(h, w)`` of the loaded images.

    Examples
    --------
    >>> print(LoadReport(loaded=["a.png"], skipped={"b.txt": "not an image file (.txt)"}, size=(2, 2)).summary())
    loaded 1 image(s) of size (2, 2)
    skipped b.txt: not an image file (.txt)
    """

    loaded: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # file name -> why
    resized: list[str] = field(default_factory=list)
    size: tuple[int, ...] | None = None

    def summary(self) -> str:
        """The report as lines of text, one per resize note and per skipped file.

        Returns
        -------
        str
            Newline-separated lines.
        """
        lines = [f"loaded {len(self.loaded)} image(s) of size {self.size}"]
        if self.resized:
            lines.append(f"resized or cropped {len(self.resized)} to {self.size}")
        for name, why in self.skipped.items():
            lines.append(f"skipped {name}: {why}")
        return "\n".join(lines)


def builtin(kind: str = "faces") -> np.ndarray:
    """The built-in 25×25 crops of scikit-image's ``lfw_subset`` (shipped in its wheel: no download).

    Parameters
    ----------
    kind : {"faces", "nonfaces", "all"}
        ``"faces"`` gives the 100 faces, ``"nonfaces"`` the 100 non-face crops,
        ``"all"`` both (faces first).

    Returns
    -------
    numpy.ndarray
        Float64 in [0, 1], shape (100, 25, 25) (200 images for ``"all"``).

    Raises
    ------
    SvdlensError
        An unknown ``kind``.

    Examples
    --------
    >>> import svdlens as sl
    >>> X = sl.faces.builtin()
    >>> X.shape, X.dtype.name, bool(X.min() >= 0 and X.max() <= 1)
    ((100, 25, 25), 'float64', True)
    >>> sl.faces.builtin(kind="all").shape
    (200, 25, 25)
    """
    from skimage.data import lfw_subset

    data = lfw_subset()
    parts = {"faces": data[:100], "nonfaces": data[100:], "all": data}
    if kind not in parts:
        raise SvdlensError(f"unknown kind {kind!r}; choose 'faces', 'nonfaces' or 'all'")
    return np.array(parts[kind], dtype=np.float64)


def _as_size(size) -> tuple[int, int] | None:
    if size is None:
        return None
    if isinstance(size, (int, np.integer)):
        size = (int(size), int(size))
    h, w = (int(s) for s in size)
    if h < 1 or w < 1:
        raise SvdlensError(f"size must be positive; got {size}")
    return h, w


def fit_to_size(image: np.ndarray, size: tuple[int, ...]) -> np.ndarray:
    """Scale so that the image covers ``size``, then crop its centre to ``size``."""
    from skimage.transform import resize

    h, w = image.shape
    th, tw = size
    if (h, w) == (th, tw):
        return image
    scale = max(th / h, tw / w)
    nh, nw = max(th, round(h * scale)), max(tw, round(w * scale))
    scaled = resize(image, (nh, nw), anti_aliasing=scale < 1, preserve_range=True)
    top, left = (nh - th) // 2, (nw - tw) // 2
    return scaled[top : top + th, left : left + tw]


def read_image(path: str | Path, *, color: bool = False, max_pixels: int | None = None) -> np.ndarray:
    """Read one image file as floats in [0, 1]: the one image reader of svdlens.

    Parameters
    ----------
    path : path
        A PNG, JPEG, BMP, TIFF, WebP, PGM, ... file.
    color : bool
        False: grayscale (h, w), by ITU-R 601 luma for colour images. True: (h, w) for a
        grayscale file, (3, h, w) RGB for a colour one (alpha is dropped).
    max_pixels : int, optional
        The largest width × height read; checked from the header, before any decoding.
        Default: ``svdlens._defaults.max_pixels()``, the cap in force (``svdlens --max-pixels`` raises it).

    Returns
    -------
    numpy.ndarray
        Float64 in [0, 1]. 8-bit images are divided by 255 and 16-bit ones by 65535, so the
        same picture gives the same array at either depth.

    Raises
    ------
    MissingInputError
        No such file.
    InputFileError
        Not an image, corrupt, or larger than ``max_pixels``.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from PIL import Image
    >>> path = os.path.join(tempfile.mkdtemp(), "g.png")
    >>> Image.fromarray(np.array([[0, 255]], dtype=np.uint8)).save(path)
    >>> read_image(path).tolist()
    [[0.0, 1.0]]
    """
    from PIL import Image

    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"no image file {path}")
    if max_pixels is None:
        max_pixels = _defaults.max_pixels()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                w, h = img.size
                if w * h > max_pixels:
                    raise InputFileError(
                        f"{path} is {w}×{h} = {w * h:,} pixels, more than the limit of {max_pixels:,}; "
                        "shrink it first or raise the pixel limit"
                    )
                img.load()
                return _to_array(img, color)
    except InputFileError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise InputFileError(f"{path} is too large to decode safely ({err})") from None
    except Exception as err:  # Pillow raises several types for corrupt or unknown files
        raise InputFileError(f"cannot read the image {path}: {type(err).__name__}: {err}") from None


def _to_array(img, color: bool) -> np.ndarray:
    if img.mode.startswith("I;16") or img.mode == "I":
        return np.clip(np.asarray(img, dtype=np.float64) / 65535.0, 0.0, 1.0)
    if img.mode == "F":
        return np.asarray(img, dtype=np.float64)
    if color and img.mode not in ("L", "LA", "1") and not (img.mode == "P" and _palette_is_gray(img)):
        return np.moveaxis(np.asarray(img.convert("RGB"), dtype=np.float64) / 255.0, -1, 0)
    return np.asarray(img.convert("L"), dtype=np.float64) / 255.0


def _palette_is_gray(img) -> bool:
    rgb = np.asarray(img.convert("RGB"))
    return bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())


def _load_folder(folder: Path, size, report: LoadReport) -> np.ndarray:
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise SvdlensError(f"the folder {folder} is empty; put face images (png, jpg, pgm, ...) in it")
    images, names = [], []
    for path in files:
        if path.suffix.lower() not in IMAGE_EXTENSIONS:
            report.skipped[path.name] = f"not an image file ({path.suffix or 'no extension'})"
            continue
        try:
            img = read_image(path)
        except InputFileError as err:
            report.skipped[path.name] = f"could not be decoded ({err})"
            continue
        images.append(img)
        names.append(path.name)
    if not images:
        reasons = "; ".join(f"{n}: {w}" for n, w in list(report.skipped.items())[:5])
        raise SvdlensError(f"no readable images in {folder} ({reasons})")
    shapes = {im.shape for im in images}
    if size is None and len(shapes) > 1:
        listing = ", ".join(f"{h}×{w}" for h, w in sorted(shapes))
        raise SvdlensError(
            f"the images in {folder} have different sizes ({listing}); pass size=(h, w) "
            "to resize and centre-crop them to one size"
        )
    target = size or images[0].shape
    out = []
    for name, img in zip(names, images):
        if img.shape != target:
            img = fit_to_size(img, target)
            report.resized.append(name)
        out.append(img)
    report.loaded = names
    return np.stack(out)


def _load_array(path: Path, size, report: LoadReport) -> np.ndarray:
    if path.suffix.lower() == ".npz":
        arrays = read_npz(path)
        if len(arrays) != 1:
            raise InputFileError(f"{path} holds {len(arrays)} arrays ({', '.join(arrays)}); save one (n, h, w) array")
        arr = next(iter(arrays.values()))
    else:
        arr = read_npy(path, mmap=True)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise SvdlensError(f"{path} holds an array of shape {arr.shape}; expected images as (n, h, w)")
    if arr.dtype.kind not in "biuf":
        raise SvdlensError(f"{path} holds {arr.dtype} data; expected numbers")
    arr = np.asarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise SvdlensError(f"{path} contains NaN or Inf (the first in image {bad[0]}); clean it first")
    if size is not None and arr.shape[1:] != size:
        arr = np.stack([fit_to_size(im, size) for im in arr])
        report.resized = [f"{path.name}[{i}]" for i in range(len(arr))]
    report.loaded = [f"{path.name}[{i}]" for i in range(len(arr))]
    return arr


@overload
def load(
    path: str | Path, size: int | tuple[int, int] | None = ..., *, return_report: Literal[False] = ...
) -> np.ndarray: ...


@overload
def load(
    path: str | Path, size: int | tuple[int, int] | None = ..., *, return_report: Literal[True]
) -> tuple[np.ndarray, LoadReport]: ...


def load(
    path: str | Path, size: int | tuple[int, int] | None = None, *, return_report: bool = False
) -> np.ndarray | tuple[np.ndarray, LoadReport]:
    """Load face images as an array ``(n, h, w)`` of floats.

    Colour images are converted to grayscale. Files that are not images, and images that
    cannot be decoded, are skipped with a :class:`~svdlens.exceptions.SkippedFilesWarning` that names them.

    Parameters
    ----------
    path : str or pathlib.Path
        A folder of images (png, jpg, pgm, ...), or a ``.npy`` / ``.npz`` file of shape (n, h, w).
    size : int or (int, int), optional
        Resize and centre-crop every image to this size. Without it, the images must share a size.
    return_report : bool
        Also return a :class:`LoadReport` of what was loaded, skipped (and why) and resized.

    Returns
    -------
    numpy.ndarray or (numpy.ndarray, LoadReport)
        The images, float64 ``(n, h, w)`` (in [0, 1] when read from image files), and with
        ``return_report=True`` the report as well.

    Raises
    ------
    MissingInputError
        No such file or folder.
    SvdlensError
        An empty folder, no readable images, images of different sizes without ``size``, or
        an array that is not ``(n, h, w)`` finite numbers.

    Warns
    -----
    SkippedFilesWarning
        Some files were skipped; the message names each one and why.

    Examples
    --------
    >>> import numpy as np, os, tempfile, svdlens as sl
    >>> path = os.path.join(tempfile.mkdtemp(), "faces.npy")
    >>> np.save(path, np.zeros((3, 4, 5)))
    >>> sl.faces.load(path).shape
    (3, 4, 5)
    >>> X, report = sl.faces.load(path, size=2, return_report=True)
    >>> X.shape, report.size
    ((3, 2, 2), (2, 2))
    """
    path = Path(path)
    size = _as_size(size)
    report = LoadReport()
    if not path.exists():
        raise MissingInputError(f"no such file or folder: {path}")
    if path.is_dir():
        X = _load_folder(path, size, report)
    elif path.suffix.lower() in (".npy", ".npz"):
        X = _load_array(path, size, report)
    else:
        raise SvdlensError(f"cannot load faces from {path}: give a folder of images or a .npy/.npz file")
    report.size = tuple(int(s) for s in X.shape[1:])
    if report.skipped:
        warnings.warn(report.summary(), SkippedFilesWarning, stacklevel=2)
    return (X, report) if return_report else X
