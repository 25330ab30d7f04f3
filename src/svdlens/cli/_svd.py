"""``svdlens svd``: the SVD of a matrix given as text or a file."""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
import typer
from rich.table import Table

from ..linalg import METHODS, read_matrix, svd
from ._main import JSON, QUIET, app, console, emit, handled, refuse_unused

__all__ = ["svd_command", "reading"]


def _matrix_table(title: str, M: np.ndarray, row_label: str, col_label: str) -> Table:
    t = Table(title=title, show_header=True, header_style="bold")
    t.add_column("", style="dim")
    for j in range(M.shape[1]):
        t.add_column(f"{col_label}{j + 1}", justify="right")
    for i in range(M.shape[0]):
        t.add_row(f"{row_label}{i + 1}", *(f"{x: .4f}" for x in M[i]))
    return t


def _angle(Q: np.ndarray) -> tuple[float, bool]:
    """Rotation angle (degrees) of a 2×2 orthogonal matrix and whether it also reflects."""
    return math.degrees(math.atan2(Q[1, 0], Q[0, 0])), bool(np.linalg.det(Q) < 0)


def reading(U: np.ndarray, S: np.ndarray, Vt: np.ndarray) -> str:
    """The one-line "rotate, scale, rotate" reading of an SVD."""
    scales = ", ".join(f"{s:.4g}" for s in S)
    if U.shape == (2, 2) and Vt.shape == (2, 2):
        a_v, r_v = _angle(Vt)
        a_u, r_u = _angle(U)
        v_txt = f"Vᵀ {'reflects and ' if r_v else ''}rotates by {a_v:.1f}°"
        u_txt = f"U {'reflects and ' if r_u else ''}rotates by {a_u:.1f}°"
        return f"rotate, scale, rotate: {v_txt}, Σ stretches by {scales}, {u_txt}."
    return (
        f"rotate, scale, rotate: Vᵀ turns the input onto the {len(S)} right singular directions, "
        f"Σ stretches them by {scales}, U lays them along the left singular directions."
    )


@app.command("svd")
def svd_command(
    matrix: str = typer.Argument(..., help='The matrix as text ("2 1; 1 3") or a .npy/.npz/.csv/.txt/.mtx file.'),
    k: Optional[int] = typer.Option(None, "--k", "-k", help="Number of triplets (default: all)."),
    method: str = typer.Option("auto", "--method", "-m", help=f"One of {', '.join(METHODS)}."),
    tol: Optional[float] = typer.Option(None, help="Residual tolerance of the iterative methods (default 1e-8)."),
    max_iter: Optional[int] = typer.Option(None, help="Iteration cap of the iterative methods."),
    seed: Optional[int] = typer.Option(None, help="Seed of the iterative methods' random start (default 0)."),
    key: Optional[str] = typer.Option(None, help="Array name inside an .npz file."),
    as_json: bool = JSON,
    quiet: bool = QUIET,
) -> None:
    """Singular value decomposition of a matrix: U, Σ, Vᵀ, residuals and a "rotate, scale, rotate" reading.

    Examples:

        svdlens svd "2 1; 1 3"

        svdlens svd "0.4 0.2; 1 3" --json

        svdlens svd data.npy -k 5 --method krylov
    """
    direct = method in ("exact", "eig")
    refuse_unused(
        ("--tol", tol, direct, f"applies to the iterative methods; --method {method} is exact to machine precision"),
        ("--max-iter", max_iter, direct, f"caps the iterative methods; --method {method} does not iterate"),
        ("--seed", seed, direct, f"seeds the iterative methods' random start; --method {method} has none"),
        (
            "--key",
            key,
            not matrix.lower().endswith(".npz"),
            "names an array inside an .npz file; this matrix is not one",
        ),
    )
    with handled():
        A = read_matrix(matrix, key)
        res = svd(A, k, method=method, tol=1e-8 if tol is None else tol, max_iter=max_iter, seed=seed or 0)
    U, S, Vt = (np.asarray(x) for x in res)
    summary = {
        "shape": [int(U.shape[0]), int(Vt.shape[1])],
        "method": res.method,
        "U": U.tolist(),
        "S": S.tolist(),
        "Vt": Vt.tolist(),
        "residuals": np.asarray(res.residuals).tolist(),
        "n_matvec": res.n_matvec,
        "converged": res.converged,
        "iterations": res.iterations,
    }
    if as_json:
        emit(summary, as_json=True, text=[])
        return
    m, n = U.shape[0], Vt.shape[1]
    console.print(
        f"[bold]A[/] is {m}×{n}; method [cyan]{res.method}[/], {res.k} triplet(s), "
        f"{res.n_matvec} products with A or Aᵀ, converged: {res.converged}"
    )
    if m <= 12:
        console.print(_matrix_table("U: left singular vectors (columns)", U, "row ", "u"))
    console.print(_matrix_table("Σ: singular values", S[None, :], "", "σ"))
    if n <= 12:
        console.print(_matrix_table("Vᵀ: right singular vectors (rows)", Vt, "v", "col "))
    console.print("residuals max(‖Av−σu‖, ‖Aᵀu−σv‖)/σ₁: " + ", ".join(f"{r:.1e}" for r in np.asarray(res.residuals)))
    console.print(reading(U, S, Vt))
