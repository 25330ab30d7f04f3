"""Out-of-core eigenfaces with dask: the same subspace as in memory, from files and on a cluster."""

import numpy as np
import pytest
from PIL import Image

import svdlens as sl
from svdlens.faces import fit_out_of_core

pytest.importorskip("dask.array")


def low_rank(n=3000, d=400, r=12, seed=0):
    rng = np.random.default_rng(seed)
    scales = np.linspace(10, 3, r)
    return (
        (rng.standard_normal((n, r)) * scales) @ np.linalg.qr(rng.standard_normal((d, r)))[0].T
        + 0.1 * rng.standard_normal((n, d))
    ).astype(np.float32)


def largest_angle(A, B):
    """Largest principal angle between the row spaces (scipy's stable sine/cosine formulation)."""
    from scipy.linalg import subspace_angles

    return float(subspace_angles(np.asarray(A, float).T, np.asarray(B, float).T).max())


def test_npy_file_matches_in_memory(tmp_path):
    X = low_rank()
    np.save(tmp_path / "x.npy", X)
    ooc = fit_out_of_core(sl.Eigenfaces(8, normalize=None), tmp_path / "x.npy", chunk_rows=500)
    mem = sl.Eigenfaces(8, normalize=None, method="exact").fit(X.astype(np.float64))
    assert largest_angle(ooc.components_, mem.components_) < 1e-3
    np.testing.assert_allclose(ooc.explained_variance_ratio_, mem.explained_variance_ratio_, rtol=1e-4)
    np.testing.assert_allclose(ooc.mean_, mem.mean_, atol=1e-5)


def test_image_folder_and_standardize(tmp_path):
    faces = sl.faces.builtin()[:40]
    for i, f in enumerate(faces):
        Image.fromarray((f * 255).astype(np.uint8)).save(tmp_path / f"{i:03d}.png")
    ooc = fit_out_of_core(sl.Eigenfaces(5), tmp_path, chunk_rows=16)
    mem = sl.Eigenfaces(5).fit(sl.faces.load(tmp_path))
    assert ooc.image_shape_ == (25, 25)
    assert largest_angle(ooc.components_, mem.components_) < 1e-3


def test_local_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    X = low_rank(n=1200, d=200, r=6)
    np.save(tmp_path / "x.npy", X)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        ooc = fit_out_of_core(
            sl.Eigenfaces(4, normalize=None), tmp_path / "x.npy", chunk_rows=300, scheduler=cluster.scheduler_address
        )
    mem = sl.Eigenfaces(4, normalize=None, method="exact").fit(X.astype(np.float64))
    assert largest_angle(ooc.components_, mem.components_) < 1e-3


def test_bad_sources(tmp_path):
    bad = low_rank(n=100, d=20)
    bad[50, 3] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(ValueError, match="NaN or Inf in rows"):
        fit_out_of_core(sl.Eigenfaces(3, normalize=None), tmp_path / "nan.npy", chunk_rows=40)
    with pytest.raises(ValueError, match="needs n_components"):
        fit_out_of_core(sl.Eigenfaces(None), tmp_path / "nan.npy")
    (tmp_path / "x.csv").write_text("1,2")
    with pytest.raises(ValueError, match="must be a .npy file or a folder"):
        fit_out_of_core(sl.Eigenfaces(3), tmp_path / "x.csv")


def test_a_scheduler_that_stays_silent_or_speaks_garbage_gets_a_clear_error_in_time(tmp_path):
    pytest.importorskip("distributed")
    import time

    from svdlens.exceptions import SvdlensError
    from test_dask_connect import Peer

    np.save(tmp_path / "x.npy", low_rank(n=100, d=20))
    for greeting, words in [(b"", "sent nothing"), (b"\xff" * 8, "is not a dask scheduler")]:
        with Peer(greeting) as peer:
            t0 = time.monotonic()
            with pytest.raises(SvdlensError, match=words):
                fit_out_of_core(sl.Eigenfaces(3), tmp_path / "x.npy", scheduler=peer.address, timeout=1.0)
        assert time.monotonic() - t0 < 3.5  # the timeout (1 s) and a margin for a busy machine
