"""Benchmark: the built-in face DDPM against the issue's measures, on 2 CPU cores.

1. Samples look like faces: Eigenfaces (defaults) fitted on the 100 built-in faces; the
   threshold is the 95th percentile of their distance from face space. Share of 64 generated
   samples (resized to 25×25) inside it, against the share of the 100 non-face crops. For
   calibration, the same share for the model's own training set (the faces and their mirror
   images, through the same 32×32 round trip): what a perfect model of that set would score.
   Memorisation: each sample's Pearson correlation with its nearest training image (the 100
   faces and their mirror images at 32×32, made as training made them), as a median and the
   share above 0.9, against the calibration of each training face with its nearest OTHER
   training image (its own mirror image excluded).
2. Inversion round trip: DDIM inversion to t and back with steps = 50 over the whole diffusion
   (diffusers' num_inference_steps; the grid's steps at or below t·T are taken); mean PSNR over
   the 100 faces.
3. Edits do what the basis says: for small γ, cos(h(x + γvᵢ) − h(x), uᵢ); for a direction
   transported from another face, the same cosine on the target, against random x-directions
   of the same norm, at t = 0.6, 0.8, 0.9 and 1.0, for both transport methods ("project" onto
   the target's top-10 basis; "lsqr", damped least squares on its whole Jacobian, and at the
   issue's t also undamped). Beside each cosine: the gain ‖J'v‖ of the unit step (how much it
   moves h; the source's σ₁..σ₃ for scale), and random h-directions carried the same way (how
   much of any direction a method carries).
4. Speed: a local basis with k = 10, and a 5×7 edit grid (5 directions × 7 strengths).

    python bench/diffusion.py [--t 0.6] [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import svdlens as sl
from _common import markdown_table, write_results
from svdlens.exceptions import InputNote


def psnr(a, b):
    mse = np.mean((np.asarray(a) - np.asarray(b)) ** 2, axis=(-2, -1))
    return 10 * np.log10(1.0 / np.maximum(mse, 1e-12))


def to25(images):
    from skimage.transform import resize

    return np.stack([resize(im, (25, 25), anti_aliasing=True) for im in images])


def cos_h(f, xt, v, u):
    """cos(h(x+γv) − h(x), u) for a small step: γ = 10⁻³·‖x_t‖."""
    gamma = float(xt.norm()) * 1e-3
    with torch.no_grad():
        dh = (f(xt + gamma * v.reshape(xt.shape)) - f(xt)).reshape(-1)
    return float(torch.nn.functional.cosine_similarity(dh, u.reshape(-1), dim=0))


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--t", type=float, default=0.6)
    ap.add_argument("--quick", action="store_true", help="fewer images (a smoke run)")
    return ap.parse_args(argv)


def row(measure, target, value, met):
    return {"measure": measure, "target": target, "value": value, "met": met}


# ----------------------------------------------------------------------------- 1. face-likeness
def face_likeness(pipe, faces, nonfaces, n_samples, quick):
    """Rows, the samples of each draw (seed 0 first), their time, the share inside for each draw, and the threshold."""
    t0 = time.perf_counter()
    samples = pipe.sample(n=n_samples, seed=0, steps=50)
    sample_s = time.perf_counter() - t0
    ef = sl.Eigenfaces().fit(faces)
    thr = float(np.percentile(ef.distance_from_face_space(faces), 95))
    # One draw of 64 has a standard error of about 0.04 at 0.9: report more draws beside it.
    drawn = [samples] + [pipe.sample(n=n_samples, seed=s, steps=50) for s in range(1, 3 if quick else 6)]
    draws = [float((ef.distance_from_face_space(to25(d)) <= thr).mean()) for d in drawn]
    inside_samples = draws[0]
    inside_nonfaces = float((ef.distance_from_face_space(nonfaces) <= thr).mean())
    rows = [
        row(
            f"samples inside the faces' 95th-percentile face-space distance ({n_samples} samples, seed 0)",
            "≥ 0.90",
            inside_samples,
            inside_samples >= 0.9,
        ),
        row(
            f"the same, mean over {len(draws)} draws of {n_samples} (seeds 0-{len(draws) - 1}; "
            f"min {min(draws):.3f}, max {max(draws):.3f})",
            "≥ 0.90",
            float(np.mean(draws)),
            float(np.mean(draws)) >= 0.9,
        ),
        row("non-face crops inside the same threshold", "≤ 0.10", inside_nonfaces, inside_nonfaces <= 0.1),
    ]
    # Calibration: the model learns the faces and their mirror images; the detector knows only the faces.
    round_trip = to25(pipe.to_images(pipe.to_model(np.concatenate([faces, faces[:, :, ::-1]]))))
    inside_train = ef.distance_from_face_space(round_trip) <= thr
    rows += [
        row(
            "calibration: the training set itself (100 faces + 100 mirror images, via 32×32) inside",
            "—",
            float(inside_train.mean()),
            "—",
        ),
        row("calibration: the 100 mirror images alone inside", "—", float(inside_train[len(faces) :].mean()), "—"),
    ]
    return rows, drawn, sample_s, draws, thr


# ----------------------------------------------------------------------------- 1b. memorisation
def correlations(a, b):
    """Pearson correlation of every image in ``a`` with every image in ``b``: (len(a), len(b))."""
    a, b = (np.asarray(x, dtype=np.float64).reshape(len(x), -1) for x in (a, b))
    a, b = (x - x.mean(1, keepdims=True) for x in (a, b))
    a, b = (x / np.linalg.norm(x, axis=1, keepdims=True) for x in (a, b))
    return a @ b.T


ABOVE = 0.9  # "nearly the same image": no training face reaches it with another (the highest is 0.886)


def memorisation(drawn):
    """How closely samples reproduce training images, against two different training faces.

    The training images are those the model was trained on (``face_images``: the 100 faces
    resized to 32×32, then their mirror images; 200 in all). A sample's nearest training image
    may be a mirror image. The calibration takes each of the 100 faces and its nearest other
    training image, its own mirror image excluded (a face and its mirror are not two faces).
    """
    from svdlens.diffusion._builtin import face_images

    train = face_images().numpy()[:, 0]
    n = len(train) // 2
    C = correlations(drawn[0], train)
    nearest, which = C.max(1), C.argmax(1)
    every = correlations(np.concatenate(drawn), train)
    every_nearest, every_which = every.max(1), every.argmax(1) % n
    others = correlations(train[:n], train)
    others[np.arange(n), np.arange(n)] = others[np.arange(n), np.arange(n) + n] = -np.inf
    calib = others.max(1)
    reproduced = np.unique(every_which[every_nearest > ABOVE])
    total = sum(len(d) for d in drawn)
    rows = [
        row(
            f"memorisation: median Pearson correlation of a sample with its nearest training image "
            f"({len(drawn[0])} samples, seed 0; the 100 faces and their mirror images at 32×32, as trained)",
            "—",
            float(np.median(nearest)),
            "—",
        ),
        row(f"memorisation: share of those samples above {ABOVE}", "—", float((nearest > ABOVE).mean()), "—"),
        row(
            f"memorisation: the same over {len(drawn)} draws ({total} samples): median "
            f"{np.median(every_nearest):.3f}; {len(reproduced)} distinct training faces reproduced above {ABOVE}",
            "—",
            float((every_nearest > ABOVE).mean()),
            "—",
        ),
        row(
            "calibration: median correlation of a training face with its nearest OTHER training image "
            "(other faces and their mirrors; its own mirror excluded)",
            "—",
            float(np.median(calib)),
            "—",
        ),
        row(
            f"calibration: share of training faces above {ABOVE} with another (the highest: {calib.max():.3f})",
            "—",
            float((calib > ABOVE).mean()),
            "—",
        ),
    ]
    record = {
        "threshold": ABOVE,
        "nearest_corr": nearest.tolist(),
        "nearest_index": which.tolist(),  # 0-99 a face, 100-199 its mirror image
        "all_draws_nearest_corr": every_nearest.tolist(),
        "faces_reproduced": reproduced.tolist(),
        "calibration_nearest_other_corr": calib.tolist(),
        "train_mean_pairwise_corr": float(others[np.isfinite(others)].mean()),
    }
    return rows, record, train[which]


# ----------------------------------------------------------------------------- 2. inversion
def inversion_round_trip(pipe, faces, n_invert, t):
    """The PSNR row, the time of the round trip and each face's PSNR."""
    t0 = time.perf_counter()
    target = pipe.to_images(pipe.to_model(faces[:n_invert]))
    back = pipe.generate(pipe.invert(faces[:n_invert], t=t, steps=50), t=t, steps=50)
    invert_s = time.perf_counter() - t0
    each = psnr(back, target)
    p = float(each.mean())
    taken = len(pipe.timesteps(t, 50))
    measure = (
        f"inversion round trip, t = {t}, steps = 50 ({taken} DDIM steps each way, x_t at timestep "
        f"{pipe.t_index(t, 50)}): mean PSNR over {n_invert} faces (dB) [min {each.min():.1f}, "
        f"{int((each < 25).sum())} below 25]"
    )
    return row(measure, "≥ 25", p, p >= 25), invert_s, each.tolist()


# ----------------------------------------------------------------------------- 3. edits and transport
class Bases:
    """Local bases of built-in faces, each found once, and directions carried between them."""

    def __init__(self, pipe, faces):
        self.pipe, self.faces = pipe, faces
        self.found = {}  # (face, t) -> (x_t, local basis)

    def at(self, j, tt):
        if (j, tt) not in self.found:
            x = self.pipe.invert(self.faces[j : j + 1], t=tt, steps=50)
            self.found[j, tt] = x, self.pipe.directions(xt=x, t=tt, k=10)
        return self.found[j, tt]

    def carried(self, u, tt, targets, method, damp=None):
        """(cos(h(x+γv)−h(x), u), gain ‖J'v‖) on each target for u carried there by `method`."""
        fa, out = self.pipe.h_map(tt), []
        for j in targets:
            xb, bb = self.at(j, tt)
            tr = sl.transport(u, bb, method=method, damp=damp)
            out.append((cos_h(fa, xb, tr.v, u), tr.gain))
        return out


def edits_follow_the_basis(pipe, bases, t):
    """The source face's x_t and basis, the time to find it, its own cosines, and their row."""
    f = pipe.h_map(t)
    t0 = time.perf_counter()
    xa = pipe.invert(bases.faces[3:4], t=t, steps=50)
    ba = pipe.directions(xt=xa, t=t, k=10)
    basis_s = time.perf_counter() - t0
    bases.found[3, t] = xa, ba
    own = [cos_h(f, xa, ba.v[i], ba.u[i]) for i in range(5)]
    measure = "small step along vᵢ: min over i ≤ 5 of cos(h(x+γvᵢ)−h(x), uᵢ)"
    return xa, ba, basis_s, own, row(measure, "≥ 0.9", min(own), min(own) >= 0.9)


TARGETS = (10, 20, 30)


def random_x_cosines(pipe, bases, tt, source, g):
    """abs(cos) for random x-directions of the same norm on each target (forward passes only)."""
    fa, rand_x = pipe.h_map(tt), []
    for j in TARGETS:
        xb, _ = bases.at(j, tt)
        for i in range(3):
            for _ in range(5):  # forward passes only: enough draws for a steady baseline
                r = torch.randn(xb.shape, generator=g)
                rand_x.append(abs(cos_h(fa, xb, r / r.norm(), source.u[i])))
    return rand_x


def transport_variant(bases, tt, source, method, damp, label, random_h):
    """Carry the source's top 3 u and 3 random h-directions with one method: its record and row."""
    moved = [c for i in range(3) for c in bases.carried(source.u[i], tt, TARGETS, method, damp)]
    rand_h = [c for _ in range(3) for c in bases.carried(random_h(), tt, TARGETS, method, damp)]
    cos, gain = np.array(moved).T
    record = {"transported_cos": cos.tolist(), "gain": gain.tolist(), "random_h_cos": [c for c, _ in rand_h]}
    measure = (
        f"t = {tt}, {label}: transported directions, mean cos(h(x+γv)−h(x), u) on "
        f"3 targets × 3 directions [gain {gain.mean():.1f}, source σ₁–σ₃ "
        f"{source.s[0]:.0f}–{source.s[2]:.0f}; random h-directions: {np.mean([c for c, _ in rand_h]):.2f}]"
    )
    # An undamped pull-back buys the cosine with steps that barely move h: say so.
    met = (
        bool(cos.mean() >= 0.5)
        if damp is None
        else f"cosine {'yes' if cos.mean() >= 0.5 else 'no'}, but gain {gain.mean():.1f}: no visible edit"
    )
    return record, row(measure, "≥ 0.5", float(cos.mean()), met)


def transport_at_each_t(pipe, bases, t, ba):
    """Transport at several t: Park et al. (2023) find that samples share their tangent spaces at
    large t (early in generation) and each has its own near t = 0."""
    g = torch.Generator().manual_seed(0)

    def random_h():
        r = torch.randn(ba.u[0].shape, generator=g)
        return r / r.norm()

    records, rows = {}, []
    for tt in sorted({t, 0.8, 0.9, 1.0}):
        _, bs = bases.at(3, tt)
        rand_x = random_x_cosines(pipe, bases, tt, bs, g)
        records[tt] = {"random_x_cos": rand_x, "source_sigma": bs.s[:3].tolist()}
        variants = [("project", None, "project (top-10)"), ("lsqr", None, "lsqr (damp σ'₁₀)")]
        if tt == t:
            variants.append(("lsqr", 0.0, "lsqr (undamped)"))
        for method, damp, label in variants:
            records[tt][label], variant_row = transport_variant(bases, tt, bs, method, damp, label, random_h)
            rows.append(variant_row)
        rows.append(
            row(
                f"t = {tt}: random x-directions of the same norm, mean abs(cos) (5 draws per target and direction)",
                "≤ 0.1",
                float(np.mean(rand_x)),
                float(np.mean(rand_x)) <= 0.1,
            )
        )
    return records, rows


def global_transport(bases, t, quick):
    """Global directions (the top left singular vectors of 20 faces' stacked bases, faces 40-59),
    transported to the same targets, which are not among the 20."""
    pool = range(40, 44) if quick else range(40, 60)
    G = sl.global_directions([bases.at(j, t)[1] for j in pool], 3)
    record, rows = {"t": t, "faces": list(pool)}, []
    for method in ("project", "lsqr"):
        cos, gain = np.array([c for i in range(3) for c in bases.carried(G[i], t, TARGETS, method)]).T
        record[method] = {"transported_cos": cos.tolist(), "gain": gain.tolist()}
        measure = (
            f"t = {t}, {method}: global directions of faces {pool.start}-{pool.stop - 1}, "
            f"transported: mean cos on the same 3 targets × 3 directions [gain {gain.mean():.1f}]"
        )
        rows.append(row(measure, "≥ 0.5", float(cos.mean()), bool(cos.mean() >= 0.5)))
    return record, rows


# ----------------------------------------------------------------------------- 4. speed
STRENGTHS = np.linspace(-8, 8, 7)


def edit_grid(pipe, xa, ba, t):
    """5 directions × 7 strengths, and its time."""
    t0 = time.perf_counter()
    grid = [pipe.edit(v=ba.v[i], strengths=STRENGTHS, t=t, steps=50, xt=xa) for i in range(5)]
    return grid, time.perf_counter() - t0


# ----------------------------------------------------------------------------- output
def save_figures(name, samples, nearest, grid):
    from svdlens._plotting import save_figure
    from svdlens.diffusion._figures import image_grid

    results = Path(__file__).resolve().parent / "results"
    save_figure(
        image_grid(samples[:16].reshape(2, 8, *samples.shape[1:]), ["", ""], [""] * 8, "built-in DDPM samples"),
        results / f"{name}-samples.png",
    )
    save_figure(
        image_grid(
            np.stack([samples[:8], nearest[:8] / 2 + 0.5]),
            ["sample", "nearest"],
            [""] * 8,
            "samples and their nearest training images (32×32, mirrors included)",
        ),
        results / f"{name}-nearest.png",
    )
    save_figure(
        image_grid(
            np.stack(grid),
            [f"v{i + 1}" for i in range(5)],
            [f"{s:+.0f}" for s in STRENGTHS],
            "edits of built-in face 3",
        ),
        results / f"{name}-edits.png",
    )


def main(argv=None):
    args = parse_args(argv)
    warnings.simplefilter("ignore", InputNote)
    pipe = sl.diffusion.load("builtin-lfw")  # the real-face model: the recorded tables are its
    faces, nonfaces = sl.faces.builtin(), sl.faces.builtin("nonfaces")
    n_samples, n_invert = (16, 20) if args.quick else (64, 100)

    start, load = time.perf_counter(), os.getloadavg()[0]
    rows, drawn, sample_s, draws, thr = face_likeness(pipe, faces, nonfaces, n_samples, args.quick)
    samples = drawn[0]
    memo_rows, memo_record, nearest = memorisation(drawn)
    rows += memo_rows
    inversion_row, invert_s, invert_psnr = inversion_round_trip(pipe, faces, n_invert, args.t)
    rows.append(inversion_row)
    bases = Bases(pipe, faces)
    xa, ba, basis_s, own, own_row = edits_follow_the_basis(pipe, bases, args.t)
    rows.append(own_row)
    transport_records, transport_rows = transport_at_each_t(pipe, bases, args.t, ba)
    transport_records["global"], global_rows = global_transport(bases, args.t, args.quick)
    rows += transport_rows + global_rows
    rows.append(row("local basis, k = 10 (s)", "≤ 60", basis_s, basis_s <= 60))
    grid, grid_s = edit_grid(pipe, xa, ba, args.t)
    rows.append(row("5×7 edit grid (s)", "≤ 120", grid_s, grid_s <= 120))
    records = dict(
        rows=rows,
        sample_seconds=sample_s,
        face_draws=draws,
        invert_seconds=invert_s,
        invert_psnr=invert_psnr,
        threshold=thr,
        singular_values=ba.s.tolist(),
        own_cos=own,
        transport=transport_records,
        memorisation=memo_record,
        total_seconds=time.perf_counter() - start,
        load_average_at_start=load,
    )

    name = "diffusion" + ("-quick" if args.quick else "")  # a smoke run never overwrites the full run's files
    save_figures(name, samples, nearest, grid)
    out = write_results(
        name,
        "python bench/diffusion.py" + (" --quick" if args.quick else ""),
        {"Measures": markdown_table(rows, ["measure", "target", "value", "met"])},
        records,
        [
            "CPU only (no GPU was lent to this task).",
            f"Whole run: {records['total_seconds'] / 60:.1f} min, {torch.get_num_threads()} torch thread(s); "
            f"load average at the start {load:.1f} on {os.cpu_count()} cores (above 0: other work shared the cores).",
            f"Figures: results/{name}-samples.png, results/{name}-nearest.png, results/{name}-edits.png.",
        ],
    )
    print(markdown_table(rows, ["measure", "target", "value", "met"]))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
