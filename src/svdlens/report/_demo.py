"""``svdlens demo``: the whole story of the seeds on built-in data, in the script's order.

Each step is a small function that computes with the library, draws what it computed into the
staged report folder, and returns a :class:`Section` (title, the script's line, the numbers,
the files). :func:`run_demo` runs them in order and writes ``index.html`` with
:mod:`svdlens.report.html`. Local bases are cached under ``cache_dir``, so a second run
skips the Jacobian SVDs.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from .._atomic import staged_output
from .._defaults import DEFAULT_K, DEFAULT_STEPS, DEFAULT_T
from .._plotting import save_animation, save_figure
from .._progress import Progress, report

__all__ = ["Section", "DemoSettings", "SECTIONS", "run_demo"]

MATRIX = np.array([[0.4, 0.2], [1.0, 3.0]])  # the script's example: 0.4·2 + 0.2·1 = 1
VECTOR = np.array([2.0, 1.0])


@dataclass
class Section:
    """One scene of the report: what it shows, the numbers, and the files it links.

    Attributes
    ----------
    key : str
        The section's number (``"01"``, ``"02"``, ...); it prefixes the section's files.
    title : str
        The section's heading.
    story : str
        What the section shows, in the script's words.
    lines : list of str
        The numbers, one line each.
    files : list of str
        The files the section links, relative to the report folder.
    seconds : float
        How long the section took.
    """

    key: str
    title: str
    story: str
    lines: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class DemoSettings:
    """How much work each step does. ``fast()`` is a reduced setting for tests and quick looks.

    Attributes
    ----------
    steps : int
        DDIM steps.
    k : int
        Local basis size.
    t : float
        Where the edits happen.
    t_transport : float
        Where faces share their tangent spaces (see docs/diffusion.md).
    source : int
        The start image to edit: a face of the world's gallery (:func:`svdlens.faces.world.face`)
        on the face-world model, else a built-in real face.
    targets : tuple of int
        The start images the direction is carried to.
    n_directions : int
        How many directions are edited along.
    strengths : tuple of float
        Edit strengths; ‖x_t‖ ≈ 64 for 64×64 images (32 for 32×32), so these are visible and still faces.
    transport_strengths : tuple of float
        Strengths of the transported edits (at larger t the same step moves more).
    n_samples : int
        How many generated samples are shown.
    seed : int
        Seed of the generated face of the last scene (on a model other than the face world's).
    story_strengths : tuple of float
        On the face world: the steps tried along the carried expression direction, from the
        scary face towards the friendly puppet.

    Examples
    --------
    >>> DemoSettings.fast().steps, DemoSettings().steps
    (10, 50)
    """

    steps: int = DEFAULT_STEPS
    k: int = DEFAULT_K
    t: float = DEFAULT_T
    t_transport: float = 0.9
    source: int = 3
    targets: tuple = (10, 20, 30)
    n_directions: int = 3
    strengths: tuple = (-8.0, -4.0, 0.0, 4.0, 8.0)
    transport_strengths: tuple = (-4.0, -2.0, 0.0, 2.0, 4.0)
    n_samples: int = 16
    seed: int = 7
    story_strengths: tuple = (2.0, 4.0, 8.0, 12.0)

    @classmethod
    def fast(cls) -> DemoSettings:
        """The reduced setting: 10 steps, k = 4, one target, 2 directions, 3 strengths, 4 samples.

        Returns
        -------
        DemoSettings
            The reduced settings.
        """
        return cls(
            steps=10,
            k=4,
            targets=(10,),
            n_directions=2,
            strengths=(-8.0, 0.0, 8.0),
            transport_strengths=(-4.0, 0.0, 4.0),
            n_samples=4,
            story_strengths=(4.0, 8.0),
        )


class _Context:
    """What the steps share: the staged folder, the settings, and objects made once."""

    def __init__(self, stage: Path, settings: DemoSettings, cache_dir: Path, model: str):
        self.stage, self.settings, self.cache_dir, self.model = stage, settings, cache_dir, model
        self.key = "00"  # the running section's number, set by run_demo: it prefixes the section's files
        self._memo: dict = {}

    def once(self, name, make):
        if name not in self._memo:
            self._memo[name] = make()
        return self._memo[name]

    @property
    def explanation(self):
        from ..scenes import explain

        return self.once("explanation", lambda: explain(MATRIX, vector=VECTOR))

    @property
    def pipe(self):
        from ..diffusion import load_cached

        return self.once("pipe", lambda: load_cached(self.model))

    @property
    def model_name(self) -> str:
        """How the text names the model: a built-in DDPM, or the folder or hub id it ran on."""
        names = {"builtin": "the built-in face-world DDPM", "builtin-lfw": "the built-in real-face DDPM"}
        return names.get(self.model, f"the model {Path(self.model).name or self.model}")

    @property
    def world(self) -> bool:
        """Whether the model is the face world's (the built-in one): its images' factors are known."""
        return self.model == "builtin"

    def face_name(self, index) -> str:
        """How the text names a start image: a face of the world's gallery, or a built-in real face."""
        return f"world face {index}" if self.world else f"face {index}"

    def start_image(self, index) -> np.ndarray:
        """Start image ``index``: the face world's gallery (or a named face) for its model, else the real faces."""
        from ..faces import builtin, world

        return world.face(index) if self.world else builtin("faces")[index]

    def basis(self, name, xt, t, k):
        return self.once(("basis", name, t, k), lambda: self.pipe.directions(xt=xt, t=t, k=k, cache_dir=self.cache_dir))

    def xt(self, face_index, t):
        s = self.settings
        return self.once(
            ("xt", face_index, t), lambda: self.pipe.start_point(self.start_image(face_index), t=t, steps=s.steps).xt
        )

    def effects(self, name, xt, t, basis):
        """What each direction of ``basis`` moves on the face world (the oracle reads the ±γ edits)."""
        return self.once(
            ("effects", name, t),
            lambda: self.pipe.factor_effects(basis.v, xt=xt, t=t, steps=self.settings.steps),
        )

    def save(self, fig, name) -> str:
        save_figure(fig, self.stage / name)
        return name

    def animate(self, anim, name, fps) -> str:
        save_animation(anim, self.stage / name, fps=fps)
        return name


# ----------------------------------------------------------------------------- scenes 1-5
def _scenes(ctx: _Context, title: str, story: str, names) -> Section:
    """Sections made of explain scenes: their text lines, figure and animation."""
    from ..scenes import SCENES

    key = ctx.key
    ex = ctx.explanation
    section = Section(key, title, story)
    for name in names:
        scene, spec = ex[name], SCENES[name]
        section.lines += [scene.title] + scene.lines + [""]
        if ex.drawable(scene) and spec.draw is not None:
            section.files.append(ctx.save(spec.draw(scene), f"{key}-{name}.png"))
            if spec.animate is not None:
                section.files.append(ctx.animate(spec.animate(scene), f"{key}-{name}.gif", fps=8))
    return section


def projection_section(ctx):
    return _scenes(
        ctx,
        "Projection and dot products",
        "Matrix multiplication projects the input onto each row: 0.4·2 + 0.2·1 = 1.",
        ["projection", "dot_products"],
    )


def change_of_basis_section(ctx):
    return _scenes(
        ctx,
        "Change of basis",
        "The blog post's example: in the basis of B's columns, the coordinates [−1, 2] name the point "
        "B·[−1, 2] = [−4, 1].",
        ["change_of_basis"],
    )


def covariance_section(ctx):
    from ..scenes._scenes import BLOG_COVARIANCE, BLOG_W

    section = _scenes(
        ctx,
        "Covariance and the direction of maximum variance",
        "The variance along a unit direction w is wᵀSw; it is largest along the top eigenvector of S.",
        ["max_variance"],
    )
    w = BLOG_W / np.linalg.norm(BLOG_W)
    Sw = BLOG_COVARIANCE @ w
    angle = float(np.degrees(np.arccos(np.clip(Sw @ w / np.linalg.norm(Sw), -1.0, 1.0))))
    top = np.linalg.eigh(BLOG_COVARIANCE)[1][:, -1]
    top = top * np.sign(top[np.abs(top).argmax()])
    section.lines += [
        f"The blog post gives w = {BLOG_W.tolist()}; it is not an eigenvector: S·w = "
        f"[{Sw[0]:.3f}, {Sw[1]:.3f}] points {angle:.1f}° away from w, and an eigenvector only stretches.",
        f"The true top eigenvector is [{top[0]:.3f}, {top[1]:.3f}].",
    ]
    return section


def superposition_section(ctx):
    return _scenes(
        ctx,
        "Superposition: more features than neurons",
        "Features that must share too few neurons cannot all be orthogonal: WᵀW shows how much they interfere.",
        ["superposition"],
    )


def inputs_with_inputs_section(ctx):
    return _scenes(
        ctx,
        "WᵀW: inputs with inputs",
        "Each entry of WᵀW is the dot product of two input columns: how alike two inputs look to the layer.",
        ["inputs_with_inputs"],
    )


def eigenvectors_section(ctx):
    return _scenes(
        ctx,
        "Eigenvectors stay on their line",
        "Most vectors turn under AᵀA; its eigenvectors only stretch, by λ = σ².",
        ["eigenvectors"],
    )


def rotate_scale_rotate_section(ctx):
    return _scenes(
        ctx,
        "Rotate, scale, rotate",
        "A = UΣVᵀ: turn the input directions onto the axes (Vᵀ), stretch them (Σ), turn onto the outputs (U).",
        ["rotate_scale_rotate"],
    )


def u_from_v_section(ctx):
    return _scenes(
        ctx,
        "u = Av/σ",
        "Multiply a right singular vector by A and you land on its left singular vector, scaled by σ.",
        ["u_from_v"],
    )


def low_rank_section(ctx):
    return _scenes(
        ctx,
        "Low rank: keep the biggest pieces",
        "We can approximate a matrix with its singular vectors: keep the k largest σᵢuᵢvᵢᵀ, and the error is σₖ₊₁.",
        ["low_rank"],
    )


def least_squares_section(ctx):
    return _scenes(
        ctx,
        "Least squares",
        "The closest point to b in the column space is its projection: the error is perpendicular to every column.",
        ["least_squares"],
    )


# ----------------------------------------------------------------------------- eigenfaces
def eigenfaces_section(ctx):
    from ..faces import builtin
    from ..faces._study import draw_study, study

    faces = builtin("faces")
    result = study(faces, k=20, nonfaces=builtin("nonfaces"))
    files = draw_study(result, ctx.stage / "eigenfaces")
    ef, det = result.model, result.detection
    assert det is not None  # the built-in faces come with non-faces
    summary = {
        "n_images": ef.n_samples_,
        "image_shape": list(ef.image_shape_),
        "n_components": ef.n_components_,
        "explained_variance_ratio": ef.explained_variance_ratio_.tolist(),
        "explained_variance_total": float(ef.explained_variance_ratio_.sum()),
        "puzzle": {
            "coefficients": result.puzzle.coefficients.tolist(),
            "relative_error": float(result.puzzle.errors[-1]),
        },
        "face_detection": {"roc_auc": det.auc, "nonfaces_inside_threshold": det.nonfaces_inside},
    }
    evr = summary["explained_variance_ratio"]
    det = summary["face_detection"]
    lines = [
        f"{summary['n_images']} built-in faces of {summary['image_shape'][0]}×{summary['image_shape'][1]} pixels; "
        f"{summary['n_components']} eigenfaces hold {summary['explained_variance_total']:.1%} of the variance.",
        "Shares of the first five: " + ", ".join(f"{v:.1%}" for v in evr[:5]),
        "The puzzle: the first face = mean face + Σ cᵢ·eigenfaceᵢ, with c₁…c₅ = "
        + ", ".join(f"{c:+.2f}" for c in summary["puzzle"]["coefficients"][:5])
        + f"; what is left after all {summary['n_components']}: {summary['puzzle']['relative_error']:.1%}.",
        f"Distance from face space tells faces from non-faces: ROC AUC {det['roc_auc']:.3f} on held-out faces "
        f"({det['nonfaces_inside_threshold']:.0%} of non-faces fall inside the faces' 95th percentile).",
    ]
    files = [
        f"eigenfaces/{n}"
        for n in ("eigenfaces.png", "reconstruction.png", "reconstruction.gif", "puzzle.png", "distances.png")
        if n in files
    ]
    return Section(
        ctx.key,
        "Eigenfaces and the puzzle",
        "The U basis are the eigenfaces: every face is the mean face plus a weighted sum of them.",
        lines,
        files,
    )


def faded_face_section(ctx):
    from ..faces import Eigenfaces, builtin, interpolate
    from ..faces._figures import image_row

    s = ctx.settings
    faces = builtin("faces")
    ef = Eigenfaces(n_components=20).fit(faces)
    a, b = faces[s.source], faces[s.targets[0]]
    frames = interpolate(ef, a, b, n=8)
    titles = [f"{i / (len(frames) - 1):.2f}" for i in range(len(frames))]
    file = ctx.save(
        image_row(list(frames), titles, f"face {s.source} fading into face {s.targets[0]} in face space"),
        f"{ctx.key}-faded-face.png",
    )
    lines = [
        f"Both faces as 20 eigenface coefficients; the straight line between the coefficient vectors, "
        f"{len(frames)} steps, each rebuilt as a face.",
        "Every frame stays a face: the path never leaves the space the eigenfaces span.",
    ]
    return Section(
        ctx.key,
        "The interpolation of a faded face",
        "A face fading into another through the eigenfaces, as at the end of the warp.",
        lines,
        [file],
    )


# ----------------------------------------------------------------------------- 7. weights
def weight_matrix_section(ctx):
    from ..nets import weight_directions
    from ..nets._figures import weight_direction_images

    W = ctx.pipe.unet.conv_in.weight.detach()
    k = min(9, W[0].numel())
    V, lam = weight_directions(W, k=k, return_values=True)
    sigma = torch.linalg.svdvals(W.reshape(W.shape[0], -1).double())[:k]
    gap = float((lam.double().sqrt() - sigma).abs().max() / sigma[0])
    lines = [
        f"The first layer of {ctx.model_name}, conv_in, is a weight matrix W of {W.shape[0]}×{W[0].numel()}: "
        f"{W.shape[0]} filters over {W.shape[-2]}×{W.shape[-1]} pixel patches.",
        "Eigenvalues of WᵀW, descending: " + ", ".join(f"{v:.3g}" for v in lam.tolist()),
        f"Their square roots are W's singular values (LAPACK agrees to {gap:.1e} relative).",
        "The eigenvectors are the patches the layer stretches most; later layers see mostly these.",
    ]
    file = ctx.save(
        weight_direction_images(V, lam, "conv_in: eigenvectors of WᵀW (3×3 patches)"), f"{ctx.key}-weights.png"
    )
    return Section(
        ctx.key,
        "Simplify it: the weight matrix",
        "Before the Jacobian, a simpler matrix: the eigenvectors of WᵀW (SeFa).",
        lines,
        [file],
    )


# ----------------------------------------------------------------------------- 8-11. the DDPM
def jacobian_section(ctx):
    from ..nets import jacobian
    from ..nets._figures import direction_images, spectrum_plot

    s = ctx.settings
    xt = ctx.xt(s.source, s.t)
    basis = ctx.basis("source", xt, s.t, s.k)
    f = ctx.pipe.h_map(s.t)
    J = jacobian(f, xt)
    v1 = basis.v[0].reshape(-1, 1)
    Jv = J.matmat(v1).reshape(-1)
    check = float(torch.linalg.vector_norm(Jv - basis.s[0] * basis.u[0].reshape(-1)) / basis.s[0])
    lines = [
        f"f: x_t ↦ h, from image space X ({J.shape[1]} numbers) to the U-Net's bottleneck H ({J.shape[0]} numbers), "
        f"at t = {s.t}; J = ∂f/∂x is {J.shape[0]}×{J.shape[1]}, never written down.",
        f"Top {s.k} singular values: " + ", ".join(f"{v:.3g}" for v in basis.s.tolist()),
        f"Largest residual ‖Jv − σu‖, ‖Jᵀu − σv‖ (relative to σ₁): {float(basis.residuals.max()):.1e}; "
        f"converged: {basis.converged}.",
        f"Products: {basis.n_jvp} JVPs and {basis.n_vjp} VJPs"
        + (" (loaded from the cache)" if basis.jacobian is None else ""),
        f"u = Jv/σ, checked with a fresh product: ‖J v₁ − σ₁ u₁‖/σ₁ = {check:.1e}",
    ]
    if ctx.world:
        fx = ctx.effects("source", xt, s.t, basis)
        lines.append(
            "What each direction means: x_t ± γ·v denoised, the two faces read by the face world's oracle, "
            "and the factor with the largest share of the change (its purity; 1 = that factor alone): "
            + ", ".join(f"v{i + 1} {f} ({p:.2f})" for i, (f, p) in enumerate(zip(fx.factor, fx.purity)))
        )
    files = [
        ctx.save(spectrum_plot(basis), f"{ctx.key}-spectrum.png"),
        ctx.save(direction_images(basis), f"{ctx.key}-directions.png"),
    ]
    return Section(
        ctx.key,
        "The Jacobian of the face model",
        "The Jacobian is far too large to write down, so we approximate it by SVD through its products.",
        lines,
        files,
    )


def edits_section(ctx):
    from ..diffusion._figures import grid_animation, image_grid

    s = ctx.settings
    xt = ctx.xt(s.source, s.t)
    basis = ctx.basis("source", xt, s.t, s.k)
    rows = [
        ctx.pipe.edit(v=basis.v[i], strengths=s.strengths, t=s.t, steps=s.steps, xt=xt) for i in range(s.n_directions)
    ]
    grid = np.stack(rows)
    labels, cols = [f"v{i + 1}" for i in range(s.n_directions)], [f"{g:+g}" for g in s.strengths]
    if ctx.world:
        fx = ctx.effects("source", xt, s.t, basis)
        labels = [f"v{i + 1}: {fx.factor[i]} ({fx.purity[i]:.2f})" for i in range(s.n_directions)]
    files = [
        ctx.save(
            image_grid(grid, labels, cols, f"{ctx.face_name(s.source)}: x_t + γ·vᵢ, then DDIM to 0"),
            f"{ctx.key}-edits.png",
        )
    ]
    files.append(ctx.animate(grid_animation(grid, labels, cols), f"{ctx.key}-edits.gif", fps=3))
    mid = list(s.strengths).index(0.0) if 0.0 in s.strengths else None
    lines = [f"Strengths γ = {', '.join(cols)} along the top {s.n_directions} right singular vectors, at t = {s.t}."]
    if mid is not None:
        change = [float(np.abs(grid[i] - grid[i, mid]).mean(axis=(-2, -1)).max()) for i in range(s.n_directions)]
        lines.append(
            "Largest mean pixel change per direction: " + ", ".join(f"v{i + 1} {c:.3f}" for i, c in enumerate(change))
        )
    return Section(
        ctx.key,
        "Edits along the top directions",
        "Move x_t along a singular direction and denoise: the face changes the way the basis says.",
        lines,
        files,
    )


def transport_section(ctx):
    from ..diffusion._figures import image_grid
    from ..nets import transport

    s = ctx.settings
    t = s.t_transport
    xa = ctx.xt(s.source, t)
    ba = ctx.basis("source-transport", xa, t, s.k)
    rows = [ctx.pipe.edit(v=ba.v[0], strengths=s.transport_strengths, t=t, steps=s.steps, xt=xa)]
    kept = []
    for j in s.targets:
        xb = ctx.xt(j, t)
        moved = transport(ba.u[0], ctx.basis(f"target-{j}", xb, t, s.k))
        kept.append((moved.kept, moved.gain))
        rows.append(ctx.pipe.edit(v=moved.v, strengths=s.transport_strengths, t=t, steps=s.steps, xt=xb))
    labels = [f"{ctx.face_name(s.source)} (source)"] + [ctx.face_name(j) for j in s.targets]
    file = ctx.save(
        image_grid(
            np.stack(rows),
            labels,
            [f"{g:+g}" for g in s.transport_strengths],
            f"direction 1 of {ctx.face_name(s.source)} carried to other faces (t = {t})",
        ),
        f"{ctx.key}-transport.png",
    )
    lines = [
        f"u₁ of {ctx.face_name(s.source)} lives in H. At each target it is projected onto the target's top-{s.k} tangent "
        "directions u'ᵢ and turned back into an x-step v = Σ (cᵢ/σ'ᵢ) v'ᵢ.",
        "Share of u₁ kept at each target, and how far h moves per unit step there (the source's σ₁ is "
        f"{float(ba.s[0]):.1f}): "
        + ", ".join(f"{ctx.face_name(j)}: {k:.2f} (gain {g:.1f})" for j, (k, g) in zip(s.targets, kept)),
        f"At t = {t} faces share most of their tangent spaces; nearer t = 0 each face has its own, and less survives.",
    ]
    return Section(
        ctx.key,
        "Parallel transport to other faces",
        "Carry the direction to other images: the same change, on a different face.",
        lines,
        [file],
    )


def generated_section(ctx):
    from ..diffusion._figures import image_grid

    s = ctx.settings
    pipe = ctx.pipe
    samples = pipe.sample(n=s.n_samples, seed=0, steps=s.steps)
    cols = min(8, s.n_samples)
    grid = samples[: (s.n_samples // cols) * cols].reshape(-1, cols, *samples.shape[1:])
    files = [
        ctx.save(
            image_grid(grid, [""] * len(grid), [""] * cols, f"{s.n_samples} samples from {ctx.model_name}"),
            f"{ctx.key}-samples.png",
        )
    ]
    lines = [f"New samples from noise, made by {ctx.model_name}: DDIM with {s.steps} steps, eta = 0."]
    made, story = _scary_to_friendly(ctx) if ctx.world else _carried_to_a_new_face(ctx)
    files.append(made)
    lines += story
    return Section(
        ctx.key,
        "The generated image",
        "On a count of three… this time I know it will be the exact image I want to make.",
        lines,
        files,
    )


def _scary_to_friendly(ctx) -> tuple[str, list[str]]:
    """The seeds' climax on the face world: the scary face, the expression direction carried to it, the friendly one."""
    from ..diffusion._figures import image_grid
    from ..faces import world
    from ..nets import transport

    s, pipe, t = ctx.settings, ctx.pipe, ctx.settings.t
    xs = ctx.xt(s.source, t)
    source = ctx.basis("source", xs, t, s.k)
    best = ctx.effects("source", xs, t, source).purest()["expression"]
    xt = ctx.xt("scary face", t)
    moved = transport(source.u[best["index"]], ctx.basis("scary", xt, t, s.k))
    gammas = [0.0] + [best["sign"] * g for g in s.story_strengths]  # the sign that raised expression on the source
    images = pipe.edit(v=moved.v, strengths=gammas, t=t, steps=s.steps, xt=xt)
    read = world.oracle().predict(images)
    target, spread = world.named("friendly puppet")[0], world.spread()
    distance = np.linalg.norm((read - target) / spread, axis=1)
    i = int(np.argmin(distance))  # the closest of the steps tried; γ = 0 when none got closer
    e, b, o = (world.NAMES.index(n) for n in ("expression", "brow_angle", "eye_open"))
    made = ctx.save(
        image_grid(
            np.stack([images[0], images[i], world.face("friendly puppet")])[None],
            [""],
            ["scary face", f"carried, γ = {gammas[i]:+g}", "friendly puppet (wanted)"],
            "the image we meant to make",
        ),
        f"{ctx.key}-generated.png",
    )
    lines = [
        f"The scary face, inverted to t = {t}. On {ctx.face_name(s.source)} the direction that moves expression most "
        f"purely is v{best['index'] + 1} (expression's share {best['share']:.2f}); its u, carried to the scary face "
        f"(share kept {moved.kept:.2f}), and steps along it, denoised to t = 0.",
        "Expression as the oracle reads it (−1 frown … +1 smile): "
        + ", ".join(f"γ = {g:+g}: {read[j, e]:+.2f}" for j, g in enumerate(gammas))
        + f"; the friendly puppet is {target[e]:+.2f}.",
        (
            f"At γ = {gammas[i]:+g}, the closest to the friendly puppet over all {len(target)} factors: distance "
            if i
            else f"None of the steps got closer to the friendly puppet over all {len(target)} factors: distance "
        )
        + f"{distance[i]:.2f} spreads (from {distance[0]:.2f} before the step). Brow angle {read[i, b]:+.2f} "
        f"(wanted {target[b]:+.2f}), eye openness {read[i, o]:.2f} (wanted {target[o]:.2f}): one direction moves "
        "mostly one factor, and the puppet differs from the scary face in three.",
    ]
    return made, lines


def _carried_to_a_new_face(ctx) -> tuple[str, list[str]]:
    """On other models: a new sample stopped at t, a source face's direction 1 carried to it."""
    from ..diffusion._figures import image_grid
    from ..nets import transport

    s, pipe, t = ctx.settings, ctx.pipe, ctx.settings.t_transport
    ba = ctx.basis("source-transport", ctx.xt(s.source, t), t, s.k)
    xt = pipe.start_point(seed=s.seed, t=t, steps=s.steps, with_image=False).xt
    moved = transport(ba.u[0], ctx.basis(f"seed-{s.seed}", xt, t, s.k))
    strengths = (0.0, max(s.transport_strengths))
    pair = pipe.edit(v=moved.v, strengths=strengths, t=t, steps=s.steps, xt=xt)
    made = ctx.save(
        image_grid(
            pair[None],
            [f"seed {s.seed}"],
            ["as sampled", f"direction 1, γ = {strengths[1]:+g}"],
            "the image we meant to make",
        ),
        f"{ctx.key}-generated.png",
    )
    lines = [
        f"Then a new face (seed {s.seed}), stopped at t = {t}; direction 1 of {ctx.face_name(s.source)} carried to "
        f"it (share kept {moved.kept:.2f}), a step of γ = {strengths[1]:+g}, and DDIM down to the image.",
        f"Mean pixel change from the plain sample: {float(np.abs(pair[1] - pair[0]).mean()):.3f}",
    ]
    return made, lines


SECTIONS = (
    projection_section,
    change_of_basis_section,
    covariance_section,
    superposition_section,
    inputs_with_inputs_section,
    eigenvectors_section,
    rotate_scale_rotate_section,
    u_from_v_section,
    low_rank_section,
    least_squares_section,
    eigenfaces_section,
    faded_face_section,
    weight_matrix_section,
    jacobian_section,
    edits_section,
    transport_section,
    generated_section,
)
"""The report's sections in the script's order; each computes, draws and returns a :class:`Section`."""


# Which section shows each Manim scene of ``svdlens.video``.
VIDEO_SECTIONS = {
    "projection": projection_section,
    "inputs-with-inputs": inputs_with_inputs_section,
    "eigenvectors": eigenvectors_section,
    "rotate-scale-rotate": rotate_scale_rotate_section,
    "u-from-v": u_from_v_section,
    "puzzle": eigenfaces_section,
    "jacobian-directions": edits_section,
    "generated-image": generated_section,
}


def _add_videos(stage: Path, sections: list[Section]) -> None:
    """Render the video scenes into ``stage/video`` and link each from its section."""
    from ..video import render as render_video

    by_function = {make.__name__: section for make, section in zip(SECTIONS, sections)}
    paths = render_video(list(VIDEO_SECTIONS), out=stage / "video", quality="low")
    for name, path in zip(VIDEO_SECTIONS, paths):
        by_function[VIDEO_SECTIONS[name].__name__].files.append(f"video/{path.name}")


def run_demo(
    out: str | Path,
    *,
    fast: bool = False,
    settings: DemoSettings | None = None,
    cache_dir: str | Path | None = None,
    model: str = "builtin",
    progress: Progress = None,
    force: bool = False,
    video: bool = False,
) -> dict:
    """Run every step and write ``out/index.html`` with its figures, plus ``summary.json``.

    Nothing but the cache is written to ``out`` unless every step succeeds.

    Parameters
    ----------
    out : str or pathlib.Path
        The report folder: ``index.html``, the figures it links and ``summary.json``.
    fast : bool
        Use :meth:`DemoSettings.fast`, a reduced setting for tests and quick looks (ignored
        when ``settings`` is given).
    settings : DemoSettings, optional
        How much work each step does (default: ``DemoSettings()``).
    cache_dir : str or pathlib.Path, optional
        Where the local bases are kept between runs (default: ``out/cache``).
    model : str
        The diffusion model, as :func:`svdlens.diffusion.load` takes it.
    progress : callable, optional
        ``progress(done, total, title)``, called as each section starts and at the end.
    force : bool
        Replace files in ``out`` that svdlens did not write.
    video : bool
        Also render the Manim scenes (low quality, the ``svdlens[video]`` extra) into
        ``out/video`` and show each MP4 in its section.

    Returns
    -------
    dict
        The summary written to ``summary.json``: the settings, seconds, the model, and for
        each section its key, title, seconds, lines and files.

    Raises
    ------
    ModelLoadError
        The model cannot be loaded; this is checked before any work.
    OutputError
        ``out`` is a file, or holds files svdlens did not write (without ``force``).
    """
    from ..exceptions import InputNote
    from ._html import render

    settings = settings or (DemoSettings.fast() if fast else DemoSettings())
    out = Path(out)
    cache_dir = Path(cache_dir) if cache_dir is not None else out / "cache"
    cache_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    sections = []
    with staged_output(out, force=force) as stage, warnings.catch_warnings():
        warnings.simplefilter("ignore", InputNote)  # start images resized to the model's size are expected here
        ctx = _Context(stage, settings, cache_dir, model)
        _ = ctx.pipe  # a model that cannot load fails here, before any work
        for i, make_section in enumerate(SECTIONS):
            report(progress, i, len(SECTIONS), make_section.__name__.removesuffix("_section").replace("_", " "))
            ctx.key = f"{i + 1:02d}"
            t0 = time.perf_counter()
            section = make_section(ctx)
            section.seconds = time.perf_counter() - t0
            sections.append(section)
        if video:
            report(progress, len(SECTIONS) - 1, len(SECTIONS), "video scenes (Manim)")
            _add_videos(stage, sections)
        seconds = time.perf_counter() - start
        summary = {
            "settings": asdict(settings),
            "seconds": seconds,
            "model": model,
            "sections": [
                {"key": s.key, "title": s.title, "seconds": s.seconds, "lines": s.lines, "files": s.files}
                for s in sections
            ],
        }
        (stage / "index.html").write_text(render(sections, summary))
        (stage / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    report(progress, len(SECTIONS), len(SECTIONS), "done")
    return summary
