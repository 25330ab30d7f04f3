"""The face world: a procedural face renderer whose factors of variation are known by name.

Real face images carry no labels for what varies in them, so nobody can say whether a
direction found in a model means "smile" or only "brighter". Images rendered here can: each is
drawn from a vector of named, continuous factors (expression, eyebrow angle, eye openness,
mouth width, head position and size, lighting, skin brightness, hair), sampled independently
and uniformly in their ranges. A model trained on them, and an oracle that reads the factors
back from an image (:func:`oracle`), turn "what does this direction mean?" into a measurement.

Every shape is an analytic signed distance (ellipses by the first-order estimate
``f/|∇f|``, strokes by the distance to a segment or a parabola), turned into pixel coverage
``clip(0.5 − d/pixel, 0, 1)``: anti-aliased at any size, deterministic, and vectorised over
images (numpy, float32, in chunks).

Examples
--------
>>> from svdlens.faces import world
>>> [f.name for f in world.FACTORS][:3]
['expression', 'brow_angle', 'eye_open']
>>> factors = world.sample_factors(4, seed=0)
>>> images = world.render(factors)
>>> images.shape, bool(images.min() >= 0 and images.max() <= 1)
((4, 64, 64), True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .._validation import check_int
from ..exceptions import InvalidParameterError

__all__ = [
    "Factor",
    "FACTORS",
    "NAMES",
    "SIZE",
    "MAX_RENDER",
    "sample_factors",
    "render",
    "factors_of",
    "spread",
    "NAMED",
    "named",
    "distance",
    "sweep",
    "oracle",
    "fit",
    "FIT_MARGIN",
    "FIT_TOLERANCE",
    "GALLERY_SEED",
    "MAX_GALLERY",
    "gallery",
    "face",
]

SIZE = 64
"""The default image size (pixels per side)."""

MAX_RENDER = 1_000_000
"""The most images one :func:`render` call draws (in chunks; memory stays that of a chunk)."""

_CHUNK = 512  # images drawn at once: each float32 temporary is then 8 MB at 64×64


@dataclass(frozen=True)
class Factor:
    """One named factor of the face world.

    Attributes
    ----------
    name : str
        Its name (a column of :func:`sample_factors`).
    low, high : float
        Its range; factors are sampled uniformly in it.
    meaning : str
        What moving it from ``low`` to ``high`` does.
    """

    name: str
    low: float
    high: float
    meaning: str


FACTORS: tuple[Factor, ...] = (
    Factor("expression", -1.0, 1.0, "frown ↔ smile (the mouth's curve)"),
    Factor("brow_angle", -1.0, 1.0, "angry ↔ raised (the eyebrows' tilt)"),
    Factor("eye_open", 0.15, 1.0, "closed ↔ wide open"),
    Factor("mouth_width", 0.3, 0.7, "narrow ↔ wide mouth"),
    Factor("head_x", -0.15, 0.15, "head left ↔ right"),
    Factor("head_y", -0.1, 0.1, "head up ↔ down"),
    Factor("head_size", 0.8, 1.0, "small ↔ large head"),
    Factor("light", -1.0, 1.0, "lit from the left ↔ from the right"),
    Factor("skin", 0.4, 0.85, "dark ↔ bright skin"),
    Factor("hair", 0.0, 1.0, "bald ↔ full hair"),
)
"""The factors, in the order of the columns of :func:`sample_factors`."""

NAMES: tuple[str, ...] = tuple(f.name for f in FACTORS)
"""The factors' names, in order."""

_LOW = np.array([f.low for f in FACTORS])
_HIGH = np.array([f.high for f in FACTORS])

NAMED: dict[str, dict[str, float]] = {
    # The seeds' two faces are the same head: the scary one frowns under angry brows with wide
    # eyes; the friendly puppet smiles under raised brows. Only those three factors differ.
    "scary face": {
        "expression": -1.0,
        "brow_angle": -1.0,
        "eye_open": 1.0,
        "mouth_width": 0.6,
        "head_x": 0.0,
        "head_y": 0.0,
        "head_size": 0.92,
        "light": -0.6,
        "skin": 0.55,
        "hair": 0.9,
    },
    "friendly puppet": {
        "expression": 1.0,
        "brow_angle": 0.8,
        "eye_open": 0.6,
        "mouth_width": 0.6,
        "head_x": 0.0,
        "head_y": 0.0,
        "head_size": 0.92,
        "light": -0.6,
        "skin": 0.55,
        "hair": 0.9,
    },
}
"""Named points of the world, factor name → value: the seeds' scary face and friendly puppet."""


def sample_factors(n: int, seed: int | tuple[int, ...] = 0) -> np.ndarray:
    """``n`` factor vectors drawn independently and uniformly in each factor's range.

    Parameters
    ----------
    n : int
        How many (at most ``MAX_RENDER``).
    seed : int or tuple of int
        Seed of numpy's ``default_rng`` (a tuple such as ``(seed, step)`` names one of many
        independent streams); the same seed gives the same factors.

    Returns
    -------
    numpy.ndarray
        ``(n, F)`` float64, columns in the order of :data:`FACTORS`.

    Examples
    --------
    >>> sample_factors(2, seed=1).shape
    (2, 10)
    """
    n = check_int("n", n, high=MAX_RENDER)
    seeds = seed if isinstance(seed, tuple) else (seed,)
    rng = np.random.default_rng([check_int("seed", s, low=0) for s in seeds])
    return _LOW + (_HIGH - _LOW) * rng.random((n, len(FACTORS)))


def spread() -> np.ndarray:
    """Each factor's standard deviation over the world: ``(high − low)/√12`` (uniform sampling).

    Factor changes divided by it are comparable across factors.

    Returns
    -------
    numpy.ndarray
        ``(F,)``.
    """
    return (_HIGH - _LOW) / np.sqrt(12.0)


def factors_of(values: Mapping[str, float] | ArrayLike) -> np.ndarray:
    """A factor vector from a mapping of names (missing ones at their midpoint) or an array.

    Parameters
    ----------
    values : mapping or array_like
        ``{"expression": 1.0, ...}``, or ``(F,)`` / ``(n, F)`` values in the order of :data:`FACTORS`.

    Returns
    -------
    numpy.ndarray
        ``(n, F)`` float64.

    Raises
    ------
    InvalidParameterError
        An unknown name, another number of columns, or a value that is not finite.
    """
    if isinstance(values, Mapping):
        unknown = sorted(set(values) - set(NAMES))
        if unknown:
            raise InvalidParameterError(f"unknown factor(s) {', '.join(unknown)}; the factors are {', '.join(NAMES)}")
        mid = (_LOW + _HIGH) / 2
        out = np.array([[float(values.get(name, mid[i])) for i, name in enumerate(NAMES)]])
    else:
        out = np.atleast_2d(np.asarray(values, dtype=np.float64))
    if out.ndim != 2 or out.shape[1] != len(FACTORS):
        raise InvalidParameterError(f"factors must be (n, {len(FACTORS)}); got shape {out.shape}")
    if not np.isfinite(out).all():
        raise InvalidParameterError("factors must be finite numbers")
    return out


def named(name: str) -> np.ndarray:
    """The factor vector of a named point (:data:`NAMED`): ``(1, F)``.

    Parameters
    ----------
    name : str
        ``"scary face"`` or ``"friendly puppet"``.

    Returns
    -------
    numpy.ndarray
        ``(1, F)``.

    Raises
    ------
    InvalidParameterError
        Another name.

    Examples
    --------
    >>> int(np.argmax(named("friendly puppet")[0] - named("scary face")[0]))  # expression moves most
    0
    """
    if name not in NAMED:
        raise InvalidParameterError(f"no named face {name!r}; the named faces are {', '.join(NAMED)}")
    return factors_of(NAMED[name])


def distance(factors: ArrayLike, to: str | Mapping[str, float] | ArrayLike) -> np.ndarray:
    """How far factor vectors are from a face of the world, in spreads: ``‖(f − g)/spread‖``.

    Each factor's difference is divided by its spread (:func:`spread`), so that one unit means
    the same on every factor; the distance is the Euclidean norm over the factors.

    Parameters
    ----------
    factors : array_like
        ``(F,)`` or ``(n, F)``, e.g. the oracle's reading of images.
    to : str, mapping or array_like
        A named face (``"friendly puppet"``), a mapping of factor values (missing ones at their
        midpoint), or one factor vector ``(F,)``.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` distances.

    Raises
    ------
    InvalidParameterError
        What :func:`factors_of` and :func:`named` refuse, or more than one vector for ``to``.

    Examples
    --------
    >>> float(distance(named("scary face"), "scary face")[0])
    0.0
    >>> d = distance(named("scary face"), "friendly puppet")  # expression, brows and eyes differ
    >>> round(float(d[0]), 2)
    4.94
    """
    target = named(to) if isinstance(to, str) else factors_of(to)
    if len(target) != 1:
        raise InvalidParameterError(f"give one face to measure from; got {len(target)} factor vectors")
    return np.linalg.norm((factors_of(factors) - target) / spread(), axis=1)


GALLERY_SEED = 2026
"""The seed of the world's fixed gallery of faces (a stream no built-in model was trained on)."""

MAX_GALLERY = 10_000
"""The most faces :func:`gallery` gives."""


def gallery(n: int = 16) -> np.ndarray:
    """The factors of the world's fixed gallery: the same ``n`` faces everywhere (demo, bench, ``world:N``).

    Parameters
    ----------
    n : int
        How many, at most ``MAX_GALLERY``; the first ``m`` of ``gallery(n)`` are ``gallery(m)``.

    Returns
    -------
    numpy.ndarray
        ``(n, F)``.
    """
    n = check_int("n", n, high=MAX_GALLERY)
    return sample_factors(MAX_GALLERY, seed=GALLERY_SEED)[:n]


def face(which: int | str, size: int = SIZE) -> np.ndarray:
    """One face of the world: a gallery face by index, or a named face (``"scary face"``, ``"scary-face"``).

    Parameters
    ----------
    which : int or str
        An index into :func:`gallery`, or a name in :data:`NAMED` (a hyphen may stand for the space).
    size : int
        Pixels per side.

    Returns
    -------
    numpy.ndarray
        ``(size, size)`` float32 in [0, 1].

    Raises
    ------
    InvalidParameterError
        An index out of range or an unknown name.

    Examples
    --------
    >>> face("scary-face").shape, face(3).shape
    ((64, 64), (64, 64))
    """
    if isinstance(which, str) and not which.isdigit():
        return render(named(which.replace("-", " ")), size)[0]
    index = check_int("index", int(which), low=0, high=MAX_GALLERY - 1)
    return render(gallery(index + 1)[index], size)[0]


def sweep(steps: int = 7, base: Mapping[str, float] | None = None) -> np.ndarray:
    """Each factor alone from its low end to its high end, the others at ``base``: ``(F, steps, F)``.

    ``render(sweep().reshape(-1, F))`` gives one row per factor, the figure of the world.

    Parameters
    ----------
    steps : int
        Values per factor.
    base : mapping, optional
        The other factors' values (default: every factor at its midpoint).

    Returns
    -------
    numpy.ndarray
        ``(F, steps, F)`` factor vectors.
    """
    steps = check_int("steps", steps, low=2, high=64)
    start = factors_of(base or {})[0]
    out = np.repeat(np.repeat(start[None, None], len(FACTORS), 0), steps, 1)
    for i, f in enumerate(FACTORS):
        out[i, :, i] = np.linspace(f.low, f.high, steps)
    return out


def render(factors: ArrayLike, size: int = SIZE) -> np.ndarray:
    """Grayscale face images drawn from factor vectors, anti-aliased, in [0, 1].

    Values outside a factor's range are drawn as asked (the renderer extrapolates smoothly),
    so edits and sweeps may go past the ends.

    Parameters
    ----------
    factors : array_like
        ``(n, F)`` or ``(F,)`` in the order of :data:`FACTORS` (or a mapping, see :func:`factors_of`).
    size : int
        Pixels per side, 16 to 512.

    Returns
    -------
    numpy.ndarray
        ``(n, size, size)`` float32 in [0, 1].

    Raises
    ------
    InvalidParameterError
        Factors of the wrong shape or not finite, more than ``MAX_RENDER`` images, or a size out of range.
    """
    f = factors_of(factors)
    size = check_int("size", size, low=16, high=512)
    if len(f) > MAX_RENDER:
        raise InvalidParameterError(f"render draws at most {MAX_RENDER} images at once; got {len(f)}")
    out = np.empty((len(f), size, size), dtype=np.float32)
    for start in range(0, len(f), _CHUNK):
        out[start : start + _CHUNK] = _draw(f[start : start + _CHUNK].astype(np.float32), size)
    return out


# ----------------------------------------------------------------------------- drawing


def _cover(d: np.ndarray, px: np.ndarray | float) -> np.ndarray:
    """Pixel coverage of the region ``d < 0`` from a signed distance (in pixels of width ``px``)."""
    return np.clip(0.5 - d / px, 0.0, 1.0)


def _ellipse(x: np.ndarray, y: np.ndarray, rx: np.ndarray | float, ry: np.ndarray | float) -> np.ndarray:
    """Signed distance to an ellipse centred at 0 (first order: ``f/|∇f|``, exact on circles)."""
    qx, qy = x / rx, y / ry
    r = np.sqrt(qx * qx + qy * qy) + 1e-6
    grad = np.sqrt((qx / rx) ** 2 + (qy / ry) ** 2) / r + 1e-6
    return (r - 1.0) / grad


def _segment(x, y, ax, ay, bx, by) -> np.ndarray:
    """Distance to the segment from (ax, ay) to (bx, by)."""
    px, py, dx, dy = x - ax, y - ay, bx - ax, by - ay
    h = np.clip((px * dx + py * dy) / (dx * dx + dy * dy + 1e-9), 0.0, 1.0)
    return np.sqrt((px - h * dx) ** 2 + (py - h * dy) ** 2)


def _draw(f: np.ndarray, size: int) -> np.ndarray:
    """Images for one chunk of factors ``(n, F)`` float32. Coordinates: x right, y down, in [−1, 1]."""
    col = {name: f[:, i, None, None] for i, name in enumerate(NAMES)}
    grid = (np.arange(size, dtype=np.float32) + 0.5) * (2.0 / size) - 1.0
    X, Y = grid[None, None, :], grid[None, :, None]
    px = 2.0 / size
    s = col["head_size"]
    x, y = (X - col["head_x"]) / s, (Y - col["head_y"]) / s  # head coordinates: distances scale by s
    pxh = px / s

    # Background: a fixed, soft vertical gradient.
    img = np.broadcast_to(0.22 + 0.1 * Y, (len(f), size, size)).astype(np.float32)

    # Hair: a larger ellipse behind and above the head, down to a hairline that falls as hair grows.
    hair = np.clip(col["hair"], 0.0, 1.2)
    rx, ry = 0.6, 0.74
    d_head = _ellipse(x, y, rx, ry)
    d_outer = _ellipse(x, y + 0.05 * hair, rx + 0.11 * hair, ry + 0.1 * hair)
    hairline = -ry * (1.0 - 0.5 * hair)
    d_top = np.maximum(d_outer, y - hairline - 0.06 * np.cos(4.0 * x))
    d_hair_back = np.maximum(d_outer, y - 0.15)  # the hair beside the head, down to the ears
    hair_cover = np.maximum(_cover(np.minimum(d_top, d_hair_back), pxh), 0.0) * np.clip(hair * 4.0, 0.0, 1.0)
    img = img + (0.08 - img) * hair_cover * (1.0 - _cover(d_head, pxh))

    # Face: skin shaded as a sphere lit from the side that `light` says.
    head = _cover(d_head, pxh)
    qx, qy = np.clip(x / rx, -1, 1), np.clip(y / ry, -1, 1)
    nz = np.sqrt(np.clip(1.0 - qx * qx - qy * qy, 0.0, 1.0))
    angle = col["light"] * (np.pi / 3)
    lit = np.clip(qx * np.sin(angle) - 0.3 * qy + nz * np.cos(angle), 0.0, 1.0)
    skin = col["skin"] * (0.45 + 0.55 * lit)
    img = img + (skin - img) * head
    img = img + (0.08 - img) * _cover(d_top, pxh) * head * np.clip(hair * 4.0, 0.0, 1.0)  # the fringe

    # Eyes: white ellipses whose height is the openness, each with a dark pupil inside.
    eye_ry = 0.085 * np.clip(col["eye_open"], 0.02, 1.5)
    for side in (-1.0, 1.0):
        ex, ey = x - side * 0.22, y + 0.06
        eye = _cover(_ellipse(ex, ey, 0.11, eye_ry), pxh)
        img = img + (0.95 - img) * eye
        pupil = _cover(np.sqrt(ex * ex + ey * ey) - 0.05, pxh) * eye
        img = img + (0.05 - img) * pupil

    # Eyebrows: thick strokes whose inner ends drop (angry) or rise (raised) with brow_angle.
    b = col["brow_angle"]
    for side in (-1.0, 1.0):
        d = _segment(x, y, side * 0.1, -0.24 - 0.07 * b, side * 0.36, -0.26 + 0.04 * b)
        img = img + (0.1 - img) * _cover(d - 0.03, pxh)

    # Nose: a short fixed stroke, a landmark that no factor moves.
    img = img + (0.6 * skin - img) * _cover(_segment(x, y, 0.0, 0.08, 0.0, 0.22) - 0.025, pxh) * head

    # Mouth: a parabola through the corners, curved up (smile) or down (frown) by expression.
    w = 0.5 * rx * np.clip(col["mouth_width"], 0.05, 1.5)
    e = col["expression"]
    my = 0.4
    u = np.clip(x / w, -1.0, 1.0)
    curve = my + 0.11 * e * (1.0 - u * u) - 0.055 * e
    slope = -0.22 * e * u / w
    d_mouth = np.abs(y - curve) / np.sqrt(1.0 + slope * slope)
    outside = np.abs(x) > w
    ends = np.sqrt((np.abs(x) - w) ** 2 + (y - (my - 0.055 * e)) ** 2)
    d_mouth = np.where(outside, ends, d_mouth)
    img = img + (0.12 - img) * _cover(d_mouth - 0.035, pxh) * head
    return np.clip(img, 0.0, 1.0)


FIT_MARGIN = 0.1
"""How far past its range (in units of the range) :func:`fit` lets each factor go."""

_FIT_BLUR = 2.0  # pixels: of 17 renders stuck in a local minimum, a fit of the blurred pair freed 14 (σ = 1: 11)

FIT_TOLERANCE = 1e-4
"""The pixel rms below which :func:`fit` takes a fit as found: a render's own factors fit to
about 1e-7; the local minima measured end at 0.0003 to 0.006."""


def fit(images: ArrayLike, *, restarts: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """The factors whose render is nearest each image: analysis by synthesis, a second oracle.

    Each image is matched by nonlinear least squares over the renderer itself (scipy's
    trust-region reflective :func:`scipy.optimize.least_squares`, finite-difference Jacobian),
    from the trained oracle's reading (:func:`oracle`), each factor bounded to its range
    widened by :data:`FIT_MARGIN`. The search is local, so a fit that ends above
    :data:`FIT_TOLERANCE` starts again from the best point so far, and the best fit is kept:
    alternately from a fit of the images blurred by 2 pixels (a smoother landscape, coarse to
    fine) and from the best point nudged by about 0.02 of each range (a step of basin hopping:
    Wales & Doye 1997, J. Phys. Chem. A 101(28)). Of 2048 renders, 17 end in a nearby minimum
    without restarts (rms 0.0003 to 0.006; expression and mouth width trade off), 2 with the
    default two restarts and 1 with four. On a render it returns the render's own factors; on a
    model's sample, the world face nearest to it, and the residual says how far the sample is
    from any face of the world. It shares no weights and no training with the trained oracle
    (only its starting point comes from it), so where the two agree on samples, a gap between
    the samples and the world is the model's, not an oracle's blind spot (the idea of "analysis
    by synthesis": Yuille & Kersten 2006, "Vision as Bayesian inference: analysis by
    synthesis?", Trends Cogn. Sci. 10(7)).

    Parameters
    ----------
    images : array_like or torch.Tensor
        ``(n, 64, 64)``, ``(n, 1, 64, 64)`` or ``(64, 64)`` grayscale images in [0, 1], as the
        oracle reads them (a tensor on any device).
    restarts : int
        At most this many restarts for each image whose fit ends above :data:`FIT_TOLERANCE`
        (0 to 10). An image off the world (a sample, a noisy render) takes them all: with the
        default, four least-squares fits instead of one (a blurred restart is two).

    Returns
    -------
    factors : numpy.ndarray
        ``(n, F)`` float64, in the order of :data:`FACTORS`.
    rms : numpy.ndarray
        ``(n,)`` the root-mean-square pixel difference between each image and the render of its
        factors (0 for a render; at most 1 for images in [0, 1]).

    Raises
    ------
    InvalidParameterError
        Images of another size or shape, or not finite; ``restarts`` not an integer from 0
        to 10.

    Examples
    --------
    >>> f = sample_factors(2, seed=4)
    >>> found, rms = fit(render(f))
    >>> bool(np.abs(found - f).max() < 1e-3 and rms.max() < 1e-4)
    True
    """
    from ._oracle import readable_images

    restarts = check_int("restarts", restarts, low=0, high=10)
    checked = readable_images(images)
    start = oracle().predict(checked)
    pixels = checked.reshape(len(checked), SIZE * SIZE).double().numpy()
    width = _HIGH - _LOW
    # the same nudges for every image, so that an image's fit does not depend on its batch
    nudges = np.random.default_rng(0).normal(0.0, 0.02, (restarts, len(FACTORS)))
    found = np.empty_like(start)
    rms = np.empty(len(start))
    for i, (image, guess) in enumerate(zip(pixels, start)):
        # in units of each factor's range, so that one relative step and one bound suit every factor
        best, best_rms = _fit_one(image, np.clip((guess - _LOW) / width, -FIT_MARGIN, 1 + FIT_MARGIN))
        for j in range(restarts):
            if best_rms <= FIT_TOLERANCE:
                break
            # alternately: the blurred images first (a smoother landscape), or a nudge off the best point;
            # a later blurred fit starts nudged too, so that it does not repeat the first
            nudged = np.clip(best + (nudges[j] if j else 0.0), -FIT_MARGIN, 1 + FIT_MARGIN)
            z0 = _fit_one(image, nudged, blur=_FIT_BLUR)[0] if j % 2 == 0 else nudged
            z, z_rms = _fit_one(image, np.clip(z0, -FIT_MARGIN, 1 + FIT_MARGIN))
            if z_rms < best_rms:
                best, best_rms = z, z_rms
        found[i] = _LOW + width * best
        rms[i] = best_rms
    return found, rms


def _fit_one(image: np.ndarray, z0: np.ndarray, blur: float = 0.0) -> tuple[np.ndarray, float]:
    """One least-squares fit of the factors, in units of their ranges, from ``z0``: (z, rms).

    With ``blur`` > 0, the image and the renders are compared blurred by a Gaussian of that
    many pixels (a coarse fit whose result starts a sharp one).
    """
    from scipy.ndimage import gaussian_filter
    from scipy.optimize import least_squares

    def look(pixels: np.ndarray) -> np.ndarray:
        return (gaussian_filter(pixels.reshape(SIZE, SIZE), blur) if blur else pixels).ravel()

    target = look(image)
    result = least_squares(
        lambda z: look(render(_LOW + (_HIGH - _LOW) * z)[0]) - target,
        z0,
        bounds=(-FIT_MARGIN, 1 + FIT_MARGIN),
        # scipy's relative step, 0.005·|z|: of 0.002, 0.005 and 0.01 it left the fewest of 512
        # renders in a local minimum (3, against 4 and 5)
        diff_step=0.005,
        max_nfev=300,
    )
    return result.x, float(np.sqrt(np.mean(result.fun**2)))


def oracle():
    """The shipped factor oracle (:class:`~svdlens.faces.FactorOracle`): reads the factors back from images.

    Returns
    -------
    FactorOracle
        Loaded once per process.
    """
    from ._oracle import oracle as shipped

    return shipped()
