"""Benchmark: Eigenfaces against scikit-learn's PCA, side by side, and out-of-core at scale.

1. Agreement: explained_variance_ratio_ and components against PCA(svd_solver="full") on the
   built-in faces and scikit-learn's digits (plain PCA: normalize=None).
2. Fit time on a synthetic 20000×4096 float32 matrix (rank 50 plus noise), k = 50, each of our
   methods beside the scikit-learn solver that does the same thing.
3. Out of core: a 200000×4096 float32 .npy (3.3 GB) fitted with dask in a child process whose
   peak RSS is read from the OS; its top-50 subspace is checked against the in-memory fit on a
   20000-row subset (the same out-of-core code run on that subset).

    python bench/faces.py            # full run, writes bench/results/faces.{md,json}
    python bench/faces.py --quick    # small sizes
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

sys.path.insert(0, str(Path(__file__).resolve().parent))
import svdlens as sl
from _common import best_time, markdown_table, write_results


def synthetic(n, d, rank=50, seed=0, start=0):
    """Rows start..start+n of a fixed rank-``rank``-plus-noise matrix (so chunks can be written one by one).

    The signal's rank equals the k asked for, so the top-k subspace is well determined.
    """
    basis = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, rank)))[0].T
    scales = np.linspace(30, 8, rank)
    rng = np.random.default_rng([seed, start])
    return ((rng.standard_normal((n, rank)) * scales) @ basis + rng.standard_normal((n, d))).astype(np.float32)


def largest_angle(A, B):
    """Largest principal angle between the row spaces (scipy's stable sine/cosine formulation)."""
    from scipy.linalg import subspace_angles

    return float(subspace_angles(np.asarray(A, float).T, np.asarray(B, float).T).max())


def agreement(rows):
    for name, X in (
        ("built-in faces 100×625", sl.faces.builtin().reshape(100, -1)),
        ("digits 1797×64", load_digits().data),
    ):
        pca = PCA(20, svd_solver="full").fit(X)
        for method in ("exact", "gram", "krylov"):
            ef = sl.Eigenfaces(20, method=method, normalize=None).fit(X)
            rows.append(
                {
                    "data": name,
                    "method": method,
                    "max |Δ explained_variance_ratio|": float(
                        np.abs(ef.explained_variance_ratio_ - pca.explained_variance_ratio_).max()
                    ),
                    "min |cos| components": float(np.abs(np.sum(ef.components_ * pca.components_, axis=1)).min()),
                }
            )


PAIRS = [("exact", "full"), ("gram", "covariance_eigh"), ("krylov", "arpack"), ("subspace", "randomized")]


def speed(rows, n, d, k, repeat):
    X = synthetic(n, d, rank=k)
    ref = PCA(k, svd_solver="full").fit(X)
    for ours, theirs in PAIRS:
        reps = 1 if ours == "exact" else repeat
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ef, t_ours = best_time(lambda ours=ours: sl.Eigenfaces(k, method=ours, normalize=None).fit(X), reps)
        pca, t_theirs = best_time(lambda theirs=theirs: PCA(k, svd_solver=theirs, random_state=0).fit(X), reps)
        rows.append(
            {
                "svdlens method": ours,
                "sklearn solver": theirs,
                "svdlens s": t_ours,
                "sklearn s": t_theirs,
                "time ratio": t_ours / t_theirs,
                "svdlens max |Δ evr| vs full": float(
                    np.abs(ef.explained_variance_ratio_ - ref.explained_variance_ratio_).max()
                ),
                "sklearn max |Δ evr| vs full": float(
                    np.abs(pca.explained_variance_ratio_ - ref.explained_variance_ratio_).max()
                ),
            }
        )
        print(rows[-1], flush=True)


CHILD = r"""
import json, sys, time
import svdlens as sl
from svdlens.faces import fit_out_of_core
t = time.perf_counter()
ef = fit_out_of_core(sl.Eigenfaces(int(sys.argv[2]), normalize=None), sys.argv[1], chunk_rows=int(sys.argv[3]))
import numpy as np
np.save(sys.argv[4], ef.components_)
# VmHWM is this process's own peak; ru_maxrss would carry the parent's peak across exec on Linux.
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(json.dumps({"seconds": time.perf_counter() - t, "peak_rss_mb": int(hwm) / 1024}))
"""


def out_of_core(records, n, d, k, chunk_rows, subset):
    with tempfile.TemporaryDirectory(dir=Path(__file__).resolve().parent) as tmp:
        big = Path(tmp) / "big.npy"
        step = 10000
        t = time.perf_counter()
        mm = np.lib.format.open_memmap(big, mode="w+", dtype=np.float32, shape=(n, d))
        for i in range(0, n, step):
            mm[i : i + step] = synthetic(min(step, n - i), d, rank=k, start=i)
        mm.flush()
        del mm
        gen_s = time.perf_counter() - t
        sub = Path(tmp) / "subset.npy"
        np.save(sub, np.load(big, mmap_mode="r")[:subset])

        def child(path, out):
            p = subprocess.run(
                [sys.executable, "-c", CHILD, str(path), str(k), str(chunk_rows), str(out)],
                capture_output=True,
                text=True,
                check=True,
            )
            return json.loads(p.stdout.strip().splitlines()[-1])

        full = child(big, Path(tmp) / "full.npy")
        child(sub, Path(tmp) / "part.npy")  # warms the page cache as the full run did
        Xs = np.load(sub)
        mem = sl.Eigenfaces(k, normalize=None, method="exact").fit(Xs.astype(np.float64))
        angle = largest_angle(np.load(Path(tmp) / "part.npy"), mem.components_)
        records.update(
            {
                "file": f"{n}×{d} float32 ({big.stat().st_size / 1e9:.2f} GB)",
                "generate_s": gen_s,
                "fit_s": full["seconds"],
                "peak_rss_mb": full["peak_rss_mb"],
                "subset": f"first {subset} rows",
                "subset_largest_angle_rad": angle,
                "chunk_rows": chunk_rows,
            }
        )
        print(records, flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument(
        "--only",
        choices=["agreement", "speed", "ooc"],
        help="run one part (results of the others are kept from the last run)",
    )
    args = ap.parse_args(argv)
    n, d, k = (4000, 1024, 20) if args.quick else (20000, 4096, 50)
    on, od, sub = (40000, 1024, 8000) if args.quick else (200000, 4096, 20000)
    name = "faces" + ("-quick" if args.quick else "")
    previous = Path(__file__).resolve().parent / "results" / f"{name}.json"
    old = json.loads(previous.read_text()) if args.only and previous.exists() else {}
    agree, speed_rows, ooc = old.get("agreement", []), old.get("speed", []), old.get("out_of_core", {})
    if args.only in (None, "agreement"):
        agree = []
        agreement(agree)
    if args.only in (None, "speed"):
        speed_rows = []
        speed(speed_rows, n, d, k, args.repeat)
    if args.only in (None, "ooc"):
        ooc = {}
        out_of_core(ooc, on, od, k, 4096, sub)
    out = write_results(
        name,
        "python bench/faces.py"
        + (" --quick" if args.quick else "")
        + (f" (last part rerun: --only {args.only})" if args.only else ""),
        {
            "Agreement with PCA(svd_solver='full'), k = 20": markdown_table(agree, list(agree[0])),
            f"Fit time, {n}×{d} float32, k = {k}": markdown_table(speed_rows, list(speed_rows[0])),
            "Out of core": markdown_table([ooc], list(ooc)),
        },
        {"agreement": agree, "speed": speed_rows, "out_of_core": ooc},
        [
            "Times are best of the runs; exact (full LAPACK SVD) runs once.",
            "Peak RSS is the child process's own VmHWM (/proc/self/status): the whole out-of-core fit, "
            "Python and imports included. (ru_maxrss is wrong here: on Linux it keeps the parent's peak "
            "across exec, and the parent has just written the 3.3 GB file.)",
        ],
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
