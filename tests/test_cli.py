"""The svdlens command line, run through typer's CliRunner."""

import json

import numpy as np
from typer.testing import CliRunner

from svdlens.cli import app, reading

runner = CliRunner()


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
    assert out.exit_code == 2 and "choose one of svd" in out.output
