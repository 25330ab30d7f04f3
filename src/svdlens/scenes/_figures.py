"""Figures of the explain scenes. Each function draws one Scene; none computes one.

Colours keep one meaning throughout (svdlens.plotting.COLORS): inputs blue, outputs red,
singular directions green. Axes are labelled and have equal aspect.
"""

from __future__ import annotations

import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.patches import Rectangle

from .._plotting import COLORS, new_figure, subplots
from ._scenes import (
    ChangeOfBasisScene,
    DotProductsScene,
    EigenvectorsScene,
    InputsWithInputsScene,
    LeastSquaresScene,
    LowRankPictureScene,
    LowRankScene,
    MaxVarianceScene,
    ProjectionScene,
    RotateScaleRotateScene,
    SuperpositionScene,
    UFromVScene,
)


class StagedAnimation(FuncAnimation):
    """A FuncAnimation that also says where its points end and which artists its frames move."""

    def __init__(self, fig, func, *, frames: int, final_points: np.ndarray, artists: tuple) -> None:
        super().__init__(fig, func, frames=frames)
        self.final_points = final_points
        self.artists = artists


def _arrow(ax, v, color, label=None, origin=(0, 0), **kw):
    ax.annotate(
        "",
        xy=(origin[0] + v[0], origin[1] + v[1]),
        xytext=origin,
        arrowprops=dict(arrowstyle="->", color=color, lw=2, **kw),
    )
    if label:
        ax.text(origin[0] + v[0] * 1.08, origin[1] + v[1] * 1.08, label, color=color, fontsize=9)


def _plane(ax, lim, title):
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.axhline(0, color="#ccc", lw=0.8)
    ax.axvline(0, color="#ccc", lw=0.8)
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    ax.set_title(title, fontsize=10)


def _space(fig, pos, dim, lim, title):
    """2-D axes with equal aspect, or 3-D axes with equal box, labelled."""
    if dim == 3:
        ax = fig.add_subplot(*pos, projection="3d")
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_zlim(-lim, lim)
        ax.set_box_aspect((1, 1, 1))
        ax.set_xlabel("x₁")
        ax.set_ylabel("x₂")
        ax.set_zlabel("x₃")
        ax.set_title(title, fontsize=10)
        return ax
    ax = fig.add_subplot(*pos)
    _plane(ax, lim, title)
    return ax


def _vec(ax, v, color, label=None):
    """An arrow from the origin, in 2-D or 3-D axes."""
    if len(v) == 3:
        ax.quiver(0, 0, 0, *v, color=color, lw=2, arrow_length_ratio=0.12)
        if label:
            ax.text(*(1.1 * np.asarray(v)), label, color=color, fontsize=9)
    else:
        _arrow(ax, v, color, label)


def _curve(ax, X, color, **kw):
    return ax.plot(*X, color=color, **kw)


def projection(scene: ProjectionScene):
    A, x, y = scene.A, scene.x, scene.y
    fig = new_figure(figsize=(4.8, 4.8))
    lim = 1.3 * max(np.abs(A).max(), np.abs(x).max(), 1)
    ax = _space(fig, (1, 1, 1), len(x), lim, "Rows of A, the input x, and x projected on each row")
    _vec(ax, x, COLORS["input"], "x")
    for i, row in enumerate(A):
        _vec(ax, row, COLORS["output"], f"row {i + 1}")
        n2 = row @ row
        if n2 > 0:
            p = (row @ x) / n2 * row
            ax.plot(*np.stack([x, p]).T, ls=":", color=COLORS["other"])
            ax.plot(*[[c] for c in p], "o", color=COLORS["output"], ms=4)
            ax.text(*p, f"  y{i + 1}={y[i]:.3g}", fontsize=8, color=COLORS["output"])
    fig.tight_layout()
    return fig


def dot_products(scene: DotProductsScene):
    cases = scene.cases
    fig, axes = subplots(1, 3, figsize=(9, 3.2))
    for ax, (label, c) in zip(axes, cases.items()):
        _plane(ax, 2.6, f"{label}: a·b = {c['dot']:.3g}")
        _arrow(ax, c["a"], COLORS["input"], "a")
        _arrow(ax, c["b"], COLORS["output"], "b")
    fig.tight_layout()
    return fig


def change_of_basis(scene: ChangeOfBasisScene):
    B, c, v = scene.B, scene.coords, scene.point
    fig, axes = subplots(1, 2, figsize=(8, 4))
    lim = 1.2 * max(np.abs(v).max(), 3)
    _plane(axes[0], lim, f"new basis: coordinates {c.tolist()}")
    for a in np.arange(-6, 7):
        for d in (B[:, 0], B[:, 1]):
            other = B[:, 1] if d is B[:, 0] else B[:, 0]
            pts = np.array([a * other - 10 * d, a * other + 10 * d])
            axes[0].plot(pts[:, 0], pts[:, 1], color="#ddd", lw=0.7)
    _arrow(axes[0], B[:, 0], COLORS["singular"], "b₁")
    _arrow(axes[0], B[:, 1], COLORS["singular"], "b₂")
    _arrow(axes[0], c[0] * B[:, 0], COLORS["input"], f"{c[0]:g}·b₁")
    _arrow(axes[0], c[1] * B[:, 1], COLORS["input"], f"{c[1]:g}·b₂", origin=c[0] * B[:, 0])
    _plane(axes[1], lim, f"standard basis: {v.tolist()}")
    axes[1].grid(True, color="#ddd")
    _arrow(axes[1], v, COLORS["output"], "B c")
    fig.tight_layout()
    return fig


def _heatmap(ax, M, title, labels, highlight=None):
    lim = float(np.abs(M).max()) or 1.0
    ax.imshow(M, cmap="RdBu_r", vmin=-lim, vmax=lim)
    for (i, j), val in np.ndenumerate(M):
        ax.text(j, i, f"{val:.3g}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(M.shape[1]), [f"{labels}{j + 1}" for j in range(M.shape[1])])
    ax.set_yticks(range(M.shape[0]), [f"{labels}{i + 1}" for i in range(M.shape[0])])
    if highlight is not None:
        i, j = highlight
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="black", lw=2.5))
    ax.set_title(title, fontsize=10)


def inputs_with_inputs(scene: InputsWithInputsScene):
    fig, axes = subplots(1, 2, figsize=(8, 3.8))
    i, j = scene.pick
    _heatmap(
        axes[0],
        scene.WtW,
        f"WᵀW: inputs × inputs\n(boxed: column {i + 1} · column {j + 1} = {scene.value:.3g})",
        "in",
        scene.pick,
    )
    _heatmap(axes[1], scene.WWt, "WWᵀ: outputs × outputs", "out")
    fig.tight_layout()
    return fig


def eigenvectors(scene: EigenvectorsScene):
    fig, ax = subplots(figsize=(4.8, 4.8))
    X, Y = scene.circle, scene.image
    assert X is not None and Y is not None  # drawn only for 2 columns (SCENES' fits)
    lim = 1.15 * max(np.abs(Y).max(), 1)
    _plane(ax, lim, "x (blue) and AᵀA x (red); eigenvectors (green) do not turn")
    for k in range(X.shape[1]):
        ax.plot([X[0, k], Y[0, k]], [X[1, k], Y[1, k]], color="#ddd", lw=0.8)
    ax.plot(X[0], X[1], ".", color=COLORS["input"])
    ax.plot(Y[0], Y[1], ".", color=COLORS["output"])
    for k in range(2):
        v, lam = scene.eigenvectors[:, k], scene.eigenvalues[k]
        _arrow(ax, lam * v, COLORS["singular"], f"λ{k + 1}={lam:.3g}")
    fig.tight_layout()
    return fig


def eigenvectors_animation(scene: EigenvectorsScene, frames: int = 20):
    G = scene.G
    t = np.linspace(0, 2 * np.pi, 200)
    X = np.stack([np.cos(t), np.sin(t)])
    fig, ax = subplots(figsize=(4.4, 4.4))
    lim = 1.15 * max(np.abs(G @ X).max(), 1)
    _plane(ax, lim, "")
    (curve,) = ax.plot([], [], color=COLORS["output"])
    arrows = [ax.plot([], [], color=COLORS["singular"], lw=2)[0] for _ in range(2)]
    labels = [ax.text(0, 0, "", color=COLORS["singular"], fontsize=9) for _ in range(2)]
    title = ax.set_title("", fontsize=10)
    fig.subplots_adjust(top=0.86)  # room for the two-line title: the GIF is saved without a tight box

    def draw(f):
        s = f / (frames - 1)
        M = (1 - s) * np.eye(2) + s * G
        Y = M @ X
        curve.set_data(Y[0], Y[1])
        for k, line in enumerate(arrows):
            v = M @ scene.eigenvectors[:, k]
            line.set_data([0, v[0]], [0, v[1]])
            labels[k].set_position((1.05 * v[0], 1.05 * v[1]))
            labels[k].set_text(f"λ{k + 1} = {scene.eigenvalues[k]:.3g}")
        title.set_text(f"(1−s)I + s·AᵀA,  s = {s:.2f}\neigenvectors stay on their lines")
        return [curve, *arrows, *labels, title]

    draw(0)
    return FuncAnimation(fig, draw, frames=frames)


def rotate_scale_rotate(scene: RotateScaleRotateScene):
    """Four panels: the circle and basis vectors after each step; with a picture, a second row."""
    steps = scene.stages
    assert steps is not None  # drawn only in 2-3 dimensions (SCENES' fits)
    pics = scene.picture_stages
    rows = 2 if pics is not None else 1
    fig = new_figure(figsize=(12, 3.4 * rows))
    lim = 1.15 * max(float(np.abs(st[1]).max()) for st in steps)
    for c, (label, X, E) in enumerate(steps):
        ax = _space(fig, (rows, 4, c + 1), X.shape[0], lim, label)
        _curve(ax, X, COLORS["input"] if c == 0 else COLORS["output"])
        _vec(ax, E[:, 0], COLORS["singular"], "e₁")
        _vec(ax, E[:, 1], COLORS["other"], "e₂")
        if pics is not None:
            P = pics[c]
            plim = 1.1 * max(float(np.abs(p).max()) for p in pics)
            pax = _space(fig, (rows, 4, 5 + c), P.shape[0], plim, "the picture " + label.split(" (")[0])
            pax.scatter(*P, c=scene.picture_values, cmap="gray", s=6, marker="s")
    fig.tight_layout()
    return fig


def rotate_scale_rotate_animation(scene: RotateScaleRotateScene, frames_per_step: int = 8):
    """Vᵀ, then Σ, then U, interpolated; the last frame equals A applied directly."""
    steps = scene.stages
    assert steps is not None  # drawn only in 2-3 dimensions (SCENES' fits)
    lim = 1.15 * max(float(np.abs(s[1]).max()) for s in steps)
    fig, ax = subplots(figsize=(4.4, 4.4))
    _plane(ax, lim, "")
    (curve,) = ax.plot([], [], color=COLORS["output"])
    e1 = ax.plot([], [], color=COLORS["singular"], lw=2)[0]
    e2 = ax.plot([], [], color=COLORS["other"], lw=2)[0]
    title = ax.set_title("")
    seq = []
    for a in range(3):
        for f in range(frames_per_step):
            s = (f + 1) / frames_per_step
            seq.append(
                (
                    steps[a + 1][0],
                    (1 - s) * steps[a][1] + s * steps[a + 1][1],
                    (1 - s) * steps[a][2] + s * steps[a + 1][2],
                )
            )

    def draw(i):
        label, X, E = seq[i]
        curve.set_data(X[0], X[1])
        e1.set_data([0, E[0, 0]], [0, E[1, 0]])
        e2.set_data([0, E[0, 1]], [0, E[1, 1]])
        title.set_text(label)
        return [curve, e1, e2, title]

    draw(0)
    return StagedAnimation(fig, draw, frames=len(seq), final_points=seq[-1][1], artists=(curve, e1, e2))


def u_from_v(scene: UFromVScene):
    U, S, Vt = scene.U, scene.S, scene.Vt
    lim = 1.2 * max(S.max(), 1)
    same = U.shape[0] == Vt.shape[1]
    fig = new_figure(figsize=(4.8 if same else 9, 4.8))
    ax_in = _space(
        fig,
        (1, 1 if same else 2, 1),
        Vt.shape[1],
        lim,
        "each vᵢ (blue) is sent to σᵢuᵢ (red)" if same else "input space: the vᵢ",
    )
    ax_out = ax_in if same else _space(fig, (1, 2, 2), U.shape[0], lim, "output space: σᵢuᵢ = A vᵢ")
    for i in range(len(S)):
        _vec(ax_in, Vt[i], COLORS["input"], f"v{i + 1}")
        _vec(ax_out, S[i] * U[:, i], COLORS["output"], f"σ{i + 1}u{i + 1}")
    fig.tight_layout()
    return fig


def max_variance(scene: MaxVarianceScene):
    fig, axes = subplots(1, 2, figsize=(9, 4))
    cloud = scene.cloud
    assert cloud is not None  # max_variance() always makes it
    lim = 1.1 * max(np.abs(cloud).max(), 1)
    _plane(axes[0], lim, "data with covariance S; top eigenvector")
    axes[0].plot(cloud[0], cloud[1], ".", color=COLORS["input"], ms=3, alpha=0.5)
    _arrow(axes[0], scene.top * lim * 0.8, COLORS["singular"], "top eigenvector")
    theta = np.degrees(np.arctan2(scene.circle[1], scene.circle[0])) % 360
    order = np.argsort(theta)
    axes[1].plot(theta[order], scene.quadratic_form[order], color=COLORS["output"])
    tdeg = np.degrees(np.arctan2(scene.top[1], scene.top[0])) % 360
    for t in (tdeg, (tdeg + 180) % 360):
        axes[1].axvline(t, color=COLORS["singular"], ls="--")
    if scene.blog_w is not None:
        bdeg = np.degrees(np.arctan2(scene.blog_w[1], scene.blog_w[0]))
        axes[1].plot([bdeg], [scene.blog_value], "x", color="black", ms=8, label="the blog's w")
        axes[1].legend(fontsize=8)
    axes[1].set_xlabel("direction of w (degrees)")
    axes[1].set_ylabel("wᵀSw")
    axes[1].set_title("variance along w", fontsize=10)
    fig.tight_layout()
    return fig


def least_squares(scene: LeastSquaresScene):
    """b, its projection p onto the plane C(A), and the perpendicular error e."""
    A, b, p = scene.A, scene.b, scene.p
    if A.shape[0] != 3 or A.shape[1] != 2:
        return None
    fig = new_figure(figsize=(5.2, 5.2))
    lim = 1.1 * max(np.abs(b).max(), np.abs(p).max(), 1)
    ax = _space(fig, (1, 1, 1), 3, lim, "least squares: p = A x̂ is b's shadow on C(A)")
    g = np.linspace(-1.5, 1.5, 2)
    a1, a2 = A[:, 0], A[:, 1]
    span = max(lim / np.linalg.norm(a1), lim / np.linalg.norm(a2))
    uu, vv = np.meshgrid(g * span, g * span)
    plane = a1[:, None, None] * uu + a2[:, None, None] * vv
    ax.plot_surface(*plane, alpha=0.15, color=COLORS["singular"])
    _vec(ax, b, COLORS["input"], "b")
    _vec(ax, p, COLORS["output"], "p")
    ax.plot(*np.stack([b, p]).T, ls="--", color="black")
    ax.text(*((b + p) / 2), " e ⊥ C(A)", fontsize=9)
    fig.tight_layout()
    return fig


def low_rank(scene: LowRankScene):
    approx = scene.approximations
    fig, axes = subplots(1, len(approx), figsize=(2.8 * len(approx), 3), squeeze=False)
    lim = max(float(np.abs(a).max()) for a in approx) or 1.0
    for k, (ax, Ak) in enumerate(zip(axes[0], approx), start=1):
        ax.imshow(Ak, cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_title(f"A_{k}: ‖A−A_{k}‖₂ = {scene.spectral[k - 1]:.3g}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def low_rank_picture(scene: LowRankPictureScene):
    """The picture, its rank-k approximations, and the share left out against k."""
    n = len(scene.ks) + 1
    fig = new_figure(figsize=(1.6 * n + 3.2, 2.3))
    grid = fig.add_gridspec(1, n + 2)
    for c, (img, title) in enumerate(
        [(scene.image, "the picture")] + [(a, f"k = {k}") for k, a in zip(scene.ks, scene.approximations)]
    ):
        ax = fig.add_subplot(grid[0, c])
        ax.imshow(img, cmap="gray", vmin=float(scene.image.min()), vmax=float(scene.image.max()))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize=9)
    ax = fig.add_subplot(grid[0, n:])
    k = np.arange(1, len(scene.relative_error) + 1)
    ax.plot(k, scene.relative_error, "o-", ms=3, color=COLORS["singular"])
    ax.set_xlabel("k, triplets kept", fontsize=8)
    ax.set_ylabel("‖A − A_k‖_F / ‖A‖_F", fontsize=8)
    ax.set_ylim(0, None)
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def superposition(scene: SuperpositionScene):
    fig, axes = subplots(1, 2, figsize=(8.5, 4))
    _plane(axes[0], 1.3, f"{scene.W.shape[1]} features in 2 neurons")
    for i, w in enumerate(scene.W.T):
        _arrow(axes[0], w, COLORS["singular"], f"f{i + 1}")
    _heatmap(axes[1], scene.G, "WᵀW: interference between features", "f")
    fig.tight_layout()
    return fig
