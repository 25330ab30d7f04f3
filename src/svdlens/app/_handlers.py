"""What the explorer's controls call. Each handler turns widget values into a library call and its
result into images and text; the computing is the library's. Bad input raises :class:`AppInputError`
with a message for the person at the keyboard.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np

from .._defaults import DEFAULT_OUTSIDE_WEIGHT
from ..exceptions import InputFileError, SvdlensError

__all__ = ["AppInputError", "Explorer", "MAX_UPLOAD_BYTES", "MAX_UPLOAD_PIXELS"]

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_UPLOAD_PIXELS = 4096 * 4096
N_PUZZLE = 6  # coefficient sliders in the puzzle
MAX_PROMPT = 1000  # characters in the Directions tab's prompt box (CLIP reads 77 tokens anyway)
APP_STEPS = 20  # DDIM steps in the Directions tab: interactive on a CPU (the CLI uses DEFAULT_STEPS)
EVOLUTION_TS = (0.9, 0.7, 0.5, 0.3, 0.1)  # the Over t tab's grid: five bases, about 10 s on a CPU
EVOLUTION_K = 5
MAX_EXPLAIN_SIZE = 6  # the Explain tab draws matrices up to this many rows and columns
OUTSIDE_CHOICES = (
    "project out r directions (LOCO Edit)",
    f"price the whole outside (contrast, μ = {DEFAULT_OUTSIDE_WEIGHT:g})",
)
APP_CONTRAST_TOL = 1e-3  # residual tolerance of a contrast edit's eigenproblem in the app
APP_MAX_R = 20  # outside directions in a masked edit: the face world's mouth box needs 10 to 20 (bench/local_edits.py)


class AppInputError(SvdlensError):
    """Input the app cannot use; the message says what to change."""


def display(image: np.ndarray, size: int = 200) -> np.ndarray:
    """An image (h, w) or (c, h, w) stretched to [0, 255] and enlarged to size × size with square pixels."""
    from PIL import Image

    a = np.asarray(image, dtype=np.float64)
    if a.ndim == 3:
        a = a[0] if a.shape[0] == 1 else np.moveaxis(a, 0, -1)
    lo, hi = float(a.min()), float(a.max())
    a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    return np.asarray(
        Image.fromarray((a * 255).round().astype(np.uint8)).resize((size, size), Image.Resampling.NEAREST)
    )


def read_upload(path) -> np.ndarray:
    """An uploaded file → grayscale image in [0, 1], refusing what is not an image or too large."""
    from PIL import Image

    from ..faces import read_image

    if path is None:
        raise AppInputError("upload an image first")
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise AppInputError(f"{path.name} is {size / 2**20:.1f} MB; the limit is {MAX_UPLOAD_BYTES // 2**20} MB")
    try:
        with Image.open(path) as img:
            w, h = img.size
    except Exception:
        w = h = 0
    if w * h > MAX_UPLOAD_PIXELS:
        raise AppInputError(f"{path.name} is {w}×{h} pixels; the limit is {MAX_UPLOAD_PIXELS:,} pixels")
    try:
        return read_image(path, max_pixels=MAX_UPLOAD_PIXELS)
    except InputFileError:
        raise AppInputError(
            f"{path.name} is not an image I can read; upload a PNG, JPEG, BMP, TIFF or WebP file"
        ) from None


class Explorer:
    """The state behind the app: the eigenfaces model, and the diffusion model once it is needed."""

    def __init__(self, model: str = "builtin", n_components: int = 50):
        from ..faces import Eigenfaces

        self.model = model
        self._meanings: dict = {}  # the last 64 directions' factor and purity (see _meaning)
        self.faces = _builtin_faces()
        self.ef = Eigenfaces(n_components=n_components).fit(self.faces)
        # The distance from face space that 95% of the built-in faces stay within.
        self.typical_distance = float(np.percentile(self.ef.distance_from_face_space(self.faces), 95))

    # ----------------------------------------------------------------- Explain
    def explain(self, matrix_text: str, vector_text: str = ""):
        """A matrix as text → (figures as images, the story with its numbers)."""
        from .._plotting import figure_image
        from ..linalg import parse_matrix, parse_vector
        from ..scenes import SCENES, explain

        try:
            A = parse_matrix(matrix_text)
            if max(A.shape) > MAX_EXPLAIN_SIZE:
                raise AppInputError(
                    f"A is {A.shape[0]}×{A.shape[1]}; the explorer draws matrices up to "
                    f"{MAX_EXPLAIN_SIZE}×{MAX_EXPLAIN_SIZE}"
                )
            x = parse_vector(vector_text) if vector_text and vector_text.strip() else None
            ex = explain(A, vector=x)
        except SvdlensError as err:
            raise AppInputError(str(err)) from None
        images = []
        for scene in ex.scenes:
            draw = SCENES[scene.name].draw
            if draw is not None and ex.drawable(scene):
                images.append((figure_image(draw(scene)), scene.title))
        return images, ex.text()

    # ----------------------------------------------------------------- Eigenfaces
    def reconstruct(self, face_index: int, k: int):
        """A built-in face and its reconstruction from its first k eigenface coefficients."""
        from ..faces._uses import solve_puzzle

        face = self._face(face_index)
        k = int(np.clip(k, 1, self.ef.n_components_))
        puzzle = solve_puzzle(self.ef, face, k)
        text = f"k = {k}: {puzzle.errors[-1]:.1%} of the face's variation is left\n" + puzzle.text()
        return display(puzzle.face), display(puzzle.reconstruction), text

    def puzzle(self, *coefficients: float):
        """The mean face plus cᵢ standard deviations of each of the first eigenfaces."""
        c = np.asarray(coefficients, dtype=float)
        scaled = c * np.sqrt(self.ef.explained_variance_[: len(c)])
        full = np.zeros(self.ef.n_components_)
        full[: len(c)] = scaled
        return display(self.ef.inverse_transform(full[None])[0])

    def upload(self, path, k: int):
        """An uploaded face: its reconstruction, distance from face space, and nearest built-in face."""
        from ..faces._data import fit_to_size
        from ..faces._uses import nearest_face, solve_puzzle

        img = fit_to_size(read_upload(path), self.ef.image_shape_)
        k = int(np.clip(k, 1, self.ef.n_components_))
        puzzle = solve_puzzle(self.ef, img, k)
        dist = float(self.ef.distance_from_face_space(img[None])[0])
        match = nearest_face(self.ef, img[None], self.faces, k=k)
        i = int(match.index[0])
        c = ", ".join(f"{v:+.2f}" for v in puzzle.coefficients[:5])
        text = (
            f"coefficients on the first eigenfaces: {c}, …\n"
            f"distance from face space: {dist:.3g} (95% of the built-in faces are within {self.typical_distance:.3g}: "
            f"{'looks like a face' if dist <= self.typical_distance else 'probably not a face'})\n"
            f"nearest built-in face: #{i} (distance {float(match.distance[0]):.3g} in face space)"
        )
        return display(img), display(puzzle.reconstruction), display(self.faces[i]), text

    def _face(self, index) -> np.ndarray:
        return _builtin_face(int(index))

    # ----------------------------------------------------------------- Directions
    @property
    def pipe(self):
        from ..diffusion import load_cached

        return load_cached(self.model)

    @property
    def has_text(self) -> bool:
        """Whether the model takes a prompt (Stable Diffusion): the Directions tab then shows a prompt box."""
        return bool(self.pipe.has_text)

    def _prompt(self, prompt: str | None) -> str | None:
        """The prompt box's text for a text model (None when empty); a model without text takes none."""
        text = (prompt or "").strip()
        if len(text) > MAX_PROMPT:
            raise AppInputError(f"the prompt has {len(text)} characters; give at most {MAX_PROMPT}")
        return (text or None) if self.has_text else None

    def _start(self, source: str, index: int, t: float, prompt: str | None = None):
        """(image, x_t) for a built-in face or a seed, memoised."""
        return _start(self.model, source, int(index), float(t), prompt)

    def _basis(self, source: str, index: int, t: float, k: int, prompt: str | None = None):
        return _basis(self.model, source, int(index), float(t), int(k), prompt)

    def edit(
        self,
        source: str,
        index: int,
        t: float,
        direction: int,
        strength: float,
        prompt: str = "",
        mask: str = "",
        r: int = 5,
        outside: str = OUTSIDE_CHOICES[0],
        k: int = 5,
    ):
        """Move x_t along direction i by the strength and denoise: (start, edited, text).

        With a mask box ``"x0,y0,x1,y1"`` the directions are LOCO Edit's, inside the box and
        projected off the top ``r`` outside directions (:meth:`Pipeline.local_directions`), or,
        with ``outside`` the second of ``OUTSIDE_CHOICES``, those of ``method="contrast"``
        (the whole outside priced at ``DEFAULT_OUTSIDE_WEIGHT``; r is then not used).
        """
        self._check_t(t)
        direction = int(direction)
        if not 1 <= direction <= k:
            raise AppInputError(f"direction {direction}: choose 1 to {k}")
        text_prompt = self._prompt(prompt)
        box = _parse_box(mask)
        if outside not in OUTSIDE_CHOICES:
            raise AppInputError(f"keep the outside by one of: {'; '.join(OUTSIDE_CHOICES)}")
        contrast = outside == OUTSIDE_CHOICES[1]
        if box is not None and not contrast and not 0 <= int(r) <= APP_MAX_R:  # refused before the inversion
            raise AppInputError(f"r = {int(r)}: choose 0 to {APP_MAX_R} outside directions")
        image, xt = self._start(source, index, t, text_prompt)
        if box is None:
            basis = self._basis(source, index, t, k, text_prompt)
            v, s, values, note = basis.v[direction - 1], basis.s, "σ", ""
        else:
            local = _local(
                self.model, source, int(index), float(t), box, 0 if contrast else int(r), text_prompt, contrast
            )
            v = local.v[direction - 1]
            if local.contrast is not None:  # a contrast direction's value is its eigenvalue
                s, values, how = (
                    local.contrast.values,
                    "θ",
                    f"the whole outside priced at μ = {local.contrast.weight:g}",
                )
            else:
                s, values, how = local.s, "σ", f"{local.r} outside directions projected out"
            note = (
                f"\ninside the box {','.join(map(str, box))}, {how}; "
                f"first-order leakage of v{direction}: {float(local.leakage[direction - 1]):.2f} "
                f"(inside directions alone {float(local.leakage_before[direction - 1]):.2f})"
            )
        edited = self.pipe.edit(v=v, strengths=[float(strength)], t=t, steps=APP_STEPS, xt=xt, prompt=text_prompt)[0]
        text = (
            f"{values} = {', '.join(f'{x:.3g}' for x in s.tolist())}\n"
            f"x_t {'−' if strength < 0 else '+'} {abs(float(strength)):g}·v{direction}, then {APP_STEPS} DDIM steps "
            "down to the image" + note
        )
        meaning = self._meaning(v, xt, t)
        if meaning is not None:
            text += (
                f"\non the face world, v{direction} moves mostly {meaning[0]} (purity {meaning[1]:.2f}; 1 = that "
                f"factor alone), as the oracle reads the faces of x_t ± {meaning[2]:g}·v{direction} denoised"
            )
        return display(image), display(edited), text

    def _meaning(self, v, xt, t: float) -> tuple[str, float, float] | None:
        """On the face world: the factor a direction moves most, its purity and the γ it was read at.

        ``pipe.factor_effects`` denoises x_t ± γ·v, so the answer is kept per (v, x_t, t): moving
        the strength slider does not ask again.
        """
        if self.model != "builtin":
            return None
        key = (v.detach().cpu().numpy().tobytes(), xt.detach().cpu().numpy().tobytes(), float(t))
        if key not in self._meanings:
            fx = self.pipe.factor_effects(v[None], xt=xt, t=t, steps=APP_STEPS)
            if len(self._meanings) >= 64:
                self._meanings.pop(next(iter(self._meanings)))  # the oldest
            self._meanings[key] = (fx.factor[0], float(fx.purity[0]), fx.strength)
        return self._meanings[key]

    def transport(
        self,
        source: str,
        index: int,
        t: float,
        direction: int,
        strength: float,
        target: int,
        prompt: str = "",
        k: int = 5,
    ):
        """Direction i of the source carried to a built-in face, then the same edit there."""
        from ..nets import transport

        self._check_t(t)
        _start_face(self.model, int(target))  # a bad target is refused before any work
        text_prompt = self._prompt(prompt)
        basis = self._basis(source, index, t, k, text_prompt)
        image, xt = self._start("face", target, t, text_prompt)
        moved = transport(basis.u[int(direction) - 1], self._basis("face", target, t, k, text_prompt))
        edited = self.pipe.edit(
            v=moved.v, strengths=[float(strength)], t=t, steps=APP_STEPS, xt=xt, prompt=text_prompt
        )[0]
        text = (
            f"share of u{int(direction)} kept at face {int(target)}: {moved.kept:.2f}; h moves {moved.gain:.1f} per unit "
            f"step there, against σ{int(direction)} = {float(basis.s[int(direction) - 1]):.1f} at the source"
        )
        if self.model == "builtin":  # the source's x_t is only needed to read the factors there
            here = self._meaning(basis.v[int(direction) - 1], self._start(source, index, t, text_prompt)[1], t)
            there = self._meaning(moved.v, xt, t)
            if here is not None and there is not None:
                text += (
                    f"\non the face world, v{int(direction)} moves mostly {here[0]} (purity {here[1]:.2f}) at the "
                    f"source; carried, mostly {there[0]} (purity {there[1]:.2f}) at face {int(target)}"
                )
        return display(image), display(edited), text

    def evolution(self, index: int, prompt: str = ""):
        """Face ``index``'s local basis followed over t (Park et al. §5): (distances figure, spectra figure, text)."""
        from .._plotting import figure_image

        text_prompt = self._prompt(prompt)
        evolution = _evolution(self.model, int(index), text_prompt)
        step = ", ".join(
            f"{a:g}→{b:g} {evolution.across_t[0, j, j + 1]:.2f}"
            for j, (a, b) in enumerate(zip(evolution.ts[:-1], evolution.ts[1:]))
        )
        text = (
            "mean frequency of the directions, cycles per pixel: "
            + ", ".join(f"{f:.3f} at t = {t:g}" for t, f in zip(evolution.ts, evolution.mean_frequency))
            + f"\nGrassmann distance between neighbouring t's: {step}"
            + f"\n{int(evolution.products.sum())} Jacobian products, each basis warm-started from the t before"
        )
        return figure_image(evolution.plot()), figure_image(evolution.plot("spectra")), text

    @staticmethod
    def _check_t(t):
        if not 0 < float(t) <= 1:
            raise AppInputError(f"t must be in (0, 1]; got {t}")


@lru_cache(maxsize=64)
def _start(model: str, source: str, index: int, t: float, prompt: str | None = None):
    from ..diffusion import load_cached
    from ..exceptions import InputNote

    where = {"seed": index} if source == "seed" else {"image": _start_face(model, index)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InputNote)  # start faces resized to the model's size
        point = load_cached(model).start_point(**where, t=t, steps=APP_STEPS, prompt=prompt)
    assert point.image is not None  # a start from an image or a seed has its image
    return point.image[0], point.xt


@lru_cache(maxsize=1)
def _builtin_faces() -> np.ndarray:
    """The built-in faces, read once (handlers run on every slider move), read-only."""
    from ..faces import builtin

    faces = builtin("faces")
    faces.flags.writeable = False
    return faces


def _builtin_face(index: int) -> np.ndarray:
    faces = _builtin_faces()
    if not 0 <= index < len(faces):
        raise AppInputError(f"face {index}: choose 0 to {len(faces) - 1}")
    return faces[index]


def _start_face(model: str, index: int) -> np.ndarray:
    """A diffusion tab's start face (:func:`svdlens.diffusion.start_face`), a bad index told as the app's error."""
    from ..diffusion import start_face

    try:
        return start_face(model, index)
    except SvdlensError as err:
        raise AppInputError(str(err)) from None


def _parse_box(text: str | None) -> tuple[int, int, int, int] | None:
    """The mask box field: empty for none, else four whole numbers x0,y0,x1,y1."""
    text = (text or "").strip()
    if not text:
        return None
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 4 or not all(p.lstrip("-").isdigit() for p in parts):
        raise AppInputError(f"the mask box is four whole numbers x0,y0,x1,y1 (or empty); got {text!r}")
    x0, y0, x1, y1 = (int(p) for p in parts)
    return x0, y0, x1, y1


@lru_cache(maxsize=16)
def _local(
    model: str, source: str, index: int, t: float, box: tuple, r: int, prompt: str | None = None, contrast: bool = False
):
    from ..diffusion import load_cached

    _, xt = _start(model, source, index, t, prompt)
    # Lanczos on the contrast takes several times the products of an SVD: a looser tolerance keeps it interactive.
    how: dict = {"method": "contrast", "outside_weight": DEFAULT_OUTSIDE_WEIGHT, "tol": APP_CONTRAST_TOL}
    if not contrast:
        how = {"r": r}
    return load_cached(model).local_directions(xt=xt, mask=box, t=t, k=5, steps=APP_STEPS, prompt=prompt, **how)


@lru_cache(maxsize=8)
def _evolution(model: str, index: int, prompt: str | None = None):
    from ..diffusion import load_cached
    from ..exceptions import InputNote

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InputNote)  # start faces resized to the model's size
        return load_cached(model).basis_evolution(
            _start_face(model, index), EVOLUTION_TS, k=EVOLUTION_K, steps=APP_STEPS, prompt=prompt
        )


@lru_cache(maxsize=64)
def _basis(model: str, source: str, index: int, t: float, k: int, prompt: str | None = None):
    from ..diffusion import load_cached

    _, xt = _start(model, source, index, t, prompt)
    return load_cached(model).directions(xt=xt, t=t, k=k, steps=APP_STEPS, prompt=prompt)
