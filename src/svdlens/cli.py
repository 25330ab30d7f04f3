"""The ``svdlens`` command line: one typer app, each command a thin call into the library."""

from __future__ import annotations

import json
import math
import warnings
from typing import Optional

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from .linalg import METHODS, ConvergenceWarning, PrecisionWarning, svd
from .linalg.io import MatrixParseError, read_matrix

app = typer.Typer(
    name="svdlens",
    help="The singular value decomposition, from a 2×2 matrix to the Jacobian of a diffusion model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def fail(message: str) -> None:
    from rich.markup import escape

    err_console.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code=2)


@app.callback()
def main() -> None:
    """svdlens: SVD from first principles to matrix-free Jacobians."""


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
    tol: float = typer.Option(1e-8, help="Residual tolerance of the iterative methods."),
    max_iter: Optional[int] = typer.Option(None, help="Iteration cap of the iterative methods."),
    seed: int = typer.Option(0, help="Seed of the random start."),
    key: Optional[str] = typer.Option(None, help="Array name inside an .npz file."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Singular value decomposition of a matrix: U, Σ, Vᵀ, residuals and a "rotate, scale, rotate" reading.

    Examples:

        svdlens svd "2 1; 1 3"

        svdlens svd "0.4 0.2; 1 3" --json

        svdlens svd data.npy -k 5 --method krylov
    """
    try:
        A = read_matrix(matrix, key)
    except (MatrixParseError, FileNotFoundError) as err:
        fail(str(err))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        warnings.simplefilter("always", PrecisionWarning)
        try:
            res = svd(A, k, method=method, tol=tol, max_iter=max_iter, seed=seed)
        except (ValueError, TypeError) as err:
            fail(str(err))
    U, S, Vt = (np.asarray(x) for x in res)
    notes = [str(w.message) for w in caught]
    if as_json:
        out = {
            "shape": list(res.U.shape[:1]) + list(res.Vt.shape[1:]),
            "method": res.method,
            "U": U.tolist(),
            "S": S.tolist(),
            "Vt": Vt.tolist(),
            "residuals": np.asarray(res.residuals).tolist(),
            "n_matvec": res.n_matvec,
            "converged": res.converged,
            "iterations": res.iterations,
            "warnings": notes,
        }
        typer.echo(json.dumps(out, indent=2))
        return
    m, n = U.shape[0], Vt.shape[1]
    console.print(f"[bold]A[/] is {m}×{n}; method [cyan]{res.method}[/], {res.k} triplet(s), "
                  f"{res.n_matvec} products with A or Aᵀ, converged: {res.converged}")
    if m <= 12:
        console.print(_matrix_table("U: left singular vectors (columns)", U, "row ", "u"))
    console.print(_matrix_table("Σ: singular values", S[None, :], "", "σ"))
    if n <= 12:
        console.print(_matrix_table("Vᵀ: right singular vectors (rows)", Vt, "v", "col "))
    console.print("residuals max(‖Av−σu‖, ‖Aᵀu−σv‖)/σ₁: " + ", ".join(f"{r:.1e}" for r in np.asarray(res.residuals)))
    console.print(reading(U, S, Vt))
    for note in notes:
        err_console.print(f"[yellow]warning:[/] {note}")


@app.command("explain")
def explain_command(
    matrix: str = typer.Argument(..., help='The matrix as text ("0.4 0.2; 1 3") or a .npy/.csv/... file.'),
    out: Optional[str] = typer.Option(None, "--out", help="Folder for the figures (PNG), animations (GIF) and explanation.md."),
    vector: Optional[str] = typer.Option(None, "--vector", help='The input of the projection scene, e.g. "2 1".'),
    only: Optional[list[str]] = typer.Option(None, "--only", help="Only this scene (repeatable)."),
    format: str = typer.Option("md", "--format", help="The walk-through written with --out: md or html."),
) -> None:
    """Every scene of the SVD story for a small matrix: numbers in the terminal, pictures with --out.

    Examples:

        svdlens explain "0.4 0.2; 1 3" --vector "2 1"

        svdlens explain "2 1; 1 3" --out out/explain --only rotate_scale_rotate

        svdlens explain "1 2; 0 1; 1 0" --out out/explain3d --format html
    """
    from .explain import explain
    from .linalg.io import parse_vector

    try:
        A = read_matrix(matrix)
        x = parse_vector(vector) if vector else None
        ex = explain(np.asarray(A.toarray() if hasattr(A, "toarray") else A), vector=x, only=only)
    except (MatrixParseError, FileNotFoundError, ValueError) as err:
        fail(str(err))
    console.print(ex.text())
    if out:
        if format not in ("md", "html"):
            fail(f"--format must be md or html; got {format!r}")
        with console.status("drawing the scenes..."):
            paths = ex.save(out, format=format)
        console.print(f"wrote {len(paths)} files to {out}/")


@app.command("eigenfaces")
def eigenfaces_command(
    images: Optional[str] = typer.Option(None, "--images", help="A folder of images or a .npy/.npz file (default: the built-in faces)."),
    k: int = typer.Option(20, "--k", "-k", help="Number of eigenfaces."),
    out: str = typer.Option("out/eigenfaces", "--out", help="Folder to write figures, model.npz and summary.json to."),
    size: Optional[str] = typer.Option(None, "--size", help='Resize and centre-crop images to this size: "64" or "64x48".'),
    method: str = typer.Option("auto", "--method", help="auto, exact, gram, krylov or subspace."),
    raw: bool = typer.Option(False, "--raw", help="Plain PCA: no per-image standardisation."),
    out_of_core: bool = typer.Option(False, "--out-of-core", help="Read the images block by block with dask (data larger than memory)."),
    chunk_rows: int = typer.Option(4096, "--chunk-rows", help="Images per block with --out-of-core."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Address of a dask.distributed scheduler (with --out-of-core)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Eigenfaces: mean face, eigenfaces, the puzzle, face detection and compression, as figures and numbers.

    Writes eigenfaces.png, scree.png, reconstruction.png/.gif, puzzle.png, compression.png,
    distances.png (built-in faces), model.npz (load it with svdlens.Eigenfaces.load) and summary.json.

    Examples:

        svdlens eigenfaces --out out/eigenfaces

        svdlens eigenfaces --images my_faces/ --size 64 -k 30 --out out/mine

        svdlens eigenfaces --images big.npy --out-of-core -k 50 --out out/big
    """
    from .faces.job import STEPS, progress_bar, run_eigenfaces

    parsed_size = None
    if size:
        try:
            parts = [int(p) for p in size.lower().replace("×", "x").split("x")]
            parsed_size = (parts[0], parts[0]) if len(parts) == 1 else (parts[0], parts[1])
        except ValueError:
            fail(f"--size must look like 64 or 64x48; got {size!r}")
    if out_of_core and images is None:
        fail("--out-of-core needs --images (a .npy file or a folder of images)")
    with progress_bar(quiet) as bar:
        task = bar.add_task("eigenfaces", total=len(STEPS)) if bar else None

        def tick(step):
            if bar:
                bar.update(task, description=step, completed=STEPS.index(step))

        try:
            summary = run_eigenfaces(
                out, images, size=parsed_size, k=k, method=method, normalize=None if raw else "standardize",
                out_of_core=out_of_core, chunk_rows=chunk_rows, scheduler=scheduler, progress=tick,
            )
        except (ValueError, FileNotFoundError, ImportError) as err:
            fail(str(err))
        if bar:
            bar.update(task, description="done", completed=len(STEPS))
    console.print(
        f"{summary['n_images']} images of {'×'.join(map(str, summary['image_shape']))}: "
        f"{summary['n_components']} eigenfaces explain {summary['explained_variance_total']:.1%} of the variance"
    )
    if "face_detection" in summary:
        console.print(f"face vs non-face ROC AUC (held out): {summary['face_detection']['roc_auc']:.3f}")
    for name, why in summary.get("skipped", {}).items():
        err_console.print(f"[yellow]skipped[/] {name}: {why}")
    console.print(f"wrote {out}/")


@app.command("jacobian")
def jacobian_command(
    model: str = typer.Option(..., "--model", help="FILE.py:factory — a function that returns a torch.nn.Module."),
    layer: str = typer.Option(..., "--layer", help="The submodule whose output is h (as in model.named_modules())."),
    input: str = typer.Option(..., "--input", help="The point x: a .npy array, or an image (as 1×C×H×W in [0, 1])."),
    k: int = typer.Option(10, "--k", "-k", help="Number of singular triplets."),
    tol: float = typer.Option(1e-4, "--tol", help="Residual tolerance."),
    kwarg: Optional[list[str]] = typer.Option(None, "--kwarg", help="Extra forward argument KEY=VALUE (repeatable), e.g. timestep=10."),
    block_size: Optional[int] = typer.Option(None, "--block-size", help="Vectors per batched JVP/VJP (larger is faster on a GPU)."),
    out: str = typer.Option("out/jacobian", "--out", help="Folder for spectrum.png, directions.png, basis.safetensors, summary.json."),
) -> None:
    """SVD of the Jacobian of x ↦ model.<layer>(x), matrix-free: directions v to move in, their effects u.

    Examples:

        svdlens jacobian --model mynet.py:build --layer encoder.3 --input x.npy -k 10 --out out/jac

        svdlens jacobian --model unet.py:load --layer mid_block --input face.png --kwarg timestep=600
    """
    from .nets import ModelError, UnknownLayerError
    from .nets.job import parse_kwargs, run_jacobian

    try:
        with console.status("computing the local basis (batched JVPs and VJPs)..."):
            summary = run_jacobian(model, layer, input, out, k=k, tol=tol, forward_kwargs=parse_kwargs(kwarg),
                                   block_size=block_size)
    except (ValueError, TypeError, FileNotFoundError, UnknownLayerError, ModelError) as err:
        fail(str(err))
    console.print(
        f"J is {int(np.prod(summary['output_shape']))}×{int(np.prod(summary['input_shape']))}; top σ: "
        + ", ".join(f"{s:.4g}" for s in summary["singular_values"][:5])
        + f"; converged: {summary['converged']}; {summary['n_jvp']} JVPs, {summary['n_vjp']} VJPs "
        f"({summary['jvp_mode']}), {summary['seconds']:.1f} s"
    )
    console.print(f"wrote {out}/")


def _pipeline(model: str):
    from .diffusion import ModelLoadError, load

    try:
        return load(model)
    except (ModelLoadError, ImportError) as err:
        fail(str(err))


def _diffusion_job(job, *args, **kwargs):
    import warnings as _warnings

    from .diffusion import InputNote
    from .nets import ModelError

    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always", InputNote)
        try:
            with console.status("working: DDIM inversion, local basis, denoising..."):
                result = job(*args, **kwargs)
        except (ValueError, FileNotFoundError, ModelError) as err:
            fail(str(err))
    for w in caught:
        if issubclass(w.category, InputNote):
            err_console.print(f"[yellow]note:[/] {w.message}")
    return result


@app.command("directions")
def directions_command(
    model: str = typer.Option("builtin", "--model", help="builtin, a diffusers UNet2DModel folder, or a hub id."),
    image: Optional[str] = typer.Option(None, "--image", help="An image file, or builtin:N for the N-th built-in face."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Start from a generated sample instead."),
    t: float = typer.Option(0.6, "--t", help="How far into the diffusion, in (0, 1]."),
    k: int = typer.Option(5, "--k", "-k", help="Number of directions."),
    steps: int = typer.Option(50, "--steps", help="DDIM steps."),
    out: str = typer.Option("out/directions", "--out"),
) -> None:
    """The local basis of x_t ↦ h (the U-Net's mid-block) at an image's x_t: directions to edit along.

    Examples:

        svdlens directions --image builtin:3 -k 5 --out out/directions

        svdlens directions --seed 7 --t 0.6 --out out/directions7
    """
    from .diffusion.job import run_directions

    summary = _diffusion_job(run_directions, _pipeline(model), out, image=image, seed=seed, t=t, k=k, steps=steps)
    console.print("σ: " + ", ".join(f"{s:.4g}" for s in summary["singular_values"]) + f"; {summary['seconds']:.1f} s; wrote {out}/")


@app.command("edit")
def edit_command(
    model: str = typer.Option("builtin", "--model"),
    image: Optional[str] = typer.Option(None, "--image", help="An image file, or builtin:N."),
    seed: Optional[int] = typer.Option(None, "--seed"),
    direction: list[int] = typer.Option([1], "--direction", help="Which singular direction (1 = the top); repeatable."),
    strength: str = typer.Option("-3:3:7", "--strength", help="Signed strengths: start:stop:count, or a list like -2,0,2."),
    t: float = typer.Option(0.6, "--t"),
    steps: int = typer.Option(50, "--steps"),
    guidance: int = typer.Option(0, "--guidance", help="x-space guidance iterations instead of a plain move (0 = plain)."),
    out: str = typer.Option("out/edit", "--out"),
) -> None:
    """Move x_t along singular directions and denoise: a grid of edits (rows: directions, columns: strengths).

    Examples:

        svdlens edit --image builtin:3 --direction 1 --direction 2 --strength -3:3:7 --out out/edit

        svdlens edit --seed 7 --direction 1 --strength -2,0,2 --guidance 3
    """
    from .diffusion.job import parse_strengths, run_edit

    try:
        strengths = parse_strengths(strength)
    except ValueError as err:
        fail(str(err))
    if any(d < 1 for d in direction):
        fail("--direction counts from 1 (the top singular direction)")
    summary = _diffusion_job(run_edit, _pipeline(model), out, image=image, seed=seed, directions=tuple(direction),
                             strengths=strengths, t=t, steps=steps, guidance=guidance)
    console.print(f"{len(direction)}×{len(strengths)} edits in {summary['seconds']:.1f} s; wrote {out}/edit.png and edit.gif")


@app.command("transport")
def transport_command(
    source: str = typer.Option(..., "--from", help="The image whose direction is carried (file or builtin:N)."),
    targets: list[str] = typer.Option(..., "--to", help="Target images (repeat --to for each)."),
    model: str = typer.Option("builtin", "--model"),
    direction: int = typer.Option(1, "--direction"),
    strength: str = typer.Option("-3:3:5", "--strength"),
    t: float = typer.Option(0.6, "--t"),
    k: int = typer.Option(10, "--k", "-k", help="Size of each target's local basis."),
    steps: int = typer.Option(50, "--steps"),
    method: str = typer.Option("project", "--method",
                               help="project: onto each target's top-k basis (Park et al. 2023). "
                                    "lsqr: damped least squares on each target's whole Jacobian."),
    damp: Optional[float] = typer.Option(None, "--damp", help="Damping for --method lsqr (default: the target's "
                                         "k-th singular value). Smaller carries more of the direction, moves less."),
    out: str = typer.Option("out/transport", "--out"),
) -> None:
    """Carry one image's direction to other images by parallel transport, and edit them with it.

    Examples:

        svdlens transport --from builtin:3 --to builtin:10 --to builtin:20 --direction 1 --out out/transport

        svdlens transport --from builtin:3 --to builtin:10 --method lsqr --out out/transport
    """
    from .diffusion.job import parse_strengths, run_transport

    try:
        strengths = parse_strengths(strength)
    except ValueError as err:
        fail(str(err))
    summary = _diffusion_job(run_transport, _pipeline(model), out, source=source, targets=targets,
                             direction=direction, strengths=strengths, t=t, steps=steps, k=k, method=method,
                             damp=damp)
    per_target = ", ".join(f"{kp:.2f} (gain {g:.1f})" for kp, g in zip(summary["kept"], summary["gain"]))
    console.print(f"share of the direction kept ({method}): {per_target}; the source's σ is {summary['source_sigma']:.1f}; "
                  f"wrote {out}/")


@app.command("train-faces")
def train_faces_command(
    out: str = typer.Option("out/builtin-ddpm", "--out", help="Folder for the diffusers model and scheduler (safetensors + configs)."),
    steps: int = typer.Option(20000, "--steps", help="Training steps (batches of --batch-size images)."),
    batch_size: int = typer.Option(16, "--batch-size"),
    lr: float = typer.Option(5e-4, "--lr"),
    seed: int = typer.Option(0, "--seed"),
    minutes: Optional[float] = typer.Option(None, "--minutes", help="Stop after this much training time."),
    resume: Optional[str] = typer.Option(None, "--resume", help="Go on from the weights in this folder (an earlier --out)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Train the built-in face DDPM on the built-in faces (on a GPU where there is one, else the CPU).

    Examples:

        svdlens train-faces --out out/builtin-ddpm --minutes 25

        svdlens train-faces --steps 200 --out /tmp/tiny --quiet

        svdlens train-faces --resume out/builtin-ddpm --lr 2e-4 --minutes 40 --out out/ddpm-2
    """
    from contextlib import nullcontext

    from .diffusion.train import train_faces

    if quiet:
        bar_ctx = nullcontext(None)
    else:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        bar_ctx = Progress(TextColumn("[bold]training"), BarColumn(), TextColumn("{task.completed}/{task.total} loss {task.fields[loss]}"),
                           TimeElapsedColumn())
    with bar_ctx as bar:
        task = bar.add_task("train", total=steps, loss="–") if bar else None

        def tick(step, total, loss):
            if bar and (step % 10 == 0 or step == total):
                bar.update(task, completed=step, loss=f"{loss:.4f}")

        try:
            info = train_faces(out, steps=steps, batch_size=batch_size, lr=lr, seed=seed, progress=tick,
                               time_limit_s=minutes * 60 if minutes else None, resume=resume)
        except ImportError as err:
            fail(f"training needs diffusers: {err}")
        except FileNotFoundError as err:
            fail(str(err))
    console.print(f"{info['steps']} steps in {info['seconds']:.0f} s on {info['device']}; "
                  f"final loss {info['final_loss_mean_last_200']:.4f}; wrote {out}/")


def _bench_dir():
    """The benchmarks live beside the package in a source checkout, not inside it."""
    from pathlib import Path

    for base in (Path.cwd(), Path(__file__).resolve().parents[2]):
        if (base / "bench").is_dir():
            return base / "bench"
    return None


@app.command("demo")
def demo_command(
    out: str = typer.Option("out/demo", "--out", help="Folder for index.html, its figures and summary.json."),
    fast: bool = typer.Option(False, "--fast", help="A reduced setting: fewer DDIM steps, directions and faces."),
    model: str = typer.Option("builtin", "--model", help="builtin, or a diffusers UNet2DModel folder (1-channel faces)."),
    cache_dir: Optional[str] = typer.Option(None, "--cache-dir", help="Where local bases are kept between runs (default OUT/cache)."),
    open_report: bool = typer.Option(False, "--open", help="Open the report in the browser when done."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """The whole story on built-in data, as one offline HTML report (OUT/index.html).

    Projection, WᵀW, eigenvectors, rotate-scale-rotate, u = Av/σ, eigenfaces and the puzzle, the
    face model's weight matrix, its Jacobian's local basis, edits, parallel transport and the
    generated image, in the script's order. About a minute on 2 CPU cores; a second run reuses
    the cached local bases.

    Examples:

        svdlens demo --out out/demo --open

        svdlens demo --fast --out /tmp/demo --quiet
    """
    from .diffusion import ModelLoadError
    from .faces.job import progress_bar
    from .report import STEPS, run_demo

    with progress_bar(quiet) as bar:
        task = bar.add_task("demo", total=len(STEPS)) if bar else None

        def tick(i, title):
            if bar:
                bar.update(task, description=f"{i + 1}/{len(STEPS)} {title}", completed=i)

        try:
            summary = run_demo(out, fast=fast, model=model, cache_dir=cache_dir, progress=tick)
        except (ModelLoadError, ValueError, FileNotFoundError, ImportError) as err:
            fail(str(err))
        if bar:
            bar.update(task, description="done", completed=len(STEPS))
    from pathlib import Path

    index = Path(out).resolve() / "index.html"
    console.print(f"{len(summary['sections'])} scenes in {summary['seconds']:.0f} s; open {index}")
    if open_report:
        import webbrowser

        webbrowser.open(index.as_uri())


@app.command("app")
def app_command(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (default: this machine only)."),
    port: int = typer.Option(7860, "--port"),
    model: str = typer.Option("builtin", "--model", help="The diffusion model for the Directions tab."),
) -> None:
    """The interactive explorer in the browser (Gradio): Explain, Eigenfaces and Directions tabs.

    Bound to 127.0.0.1 unless --host says otherwise; analytics are off and nothing is fetched.
    Needs the app extra: pip install "svdlens\\[app]".

    Examples:

        svdlens app

        svdlens app --port 8000
    """
    try:
        from .app import build_app, launch
    except ImportError as err:
        fail(f"the app needs gradio: pip install 'svdlens[app]' ({err})")
    console.print(f"svdlens app on http://{host}:{port} (Ctrl+C to stop)")
    launch(build_app(model=model), host=host, port=port)


@app.command("bench")
def bench_command(
    name: str = typer.Argument("svd", help="Which benchmark: the name of a bench/NAME.py script."),
    quick: bool = typer.Option(False, "--quick", help="Small sizes: a smoke run."),
) -> None:
    """Run a side-by-side benchmark and write bench/results/NAME.md and .json.

    Needs a source checkout (the benchmarks are not installed) and the bench extra:
    pip install -e ".\\[bench]".

    Examples:

        svdlens bench svd

        svdlens bench svd --quick
    """
    import subprocess
    import sys

    folder = _bench_dir()
    if folder is None:
        fail("no bench/ folder here: run this from a source checkout of svdlens")
    script = folder / f"{name}.py"
    if not script.is_file():
        known = sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_"))
        fail(f"no benchmark {name!r}; choose one of {', '.join(known)}")
    raise typer.Exit(subprocess.call([sys.executable, str(script)] + (["--quick"] if quick else [])))


if __name__ == "__main__":  # pragma: no cover
    app()
