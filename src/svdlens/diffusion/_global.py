"""Directions shared by many images (Park et al. 2023's global basis), here or on a dask cluster.

:class:`ImageBasis` is the task: the local basis of x_t ↦ h at one image's x_t, for a model
named by a string, so that it pickles and each process loads the model once.
:func:`global_directions` reads the images, runs the task for each with
:func:`svdlens.nets.local_bases` (cached per image, optionally one task per image on a dask
cluster), and takes the stacked-u Grassmann mean with :func:`svdlens.nets.global_directions`.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._defaults import DEFAULT_K, DEFAULT_STEPS, DEFAULT_T, MAX_K, MAX_STEPS
from .._progress import Progress
from .._validation import check_fraction, check_int, check_optional_int
from ..exceptions import MissingInputError, ModelLoadError, SkippedFilesWarning, SvdlensError
from ..nets import LocalBasis, local_bases, transport
from ..nets import global_directions as stacked_directions
from ._builtin import builtin_folder
from ._cached import forget_cached, is_cached, load_cached

__all__ = ["ImageBasis", "GlobalDirections", "global_directions", "global_figure"]

CACHE_FORMAT = 3  # bump when what ImageBasis computes changes, so old cached bases are not reused


def _model_name(model: str | Path) -> str:
    """``"builtin"``, a hub id as given, or a model folder as an absolute path (workers load it by that path)."""
    text = str(model)
    if builtin_folder(text) is None and Path(text).exists():
        return str(Path(text).resolve())
    return text


# Files in a model folder that cannot change a basis: documentation and pictures (a model card),
# pickled weights (which load refuses), and the components that play no part in the method.
NOT_MODEL_FILES = frozenset(".md .rst .png .jpg .jpeg .gif .webp .svg .bin .pt .pth .ckpt .pkl".split())
NOT_MODEL_FOLDERS = ("safety_checker", "feature_extractor", "image_encoder")


def _fingerprint(model: str) -> str:
    """A hash of every file of a model folder that can change its output (the built-in one too).

    Weights, configs and the tokenizer's files (``merges.txt``, ``vocab.json``, ``spiece.model``,
    ...) all count, by name, size and bytes; documentation, pictures, pickles and hidden files
    do not. A hub id stands for its downloaded snapshot when there is one on this machine, and
    for itself otherwise.
    """
    folder = builtin_folder(model) or Path(model)
    if not folder.is_dir():
        folder = _hub_snapshot(model) or folder
    if not folder.is_dir():
        return f"id:{model}"
    h = hashlib.sha256()
    for path in _model_files(folder):
        name = str(path.relative_to(folder).as_posix()).encode()
        try:
            with open(path, "rb") as f:
                h.update(f"{len(name)}:".encode() + name + f":{os.fstat(f.fileno()).st_size}:".encode())
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
        except OSError as err:
            raise ModelLoadError(
                f"cannot read {path} to fingerprint the model for the cache ({err.strerror or err}); "
                "make it readable, or leave the cache out"
            ) from None
    return f"sha256:{h.hexdigest()}"


def _model_files(folder: Path) -> list[Path]:
    """The files under ``folder`` that can change what the model computes, in a fixed order."""
    found = []
    for path in folder.rglob("*"):
        parts = path.relative_to(folder).parts
        if any(part.startswith(".") for part in parts) or parts[0] in NOT_MODEL_FOLDERS:
            continue
        if path.suffix.lower() in NOT_MODEL_FILES or not path.is_file():
            continue
        found.append(path)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _hub_snapshot(model: str) -> Path | None:
    """The local snapshot of a hub id that :func:`svdlens.diffusion.load` would use, if one is here (no download)."""
    if model.count("/") != 1 or model.startswith((".", "/", "~")):
        return None
    try:
        from huggingface_hub import snapshot_download

        from ._load import HUB_FILES, HUB_SKIPPED

        path = snapshot_download(model, allow_patterns=HUB_FILES, ignore_patterns=HUB_SKIPPED, local_files_only=True)
    except Exception:  # not downloaded, or no huggingface_hub: the id stands for itself
        return None
    return Path(path)


def _plain(name: str, value: Any) -> Any:
    """An option as JSON for the cache token: arrays and tensors by a hash of their contents, never by a repr."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (torch.dtype, torch.device)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(name, v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(name, v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous().reshape(-1)
        data = t.view(torch.uint8).numpy().tobytes() if t.numel() else b""
        return {"shape": list(value.shape), "dtype": str(value.dtype), "sha256": hashlib.sha256(data).hexdigest()}
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise SvdlensError(f"the option {name} holds Python objects; give numbers")
        data = np.ascontiguousarray(value).tobytes()
        return {"shape": list(value.shape), "dtype": value.dtype.str, "sha256": hashlib.sha256(data).hexdigest()}
    raise SvdlensError(
        f"the option {name} (a {type(value).__name__}) cannot be part of the cache key; give numbers, strings, "
        "arrays or tensors, or leave the cache out"
    )


class ImageBasis:
    """The local basis of a diffusion model at one image's x_t: a task that pickles.

    ``ImageBasis(model, t=..., k=..., steps=...)(image)`` is
    ``svdlens.diffusion.load(model).directions(image, t=t, k=k, steps=steps, **options)``,
    with the model loaded once per process and kept for the next image, so that on a dask
    worker it loads once. Give it to :func:`svdlens.global_directions` or
    :func:`svdlens.nets.local_bases` as ``basis_fn``.

    Parameters
    ----------
    model : str or pathlib.Path
        ``"builtin"``, a diffusers model folder (at the same path on every worker), or a hub id.
    t : float
        Where x_t is in the diffusion, in (0, 1].
    k : int
        How many singular triplets per image.
    steps : int
        DDIM steps that make x_t.
    device : str, optional
        Where the model runs in each process (default: CPU).
    dtype : str, optional
        The weights' dtype, as :func:`svdlens.diffusion.load` takes it (default: float32).
    **options
        Passed to the pipeline's ``directions``: ``prompt``, ``negative_prompt``, ``layer``,
        and its basis options (``tol``, ``method``, ``max_memory``, ...). They are part of
        :attr:`cache_token`: numbers, strings, lists and dicts as they are, arrays and tensors
        (a warm ``start``, say) by a hash of their contents; other values are refused there.

    Attributes
    ----------
    cache_token : str
        The model's fingerprint (a hash of every file that can change its output: weights,
        configs, tokenizer files), t, k, steps, dtype and the options: what a cached basis
        must match to be reused. The device is left out: a basis agrees on every device to rounding.

    Examples
    --------
    >>> import svdlens as sl
    >>> task = sl.diffusion.ImageBasis("builtin", t=0.6, k=2, steps=2)
    >>> task
    ImageBasis('builtin', t=0.6, k=2, steps=2)
    >>> basis = task(sl.faces.world.face("friendly-puppet"))
    >>> basis.s.shape, basis.jacobian is not None
    (torch.Size([2]), True)
    """

    def __init__(
        self,
        model: str | Path = "builtin",
        *,
        t: float = DEFAULT_T,
        k: int = DEFAULT_K,
        steps: int = DEFAULT_STEPS,
        device: str | None = None,
        dtype: str | None = None,
        **options: Any,
    ) -> None:
        self.model = _model_name(model)
        self.t = check_fraction("t", t)
        self.k = check_int("k", k, high=MAX_K)
        self.steps = check_int("steps", steps, high=MAX_STEPS)
        self.device = None if device is None else str(device)
        self.dtype = None if dtype is None else str(dtype).removeprefix("torch.")
        self.options = dict(options)
        self._token: str | None = None

    def __repr__(self) -> str:
        extra = "".join(f", {name}={value!r}" for name, value in sorted(self.options.items()))
        device = "" if self.device is None else f", device={self.device!r}"
        dtype = "" if self.dtype is None else f", dtype={self.dtype!r}"
        return f"ImageBasis({self.model!r}, t={self.t!r}, k={self.k}, steps={self.steps}{device}{dtype}{extra})"

    @property
    def cache_token(self) -> str:
        """The model's fingerprint, t, k, steps, dtype and the options, as one string (computed once)."""
        if self._token is None:
            self._token = json.dumps(
                {
                    "task": "svdlens.diffusion.ImageBasis",
                    "format": CACHE_FORMAT,
                    "model": _fingerprint(self.model),
                    "t": self.t,
                    "k": self.k,
                    "steps": self.steps,
                    "dtype": self.dtype,
                    "options": {name: _plain(name, value) for name, value in self.options.items()},
                },
                sort_keys=True,
            )
        return self._token

    def __call__(self, image: np.ndarray | torch.Tensor) -> LocalBasis:
        """The local basis at one image's x_t.

        Parameters
        ----------
        image : numpy.ndarray or torch.Tensor
            One image in [0, 1], ``(h, w)`` or ``(c, h, w)``.

        Returns
        -------
        LocalBasis
            As the pipeline's ``directions`` makes it.
        """
        pipe = load_cached(self.model, device=self.device, dtype=self.dtype)
        one = image[None] if isinstance(image, torch.Tensor) else np.asarray(image)[None]
        return pipe.directions(one, t=self.t, k=self.k, steps=self.steps, **self.options)


class _Images(Sequence):
    """Images that are arrays already, or files read (by :func:`svdlens.faces.read_image`) when indexed."""

    def __init__(self, entries: list[Any]) -> None:
        self.entries = entries

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, i):  # indexing by int only
        from ..faces import read_image

        entry = self.entries[i]
        return read_image(entry, color=True) if isinstance(entry, Path) else entry


def _image_files(folder: Path) -> list[Path]:
    from ..faces._data import IMAGE_EXTENSIONS

    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise SvdlensError(f"the folder {folder} is empty; put images (png, jpg, pgm, ...) in it")
    good = [p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS]
    others = [p.name for p in files if p.suffix.lower() not in IMAGE_EXTENSIONS]
    if not good:
        raise SvdlensError(f"no image files in {folder} (found {', '.join(others[:5])}); put png, jpg, ... in it")
    if others:
        listing = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        warnings.warn(f"skipped files that are not images in {folder}: {listing}", SkippedFilesWarning, stacklevel=3)
    return good


def _checked_array(a: Any, what: str) -> np.ndarray:
    arr = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    if arr.dtype.kind not in "biuf":
        raise SvdlensError(f"{what} holds {arr.dtype} data; expected numbers in [0, 1]")
    if not np.isfinite(arr).all():
        raise SvdlensError(f"{what} contains NaN or Inf")
    return arr


def _image_items(images: Any) -> tuple[_Images, list[str]]:
    """The images to take bases at, read lazily, and their names (file names, or ``image i``)."""
    if isinstance(images, (str, Path)):
        path = Path(images)
        if not path.exists():
            raise MissingInputError(f"no such file or folder: {path}")
        if path.is_dir():
            files = _image_files(path)
            return _Images(list(files)), [p.name for p in files]
        if path.suffix.lower() in (".npy", ".npz"):
            from ..faces import load as load_faces

            arr = load_faces(path)
            return _Images(list(arr)), [f"{path.name}[{i}]" for i in range(len(arr))]
        return _Images([path]), [path.name]
    if isinstance(images, (list, tuple)):
        if not images:
            raise SvdlensError("no images: give a folder, an array (n, h, w) or (n, c, h, w), or a list")
        entries = [
            Path(x) if isinstance(x, (str, Path)) else _checked_array(x, f"image {i}") for i, x in enumerate(images)
        ]
        return _Images(entries), [p.name if isinstance(p, Path) else f"image {i}" for i, p in enumerate(entries)]
    arr = _checked_array(images, "images")
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim not in (3, 4) or len(arr) == 0:
        raise SvdlensError(f"images must be (n, h, w) or (n, c, h, w) with n ≥ 1; got shape {arr.shape}")
    return _Images(list(arr)), [f"image {i}" for i in range(len(arr))]


@dataclass
class GlobalDirections:
    """The directions in h shared by many images, and how much each image shares them.

    Made by :func:`global_directions`.

    Attributes
    ----------
    directions : torch.Tensor
        ``(k, *h.shape)`` orthonormal directions in h, the most shared first.
    agreement : torch.Tensor
        ``(k,)`` the mean over the images of ``share``: 1 when a direction lies in every
        image's local top-``k_local`` subspace, 0 when it lies in none.
    share : torch.Tensor
        ``(n, k)`` ``‖Uⱼᵀ dᵢ‖²``: the part of direction i inside image j's local subspace.
    bases : list of LocalBasis
        The images' local bases, in order (without their live Jacobians).
    names : list of str
        The images' names: file names, or ``image i``.
    computed : list of int
        The images whose bases this call computed; the others came from the cache.
    t : float
        Where x_t is in the diffusion.
    steps : int
        DDIM steps that made x_t.
    k_local : int
        Triplets per image.
    """

    directions: torch.Tensor
    agreement: torch.Tensor
    share: torch.Tensor
    bases: list[LocalBasis]
    names: list[str]
    computed: list[int]
    t: float
    steps: int
    k_local: int

    @property
    def k(self) -> int:
        """The number of shared directions."""
        return int(self.directions.shape[0])

    def _repr_html_(self) -> str:
        from .. import _html
        from ..nets._figures import as_image

        agreement = _html.as_numpy(self.agreement).astype(float)
        share = _html.as_numpy(self.share).astype(float)
        rows = [
            [f"d{i + 1}", float(a), float(share[:, i].min()) if share.size else None] for i, a in enumerate(agreement)
        ]
        worst = max((float(b.residuals.max()) for b in self.bases if b.residuals.numel()), default=None)
        return _html.card(
            f"GlobalDirections: {self.k} directions shared by {len(self.bases)} images",
            _html.facts(
                [
                    ("h shape", tuple(self.directions.shape[1:])),
                    ("t", self.t),
                    ("steps", self.steps),
                    ("triplets per image", self.k_local),
                    ("local bases converged", f"{sum(b.converged for b in self.bases)} of {len(self.bases)}"),
                    ("max local residual", f"{worst:.1e}" if worst is not None else None),
                    ("computed here (the rest cached)", len(self.computed)),
                ]
            ),
            _html.columns(["direction", "agreement", "least share"], rows, bars=agreement),
            _html.thumbnails([as_image(d) for d in self.directions], [f"d{i + 1}" for i in range(self.k)], signed=True),
            _html.columns(["image"], [[name] for name in self.names]),
        )

    def plot(self, images: Sequence[Any] = (), n: int = 3) -> Any:
        """Draw each shared direction carried to the first ``n`` images (``global_figure``).

        No model runs: each direction is projected onto the local bases the result holds.

        Parameters
        ----------
        images : sequence of arrays, optional
            The images in [0, 1], in the result's order, to show first in each row.
        n : int
            How many images get a row.

        Returns
        -------
        matplotlib.figure.Figure
            The figure (made without pyplot).
        """
        return global_figure(self, images, n)


def global_directions(
    model: str | Path,
    images: Any,
    k: int = DEFAULT_K,
    *,
    k_local: int | None = None,
    t: float = DEFAULT_T,
    steps: int = DEFAULT_STEPS,
    client: Any = None,
    cache_dir: str | Path | None = None,
    progress: Progress = None,
    timeout: float = 10.0,
    device: str | None = None,
    dtype: str | None = None,
    **options: Any,
) -> GlobalDirections:
    """The ``k`` directions in h shared by many images' local bases (Park et al. 2023's global basis).

    Each image is inverted to x_t and the top ``k_local`` triplets of x_t ↦ h are taken there
    (:class:`ImageBasis`); the shared directions are the top-k left singular vectors of all
    the u's stacked (:func:`svdlens.global_directions`). The bases run one after another here,
    or with ``client`` as one task per image on a dask cluster, where each worker loads the
    model once (here, the model is loaded once and let go at the end). With ``cache_dir`` each
    basis is saved as soon as it is done, keyed by the image's pixels, the model's weights and
    every setting, so a rerun (after a failure, or with more images) computes only the missing ones.

    Parameters
    ----------
    model : str or pathlib.Path
        ``"builtin"``, a diffusers model folder (at the same path on every worker), or a hub id.
    images : path, array or list
        A folder of image files, a ``.npy``/``.npz`` of ``(n, h, w)``, an array ``(n, h, w)``
        or ``(n, c, h, w)`` in [0, 1], or a list of image files and arrays. Files are read
        here, one at a time as their turn comes.
    k : int
        How many shared directions.
    k_local : int, optional
        Triplets per image (default: ``k``).
    t : float
        Where x_t is in the diffusion, in (0, 1].
    steps : int
        DDIM steps that make each x_t.
    client : distributed.Client or str, optional
        A dask cluster, or its scheduler's address, to run one task per image on.
    cache_dir : path, optional
        Where each image's basis is kept between runs.
    progress : callable, optional
        ``progress(done, total, label)`` after each image's basis.
    timeout : float
        Seconds to wait for the scheduler when ``client`` is an address.
    device : str, optional
        Where the model runs in each process (default: CPU).
    dtype : str, optional
        The weights' dtype in each process (default: float32).
    **options
        Passed on to the pipeline's ``directions`` (``prompt``, ``layer``, ``tol``, ``method``, ...).

    Returns
    -------
    GlobalDirections
        The directions, how much each image shares each one, the bases, and which bases
        this call computed.

    Raises
    ------
    SvdlensError
        Bad ``k``, ``k_local``, ``t`` or ``steps``; ``k`` above ``k_local`` times the number of
        images; no images, or unreadable ones; no scheduler at ``client``; a model that does
        not load (raised where the first basis is taken).
    MissingDependencyError
        ``client`` given but distributed is not installed.

    Examples
    --------
    >>> import svdlens as sl
    >>> faces = sl.faces.world.render(sl.faces.world.gallery(3))
    >>> g = sl.diffusion.global_directions("builtin", faces, k=2, k_local=2, t=0.6, steps=2)
    >>> g.directions.shape, g.agreement.shape, g.computed
    (torch.Size([2, 1, 128, 8, 8]), torch.Size([2]), [0, 1, 2])
    >>> bool(g.agreement[0] >= g.agreement[1])
    True
    """
    k = check_int("k", k, high=MAX_K)
    k_local = check_optional_int("k_local", k_local, high=MAX_K) or k
    task = ImageBasis(model, t=t, k=k_local, steps=steps, device=device, dtype=dtype, **options)
    items, names = _image_items(images)
    if k > k_local * len(items):
        raise SvdlensError(
            f"k={k} shared directions need at least k local ones in all: {len(items)} images × k_local={k_local} "
            f"give {k_local * len(items)}; ask for fewer, or give more images or a larger k_local"
        )
    where = {"device": task.device, "dtype": task.dtype}
    # Run here, the model is let go at the end (unless it was held before): a long-lived process
    # (the app) should not keep a model of gigabytes for nothing.
    release = client is None and not is_cached(task.model, **where)
    try:
        run = local_bases(
            items, task, client=client, cache_dir=cache_dir, progress=progress, timeout=timeout, names=names
        )
    finally:
        if release:
            forget_cached(task.model, **where)
    D = stacked_directions(run.bases, k)
    Df = D.reshape(k, -1)
    share = torch.stack([((b.u.reshape(b.k, -1).to(Df.dtype) @ Df.T) ** 2).sum(0) for b in run.bases])
    return GlobalDirections(
        directions=D,
        agreement=share.mean(0),
        share=share,
        bases=run.bases,
        names=names,
        computed=run.computed,
        t=task.t,
        steps=task.steps,
        k_local=k_local,
    )


def global_figure(result: GlobalDirections, images: Sequence[Any] = (), n: int = 3):
    """Each shared direction carried to the first ``n`` images: the x-step there that moves h along it.

    A row per image (its picture first, when ``images`` holds it), a column per direction:
    :func:`svdlens.transport` (``method="project"``) from the image's own basis, titled with
    how much of the direction the image's local subspace keeps.

    Parameters
    ----------
    result : GlobalDirections
        What :func:`global_directions` returned.
    images : sequence of arrays, optional
        The images in [0, 1], ``(h, w)`` or ``(c, h, w)``, in the result's order (only the first ``n`` are used).
    n : int
        How many images get a row.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (no pyplot).

    Examples
    --------
    >>> import svdlens as sl
    >>> faces = sl.faces.world.render(sl.faces.world.gallery(2))
    >>> g = sl.diffusion.global_directions("builtin", faces, k=2, k_local=2, t=0.6, steps=2)
    >>> len(global_figure(g, faces).axes)
    6
    """
    from .._plotting import image_panel, subplots, symmetric_panel
    from ..nets._figures import as_image

    rows = min(check_int("n", n), len(result.bases))
    shown = [np.asarray(images[r]) for r in range(min(rows, len(images)))]
    lead = 1 if shown else 0
    fig, axes = subplots(rows, result.k + lead, figsize=(1.6 * (result.k + lead), 1.75 * rows + 0.6), squeeze=False)
    for r in range(rows):
        if lead:
            img = shown[r] if r < len(shown) else np.zeros((2, 2))
            image_panel(axes[r, 0], img if img.ndim == 2 else np.moveaxis(img, 0, -1), result.names[r])
        for i in range(result.k):
            moved = transport(result.directions[i], result.bases[r])
            symmetric_panel(axes[r, i + lead], as_image(moved.v), f"d{i + 1}: kept {moved.kept:.2f}")
    agreement = ", ".join(f"{float(a):.2f}" for a in result.agreement)
    fig.suptitle(
        f"Shared directions carried to each image (t={result.t:g}; agreement over "
        f"{len(result.bases)} images: {agreement})",
        fontsize=9,
    )
    fig.tight_layout()
    return fig
