"""The script's math scenes as numbers: pure numpy, one function per scene, each returning a Scene.

Nothing here draws. Each scene holds plain arrays and a short text with the actual numbers, so
it can be tested exactly; ``svdlens.explain.figures`` draws them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ..exceptions import SvdlensError

__all__ = [
    "Scene",
    "projection",
    "dot_products",
    "change_of_basis",
    "inputs_with_inputs",
    "eigenvectors",
    "rotate_scale_rotate",
    "u_from_v",
    "max_variance",
    "least_squares",
    "low_rank",
    "superposition",
    "BLOG_COVARIANCE",
    "BLOG_W",
]

BLOG_COVARIANCE = np.array([[0.5, 2.0], [2.0, 1.1]])
BLOG_W = np.array([0.375, 0.625])  # the blog post's claimed maximiser (it is not one)


@dataclass(kw_only=True)
class Scene:
    """One scene: the story told with its numbers (``lines``); subclasses hold the numbers as fields.

    Attributes
    ----------
    name : str
        The scene's name (a class attribute).
    title : str
        The scene's title (a class attribute).
    lines : list of str
        The story, line by line, with the numbers in it.
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    lines: list[str] = field(default_factory=list)

    def text(self) -> str:
        """The scene as Markdown: its title and lines.

        Returns
        -------
        str
            A ``##`` heading, then the lines.

        Examples
        --------
        >>> import svdlens as sl
        >>> print(sl.explain([[2, 0], [0, 1]], vector=[1, 1], only=["projection"])["projection"].text())
        ## Projection: outputs are dot products
        Each output component is one row of A dotted with the input x:
          y1 = 2·1 + 0·1 = 2
          y2 = 0·1 + 1·1 = 1
        The projection of x onto each row's direction is yᵢ/‖rowᵢ‖: [1, 1]
        """
        return f"## {self.title}\n" + "\n".join(self.lines)


@dataclass(kw_only=True)
class ProjectionScene(Scene):
    """y = A x, each output the dot product of a row with x."""

    name: ClassVar[str] = "projection"
    title: ClassVar[str] = "Projection: outputs are dot products"
    A: np.ndarray
    x: np.ndarray
    y: np.ndarray
    terms: np.ndarray  # terms[i, j] = a_ij x_j
    projection: np.ndarray  # yᵢ/‖rowᵢ‖


@dataclass(kw_only=True)
class DotProductsScene(Scene):
    """a·b for parallel, orthogonal and antiparallel pairs: label → {a, b, theta, dot}."""

    name: ClassVar[str] = "dot_products"
    title: ClassVar[str] = "Dot products: parallel, orthogonal, antiparallel"
    cases: dict


@dataclass(kw_only=True)
class ChangeOfBasisScene(Scene):
    """Coordinates in the basis of B's columns, and the point they name."""

    name: ClassVar[str] = "change_of_basis"
    title: ClassVar[str] = "Change of basis"
    B: np.ndarray
    coords: np.ndarray
    point: np.ndarray


@dataclass(kw_only=True)
class InputsWithInputsScene(Scene):
    """WᵀW and WWᵀ, with entry ``pick`` written out as a dot product of two columns."""

    name: ClassVar[str] = "inputs_with_inputs"
    title: ClassVar[str] = "Inputs with inputs: WᵀW"
    W: np.ndarray
    WtW: np.ndarray
    WWt: np.ndarray
    pick: tuple[int, int]
    value: float


@dataclass(kw_only=True)
class EigenvectorsScene(Scene):
    """AᵀA, its eigenpairs (descending), and (2 columns) a ring of vectors and their images."""

    name: ClassVar[str] = "eigenvectors"
    title: ClassVar[str] = "Eigenvectors stay on their line"
    G: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    circle: np.ndarray | None = None
    image: np.ndarray | None = None
    turn_degrees: np.ndarray | None = None


@dataclass(kw_only=True)
class RotateScaleRotateScene(Scene):
    """A = UΣVᵀ, and (2–3 dimensions) the circle, axes and picture after each stage.

    ``stages`` lists (label, circle points, axes) after nothing, Vᵀ, ΣVᵀ and UΣVᵀ; ``direct``
    is (A·circle, A·axes); ``picture_stages`` and ``picture_direct`` do the same for the
    picture's pixel centres, whose values are ``picture_values``.
    """

    name: ClassVar[str] = "rotate_scale_rotate"
    title: ClassVar[str] = "Rotate, scale, rotate"
    U: np.ndarray
    S: np.ndarray
    Vt: np.ndarray
    stages: list | None = None
    direct: tuple | None = None
    picture_values: np.ndarray | None = None
    picture_stages: list | None = None
    picture_direct: np.ndarray | None = None


@dataclass(kw_only=True)
class UFromVScene(Scene):
    """u = Av/σ for each triplet, and ‖AAᵀ(Av) − σ²(Av)‖ per triplet."""

    name: ClassVar[str] = "u_from_v"
    title: ClassVar[str] = "u = Av/σ"
    U: np.ndarray
    S: np.ndarray
    Vt: np.ndarray
    chain_residuals: np.ndarray


@dataclass(kw_only=True)
class MaxVarianceScene(Scene):
    """wᵀSw around the circle, its maximiser, and the blog post's claimed one."""

    name: ClassVar[str] = "max_variance"
    title: ClassVar[str] = "Maximum variance"
    S: np.ndarray
    eigenvalues: np.ndarray
    top: np.ndarray
    circle: np.ndarray
    quadratic_form: np.ndarray
    blog_w: np.ndarray | None = None
    blog_value: float | None = None
    cloud: np.ndarray | None = None
    covariance_used: np.ndarray | None = None


@dataclass(kw_only=True)
class LeastSquaresScene(Scene):
    """x̂ = argmin ‖Ax − b‖, p = A x̂ and the error e = b − p ⟂ C(A)."""

    name: ClassVar[str] = "least_squares"
    title: ClassVar[str] = "Least squares: projection onto C(A)"
    A: np.ndarray
    b: np.ndarray
    xhat: np.ndarray
    p: np.ndarray
    e: np.ndarray


@dataclass(kw_only=True)
class LowRankScene(Scene):
    """A_k for k = 1..rank with its spectral and Frobenius errors."""

    name: ClassVar[str] = "low_rank"
    title: ClassVar[str] = "Low rank: keep the biggest pieces"
    S: np.ndarray
    approximations: list
    spectral: np.ndarray
    frobenius: np.ndarray
    rank: int


@dataclass(kw_only=True)
class SuperpositionScene(Scene):
    """n feature directions in 2 neurons and their interference WᵀW."""

    name: ClassVar[str] = "superposition"
    title: ClassVar[str] = "Superposition: more features than neurons"
    W: np.ndarray
    G: np.ndarray
    interference: float


def fmt(x, digits: int = 4) -> str:
    """A number or array, short and readable."""
    a = np.asarray(x, dtype=float)
    if a.ndim == 0:
        v = float(a)
        return f"{v:.{digits}g}" if v != 0 else "0"
    return (
        "[" + ", ".join(fmt(v, digits) for v in a) + "]"
        if a.ndim == 1
        else "[" + "; ".join(fmt(r, digits) for r in a) + "]"
    )


def _svd(A):
    """The full SVD by the engine (LAPACK), with svdlens' sign convention."""
    from ..linalg import svd

    U, S, Vt = svd(A, method="exact")
    return U, S, Vt


# --------------------------------------------------------------------------- 1. projection
def projection(A: np.ndarray, x: np.ndarray) -> Scene:
    """Each output is the dot product of a row of A with x (the script's 0.4·2 + 0.2·1 = 1)."""
    A, x = np.asarray(A, float), np.asarray(x, float)
    y = A @ x
    terms = A * x  # terms[i, j] = a_ij x_j
    lines = ["Each output component is one row of A dotted with the input x:"]
    for i in range(A.shape[0]):
        parts = " + ".join(f"{fmt(A[i, j])}·{fmt(x[j])}" for j in range(A.shape[1]))
        lines.append(f"  y{i + 1} = {parts} = {fmt(y[i])}")
    # How much of each row lies along x: the projection of x onto the row's direction.
    norms = np.linalg.norm(A, axis=1)
    proj = np.divide(y, norms, out=np.zeros_like(y), where=norms > 0)
    lines.append("The projection of x onto each row's direction is yᵢ/‖rowᵢ‖: " + fmt(proj))
    return ProjectionScene(A=A, x=x, y=y, terms=terms, projection=proj, lines=lines)


def dot_products(length_a: float = 2.0, length_b: float = 1.5) -> Scene:
    """a·b = |a||b|cos θ for parallel, orthogonal and antiparallel pairs."""
    cases = {}
    lines = ["The dot product measures how much one vector goes along another: a·b = |a||b|cos θ."]
    a = np.array([length_a, 0.0])
    for label, theta in (("parallel", 0.0), ("orthogonal", np.pi / 2), ("antiparallel", np.pi)):
        b = length_b * np.array([np.cos(theta), np.sin(theta)])
        dot = float(a @ b)
        dot = 0.0 if abs(dot) < 1e-12 else dot
        cases[label] = {"a": a, "b": b, "theta": theta, "dot": dot}
        lines.append(
            f"  {label}: θ = {np.degrees(theta):.0f}°, a·b = {fmt(length_a)}·{fmt(length_b)}·cos θ = {fmt(dot)}"
        )
    return DotProductsScene(cases=cases, lines=lines)


# ----------------------------------------------------------------------- 2. change of basis
def change_of_basis(B=((2.0, -1.0), (1.0, 1.0)), coords=(-1.0, 2.0)) -> Scene:
    """The columns of B are the new basis vectors; B c gives the point in the old basis."""
    B, c = np.asarray(B, float), np.asarray(coords, float)
    v = B @ c
    lines = [
        f"The columns of B, {fmt(B[:, 0])} and {fmt(B[:, 1])}, are the new basis vectors.",
        f"Coordinates {fmt(c)} in the new basis mean {fmt(c[0])}·{fmt(B[:, 0])} + {fmt(c[1])}·{fmt(B[:, 1])} = {fmt(v)} in the old one.",
    ]
    return ChangeOfBasisScene(B=B, coords=c, point=v, lines=lines)


# ----------------------------------------------------------------------- 3. inputs with inputs
def inputs_with_inputs(W: np.ndarray, pick: tuple[int, int] | None = None) -> Scene:
    """WᵀW (inputs against inputs) and WWᵀ (outputs against outputs); one entry written out."""
    W = np.asarray(W, float)
    WtW, WWt = W.T @ W, W @ W.T
    n = W.shape[1]
    i, j = pick if pick is not None else ((0, 1) if n > 1 else (0, 0))
    value = float(W[:, i] @ W[:, j])
    terms = " + ".join(f"{fmt(W[r, i])}·{fmt(W[r, j])}" for r in range(W.shape[0]))
    lines = [
        "WᵀW compares inputs with inputs: entry (i, j) is column i of W dotted with column j.",
        f"  (WᵀW)[{i + 1},{j + 1}] = {terms} = {fmt(value)}",
        f"WᵀW = {fmt(WtW)};  WWᵀ (outputs with outputs) = {fmt(WWt)}",
    ]
    return InputsWithInputsScene(W=W, WtW=WtW, WWt=WWt, pick=(i, j), value=value, lines=lines)


# ----------------------------------------------------------------------- 4. eigenvectors
def eigenvectors(A: np.ndarray, n_points: int = 24) -> Scene:
    """x ↦ (AᵀA)x on the unit circle: eigenvectors stay on their line, others turn."""
    A = np.asarray(A, float)
    G = A.T @ A
    lam, vecs = np.linalg.eigh(G)
    lam, vecs = lam[::-1], vecs[:, ::-1]
    lines = [f"AᵀA = {fmt(G)}. Most vectors turn when AᵀA acts on them; its eigenvectors only stretch."]
    scene = EigenvectorsScene(G=G, eigenvalues=lam, eigenvectors=vecs, lines=lines)
    if G.shape[0] == 2:
        t = np.linspace(0, 2 * np.pi, n_points, endpoint=False)
        X = np.stack([np.cos(t), np.sin(t)])
        Y = G @ X
        turn = np.degrees(np.arctan2(X[0] * Y[1] - X[1] * Y[0], (X * Y).sum(0)))
        scene.circle, scene.image, scene.turn_degrees = X, Y, turn
    for k in range(len(lam)):
        v = vecs[:, k]
        lines.append(
            f"  v{k + 1} = {fmt(v)}: AᵀA v{k + 1} = {fmt(G @ v)} = {fmt(lam[k])}·v{k + 1} (λ{k + 1} = {fmt(lam[k])})"
        )
    return scene


# ----------------------------------------------------------------------- 5. rotate, scale, rotate
def _angle(Q):
    return float(np.degrees(np.arctan2(Q[1, 0], Q[0, 0]))), bool(np.linalg.det(Q) < 0)


def rotate_scale_rotate(A: np.ndarray, n_points: int = 64, picture: np.ndarray | None = None) -> Scene:
    """Vᵀ, then Σ, then U acting on the unit circle, the basis vectors and a picture; the end equals A.

    The circle is taken in A's row space (all of the plane for a 2-column A), so 3×2 and 2×3
    matrices draw too, in 3-D where a step lives in 3 dimensions. ``picture`` (h, w) becomes a
    cloud of pixel centres in [−1, 1]², moved by each step; its last position equals A applied
    directly.
    """
    A = np.asarray(A, float)
    U, S, Vt = _svd(A)
    m, n = A.shape
    lines = [f"A = U Σ Vᵀ with σ = {fmt(S)}."]
    scene = RotateScaleRotateScene(U=U, S=S, Vt=Vt, lines=lines)
    if max(m, n) > 3 or min(m, n) < 2:
        lines.append("  (The pictures need 2 or 3 dimensions on each side; the numbers hold for any shape.)")
        return scene
    r = 2
    t = np.linspace(0, 2 * np.pi, n_points)
    basis = Vt[:r].T if n == 3 else np.eye(2)  # the input plane: A's row space when n = 3
    X = basis @ np.stack([np.cos(t), np.sin(t)])
    E = basis  # the plane's own axes (the standard e₁, e₂ for a 2-column A)
    Sr, Vr, Ur = S[:r], Vt[:r], U[:, :r]
    P = None
    if picture is not None:
        h, w = picture.shape
        yy, xx = np.mgrid[1 : -1 : complex(0, h), -1 : 1 : complex(0, w)]
        P = basis @ np.stack([xx.ravel(), yy.ravel()])
        scene.picture_values = np.asarray(picture, float).ravel()
    maps = [
        ("input", None),
        ("after Vᵀ (rotate)", Vr),
        ("after Σ (scale)", Sr[:, None] * Vr),
        ("after U (rotate): A x", Ur @ (Sr[:, None] * Vr)),
    ]
    stages, picture_stages = [], []
    for label, M in maps:
        stages.append((label, X if M is None else M @ X, E if M is None else M @ E))
        if P is not None:
            picture_stages.append(P if M is None else M @ P)
    scene.stages, scene.direct = stages, (A @ X, A @ E)
    if P is not None:
        scene.picture_stages, scene.picture_direct = picture_stages, A @ P
    if m == n == 2:
        av, rv = _angle(Vt)
        au, ru = _angle(U)
        lines.append(
            f"  Vᵀ {'reflects and ' if rv else ''}rotates by {av:.1f}°, Σ stretches by {fmt(S)}, "
            f"U {'reflects and ' if ru else ''}rotates by {au:.1f}°."
        )
    elif m == 3:
        lines.append(
            "  Vᵀ rotates the plane, Σ stretches it, and U lays it into 3-D space as the plane spanned by u₁, u₂."
        )
    else:
        lines.append("  Vᵀ takes the plane of A's rows (in 3-D) flat onto 2-D, Σ stretches it, U rotates it.")
    lines.append("  The last step lands exactly where A sends each point: U Σ Vᵀ x = A x.")
    return scene


# ----------------------------------------------------------------------- 6. u = Av/σ
def u_from_v(A: np.ndarray) -> Scene:
    """Each right singular vector goes to σ u; and AᵀAv = σ²v implies AAᵀ(Av) = σ²(Av)."""
    A = np.asarray(A, float)
    U, S, Vt = _svd(A)
    lines = []
    checks = []
    for i, s in enumerate(S):
        v = Vt[i]
        Av = A @ v
        lines.append(
            f"  A v{i + 1} = {fmt(Av)} = {fmt(s)}·u{i + 1}, so u{i + 1} = A v{i + 1}/σ{i + 1} = {fmt(U[:, i])}"
        )
        lhs = A @ (A.T @ Av)
        checks.append(float(np.linalg.norm(lhs - s**2 * Av)))
    lines.insert(0, "Multiply AᵀA v = σ² v by A: AAᵀ (A v) = σ² (A v). So A v is an eigenvector of AAᵀ: it is σ u.")
    lines.append(f"  checked numerically: ‖AAᵀ(Av) − σ²(Av)‖ = {fmt(np.array(checks), 2)}")
    return UFromVScene(U=U, S=S, Vt=Vt, chain_residuals=np.array(checks), lines=lines)


# ----------------------------------------------------------------------- 7. maximum variance
def max_variance(S=BLOG_COVARIANCE, n_points: int = 3600, n_cloud: int = 400, seed: int = 0) -> Scene:
    """wᵀSw around the unit circle peaks at the top eigenvector of the covariance S.

    The blog post's example S = [[0.5, 2], [2, 1.1]] is not a covariance (its determinant is
    negative), and its maximiser is not w ∝ [0.375, 0.625]: both are said and corrected.
    """
    S = np.asarray(S, float)
    lam, vecs = np.linalg.eigh(S)
    top = vecs[:, -1] * np.sign(vecs[np.abs(vecs[:, -1]).argmax(), -1])
    t = np.linspace(0, 2 * np.pi, n_points, endpoint=False)
    W = np.stack([np.cos(t), np.sin(t)])
    q = np.einsum("it,ij,jt->t", W, S, W)
    best = W[:, q.argmax()]
    lines = [
        f"The variance of the data along a unit direction w is wᵀSw; it is largest along the top eigenvector of S = {fmt(S)}.",
        f"  top eigenvector {fmt(top)}, eigenvalue {fmt(lam[-1])} = max wᵀSw (the search around the circle finds {fmt(q.max())} at {fmt(best)})",
    ]
    scene = MaxVarianceScene(S=S, eigenvalues=lam[::-1], top=top, circle=W, quadratic_form=q, lines=lines)
    if np.allclose(S, BLOG_COVARIANCE):
        wb = BLOG_W / np.linalg.norm(BLOG_W)
        qb = float(wb @ S @ wb)
        scene.blog_w, scene.blog_value = wb, qb
        Sw = S @ wb
        angle = float(np.degrees(np.arccos(np.clip(Sw @ wb / np.linalg.norm(Sw), -1.0, 1.0))))
        lines += [
            f"  The blog post says w ∝ {fmt(BLOG_W)} maximises it: there wᵀSw = {fmt(qb)}, less than {fmt(lam[-1])}. "
            f"The maximiser is w ∝ {fmt(top)} (ratio w₁/w₂ = {fmt(top[0] / top[1])}, not 0.6).",
            f"  The blog's w is not an eigenvector: S·w = [{Sw[0]:.3f}, {Sw[1]:.3f}] points {angle:.1f}° away from w, "
            f"and an eigenvector only stretches. The true top eigenvector is [{top[0]:.3f}, {top[1]:.3f}].",
        ]
    if lam[0] < 0:
        lines.append(
            f"  Also, S has a negative eigenvalue ({fmt(lam[0])}), so it is not a covariance matrix: "
            "the point cloud below uses |S|'s eigen-decomposition with the negative part clipped to 0."
        )
    psd = (vecs * np.clip(lam, 0, None)) @ vecs.T
    rng = np.random.default_rng(seed)
    L = vecs * np.sqrt(np.clip(lam, 0, None))
    scene.cloud, scene.covariance_used = L @ rng.standard_normal((2, n_cloud)), psd
    return scene


def least_squares(A=((1.0, 0.0), (1.0, 1.0), (1.0, 2.0)), b=(6.0, 0.0, 0.0)) -> Scene:
    """Least squares is the projection of b onto the column space C(A): p = A x̂, with b − p ⟂ C(A)."""
    A, b = np.asarray(A, float), np.asarray(b, float)
    xhat, *_ = np.linalg.lstsq(A, b, rcond=None)
    p = A @ xhat
    e = b - p
    lines = [
        f"The closest point to b = {fmt(b)} in the column space C(A) is p = A x̂ = {fmt(p)}, with x̂ = {fmt(xhat)}.",
        f"  The error e = b − p = {fmt(e)} is perpendicular to every column: Aᵀe = {fmt(A.T @ e, 2)}.",
    ]
    return LeastSquaresScene(A=A, b=b, xhat=xhat, p=p, e=e, lines=lines)


# ----------------------------------------------------------------------- 8. low rank
def low_rank(A: np.ndarray) -> Scene:
    """A_k = Σ_{i≤k} σᵢ uᵢ vᵢᵀ for k = 1..r; ‖A − A_k‖₂ = σ_{k+1} and the Frobenius error."""
    A = np.asarray(A, float)
    U, S, Vt = _svd(A)
    r = int(np.sum(S > S[0] * max(A.shape) * np.finfo(float).eps)) if S.size and S[0] > 0 else 0
    approx, spectral, frobenius = [], [], []
    lines = ["Keep the k largest singular triplets: A_k = Σ_{i≤k} σᵢ uᵢ vᵢᵀ."]
    for k in range(1, max(r, 1) + 1):
        Ak = (U[:, :k] * S[:k]) @ Vt[:k]
        approx.append(Ak)
        spectral.append(float(np.linalg.norm(A - Ak, 2)))
        frobenius.append(float(np.linalg.norm(A - Ak)))
        nxt = S[k] if k < len(S) else 0.0
        lines.append(
            f"  k = {k}: ‖A − A_k‖₂ = {fmt(spectral[-1])} (σ{k + 1} = {fmt(nxt)}), Frobenius error {fmt(frobenius[-1])}"
        )
    return LowRankScene(
        S=S, approximations=approx, spectral=np.array(spectral), frobenius=np.array(frobenius), rank=r, lines=lines
    )


@dataclass(kw_only=True)
class LowRankPictureScene(Scene):
    """A picture as a matrix, rebuilt from its k largest singular triplets, and the error against k."""

    name: ClassVar[str] = "low_rank_picture"
    title: ClassVar[str] = "Low rank on a picture"
    image: np.ndarray
    ks: list
    approximations: list
    S: np.ndarray
    relative_error: np.ndarray


def low_rank_picture(image: np.ndarray, ks=(1, 2, 5, 10, 20)) -> LowRankPictureScene:
    """A grayscale picture A as a matrix: A_k for each k in ``ks`` and ``‖A − A_k‖_F/‖A‖_F`` for every k.

    The relative error after k triplets is ``sqrt(Σ_{i>k} σᵢ²) / sqrt(Σ σᵢ²)`` (Eckart–Young:
    no rank-k matrix is closer). On a 2×2 matrix k = 2 is already exact; a picture shows how
    few of its triplets carry most of it.
    """
    A = np.asarray(image, float)
    if A.ndim != 2 or min(A.shape) < 2 or not np.isfinite(A).all():
        raise SvdlensError(f"a picture must be a finite 2-D array of at least 2×2; got shape {A.shape}")
    U, S, Vt = _svd(A)
    ks = sorted({int(k) for k in ks if 1 <= int(k) <= len(S)})
    approx = [(U[:, :k] * S[:k]) @ Vt[:k] for k in ks]
    energy = np.cumsum(S[::-1] ** 2)[::-1]  # Σ_{i≥k} σᵢ², k = 0..r−1
    total = energy[0] if energy[0] > 0 else 1.0
    relative = np.sqrt(np.append(energy[1:], 0.0) / total)  # after k = 1..r triplets
    lines = [
        f"A {A.shape[0]}×{A.shape[1]} picture is a matrix of rank {int(np.sum(S > S[0] * max(A.shape) * np.finfo(float).eps))}.",
        "Kept triplets and the share of the picture left out (‖A − A_k‖_F/‖A‖_F): "
        + ", ".join(f"k = {k}: {relative[k - 1]:.1%}" for k in ks),
    ]
    return LowRankPictureScene(image=A, ks=ks, approximations=approx, S=S, relative_error=relative, lines=lines)


# ----------------------------------------------------------------------- 9. superposition
def superposition(n_features: int = 5) -> Scene:
    """n feature directions packed into 2 dimensions: WᵀW shows the interference between features.

    With 2 or fewer features they can be orthogonal (WᵀW = I, no interference: "green frogs ≠
    green vegetables"); with more, the off-diagonal entries cannot all be zero.
    """
    if n_features < 1:
        raise SvdlensError("n_features must be at least 1")
    angles = np.pi * np.arange(n_features) / n_features if n_features > 2 else np.pi / 2 * np.arange(n_features)
    W = np.stack([np.cos(angles), np.sin(angles)])  # 2 × n: feature i stored along column i
    G = W.T @ W
    off = G - np.diag(np.diag(G))
    worst = float(np.abs(off).max()) if n_features > 1 else 0.0
    lines = [
        f"{n_features} features stored as directions in 2 neurons (columns of W).",
        f"  WᵀW = {fmt(G, 3)}: the off-diagonal entries are interference between features; the largest is {fmt(worst, 3)}.",
    ]
    if n_features <= 2:
        lines.append("  With no more features than neurons they can be orthogonal: no interference.")
    else:
        lines.append(
            "  More features than neurons cannot all be orthogonal: reading one feature picks up a share of others."
        )
    return SuperpositionScene(W=W, G=G, interference=worst, lines=lines)
