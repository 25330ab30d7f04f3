"""The svdlens command line, run through typer's CliRunner."""

import json

import numpy as np
from typer.testing import CliRunner

from svdlens.cli import app
from svdlens.cli._svd import reading
from svdlens.exceptions import SvdlensError

runner = CliRunner()


def flat(result) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(result.output.split())


def test_svd_prints_factors_and_reading():
    out = runner.invoke(app, ["svd", "2 1; 1 3"])
    assert out.exit_code == 0, out.output
    assert "3.6180" in out.output and "1.3820" in out.output
    assert "rotate, scale, rotate" in out.output and "residuals" in out.output


def test_svd_json():
    out = runner.invoke(app, ["svd", "0.4 0.2; 1 3", "--json"])
    assert out.exit_code == 0
    data = json.loads(out.output)
    np.testing.assert_allclose(data["S"], np.linalg.svd([[0.4, 0.2], [1, 3]], compute_uv=False))
    assert data["converged"] and data["method"] == "exact" and len(data["residuals"]) == 2


def test_svd_method_k_and_file(tmp_path):
    A = np.random.default_rng(0).standard_normal((30, 20))
    np.save(tmp_path / "a.npy", A)
    out = runner.invoke(app, ["svd", str(tmp_path / "a.npy"), "-k", "3", "--method", "krylov", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    np.testing.assert_allclose(data["S"], np.linalg.svd(A, compute_uv=False)[:3], rtol=1e-9)
    assert data["method"] == "krylov" and data["n_matvec"] > 0


def test_malformed_matrix_names_the_token():
    out = runner.invoke(app, ["svd", "1 x; 3 4"])
    assert out.exit_code == 2
    assert "token 'x' at row 1, column 2" in out.output


def test_bad_k_and_method():
    assert "k=5 is more than" in runner.invoke(app, ["svd", "1 2 3; 4 5 6", "-k", "5"]).output
    assert "unknown method" in runner.invoke(app, ["svd", "1 2; 3 4", "--method", "nope"]).output


def test_help_has_examples():
    out = runner.invoke(app, ["svd", "--help"])
    assert out.exit_code == 0 and 'svdlens svd "2 1; 1 3"' in out.output


def test_reading_of_a_rotation():
    c, s = np.cos(0.5), np.sin(0.5)
    R = np.array([[c, -s], [s, c]])
    text = reading(R, np.array([2.0, 1.0]), np.eye(2))
    assert "U rotates by 28.6°" in text and "Vᵀ rotates by 0.0°" in text


def test_bench_unknown_name_lists_known():
    out = runner.invoke(app, ["bench", "nope"])
    from pathlib import Path

    names = sorted(p.stem for p in (Path(__file__).parents[1] / "bench").glob("*.py") if not p.stem.startswith("_"))
    assert out.exit_code == 2 and f"choose one of {', '.join(names)}" in flat(out)


def test_eigenfaces_builtin_writes_everything(tmp_path):
    out = tmp_path / "ef"
    res = runner.invoke(app, ["eigenfaces", "--out", str(out), "-k", "10", "--quiet"])
    assert res.exit_code == 0, res.output
    names = {p.name for p in out.iterdir()}
    assert {
        "eigenfaces.png",
        "scree.png",
        "reconstruction.png",
        "reconstruction.gif",
        "puzzle.png",
        "distances.png",
        "compression.png",
        "model.npz",
        "summary.json",
    } <= names
    summary = json.loads((out / "summary.json").read_text())
    assert summary["face_detection"]["roc_auc"] >= 0.9 and summary["n_components"] == 10
    assert "fit_s" in summary["timings"]
    import svdlens as sl

    model = sl.Eigenfaces.load(out / "model.npz")
    assert model.eigenfaces_.shape == (10, 25, 25)
    from PIL import Image

    with Image.open(out / "reconstruction.gif") as gif:
        assert gif.n_frames == 8  # k = 1, 2, 5, 10, 20, 50, all, then the original


def test_eigenfaces_own_folder_and_bad_input(tmp_path):
    from PIL import Image

    import svdlens as sl

    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, f in enumerate(sl.faces.builtin()[:12]):
        Image.fromarray((f * 255).astype(np.uint8)).save(folder / f"{i}.png")
    (folder / "readme.txt").write_text("hi")
    out = tmp_path / "out"
    res = runner.invoke(
        app, ["eigenfaces", "--images", str(folder), "-k", "5", "--size", "20", "--out", str(out), "--quiet"]
    )
    assert res.exit_code == 0, res.output
    assert "skipped readme.txt" in res.output
    assert json.loads((out / "summary.json").read_text())["image_shape"] == [20, 20]
    # k larger than the number of images: a clear error, and nothing half-written.
    out2 = tmp_path / "out2"
    res = runner.invoke(app, ["eigenfaces", "--images", str(folder), "-k", "50", "--out", str(out2), "--quiet"])
    assert res.exit_code == 2 and "n_components=50 is more than" in res.output
    assert not out2.exists() or not any(out2.iterdir())
    empty = tmp_path / "empty"
    empty.mkdir()
    res = runner.invoke(app, ["eigenfaces", "--images", str(empty), "--out", str(out2), "--quiet"])
    assert res.exit_code == 2 and "is empty" in res.output
    res = runner.invoke(app, ["eigenfaces", "--size", "big", "--quiet"])
    assert res.exit_code == 2 and "--size must look like" in res.output


def test_eigenfaces_failure_mid_way_leaves_nothing(tmp_path, monkeypatch):
    from svdlens.faces import _figures as figures

    def boom(*a, **k):
        raise SvdlensError("drawing failed")

    monkeypatch.setattr(figures, "puzzle_bars", boom)
    out = tmp_path / "out"
    res = runner.invoke(app, ["eigenfaces", "--out", str(out), "--quiet"])
    assert res.exit_code == 2 and "drawing failed" in res.output
    assert not out.exists() or not any(out.iterdir())  # the figures made before the failure were not moved in
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".svdlens-")]


MODEL_FILE = """
import torch
def build():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.GroupNorm(2, 4), torch.nn.SiLU(),
                               torch.nn.Conv2d(4, 2, 3, stride=2, padding=1))
def broken():
    class B(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(2, 2)
        def forward(self, x):
            raise RuntimeError("shapes do not line up")
    return B()
"""


def test_jacobian_command(tmp_path):
    import torch
    from PIL import Image

    import svdlens as sl
    from svdlens.nets import LocalBasis

    (tmp_path / "m.py").write_text(MODEL_FILE)
    np.save(tmp_path / "x.npy", np.random.default_rng(0).random((1, 1, 10, 10)).astype(np.float32))
    out = tmp_path / "out"
    res = runner.invoke(
        app,
        [
            "jacobian",
            "--model",
            f"{tmp_path}/m.py:build",
            "--layer",
            "3",
            "--input",
            str(tmp_path / "x.npy"),
            "-k",
            "4",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert {p.name for p in out.iterdir()} == {
        "spectrum.png",
        "directions.png",
        "basis.safetensors",
        "summary.json",
        ".svdlens-manifest.json",
    }
    summary = json.loads((out / "summary.json").read_text())
    basis = LocalBasis.load(out / "basis.safetensors")
    np.testing.assert_allclose(summary["singular_values"], basis.s.numpy(), rtol=1e-6)
    # Same answer as the library call.
    x = torch.from_numpy(np.load(tmp_path / "x.npy"))
    ns = {}
    exec(MODEL_FILE, ns)
    ref = sl.local_basis(sl.layer_map(ns["build"](), "3"), x, k=4)
    np.testing.assert_allclose(basis.s.numpy(), ref.s.numpy(), rtol=1e-5)
    # An image as input.
    Image.fromarray((np.random.default_rng(1).random((10, 10)) * 255).astype(np.uint8)).save(tmp_path / "x.png")
    res = runner.invoke(
        app,
        [
            "jacobian",
            "--model",
            f"{tmp_path}/m.py:build",
            "--layer",
            "1",
            "--input",
            str(tmp_path / "x.png"),
            "-k",
            "3",
            "--out",
            str(tmp_path / "o2"),
        ],
    )
    assert res.exit_code == 0, res.output


def test_jacobian_command_bad_input(tmp_path):
    (tmp_path / "m.py").write_text(MODEL_FILE)
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 10, 10), dtype=np.float32))
    base = [
        "jacobian",
        "--model",
        f"{tmp_path}/m.py:build",
        "--input",
        str(tmp_path / "x.npy"),
        "--out",
        str(tmp_path / "o"),
    ]
    res = runner.invoke(app, base + ["--layer", "norm"])
    assert res.exit_code == 2 and "has no layer 'norm'" in flat(res)
    res = runner.invoke(
        app, ["jacobian", "--model", f"{tmp_path}/m.py:nothing", "--layer", "1", "--input", str(tmp_path / "x.npy")]
    )
    assert res.exit_code == 2 and "has no 'nothing'" in flat(res)
    res = runner.invoke(
        app, ["jacobian", "--model", f"{tmp_path}/m.py:broken", "--layer", "lin", "--input", str(tmp_path / "x.npy")]
    )
    assert res.exit_code == 2 and "shapes do not line up" in flat(res) and "m.py" in flat(res)
    res = runner.invoke(app, base + ["--layer", "3", "-k", "500"])
    assert res.exit_code == 2 and "k=500 is more than" in flat(res)
    (tmp_path / "bad.png").write_bytes(b"not a png")
    res = runner.invoke(
        app, ["jacobian", "--model", f"{tmp_path}/m.py:build", "--layer", "1", "--input", str(tmp_path / "bad.png")]
    )
    assert res.exit_code == 2 and "cannot read the image" in flat(res)


def test_explain_command(tmp_path):
    res = runner.invoke(
        app, ["explain", "0.4 0.2; 1 3", "--vector", "2 1", "--out", str(tmp_path), "--only", "projection"]
    )
    assert res.exit_code == 0, res.output
    assert "0.4·2 + 0.2·1 = 1" in res.output
    assert (tmp_path / "01-projection.png").exists() and (tmp_path / "explanation.md").exists()
    bad = runner.invoke(app, ["explain", "0.4 0.2; 1 3", "--vector", "2 1 5"])
    assert bad.exit_code == 2 and "the vector has 3 entries" in flat(bad)
    bad = runner.invoke(app, ["explain", "0.4 zz; 1 3"])
    assert bad.exit_code == 2 and "token 'zz'" in flat(bad)


def test_eigenfaces_out_of_core_from_the_command_line(tmp_path):
    import svdlens as sl

    np.save(tmp_path / "faces.npy", sl.faces.builtin())
    out = tmp_path / "out"
    res = runner.invoke(
        app,
        [
            "eigenfaces",
            "--images",
            str(tmp_path / "faces.npy"),
            "--out-of-core",
            "-k",
            "8",
            "--chunk-rows",
            "32",
            "--out",
            str(out),
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    model = sl.Eigenfaces.load(out / "model.npz")
    ref = sl.Eigenfaces(8).fit(sl.faces.builtin())
    from scipy.linalg import subspace_angles

    # Four power iterations on these faces' slowly decaying spectrum: measured 4.3e-3 rad
    # (1.6e-4 on the benchmark's low-rank data; see docs/eigenfaces.md).
    assert subspace_angles(model.components_.T, ref.components_.T).max() < 1e-2
    res = runner.invoke(app, ["eigenfaces", "--out-of-core", "--quiet", "--out", str(out)])
    assert res.exit_code == 2 and "--out-of-core needs --images" in flat(res)
