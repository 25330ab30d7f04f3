"""Loading faces: the built-in set, real image folders and array files, and every bad input."""

import numpy as np
import pytest
from PIL import Image

import svdlens as sl
from svdlens.exceptions import SkippedFilesWarning


def test_builtin_faces_and_nonfaces():
    F, N = sl.faces.builtin(), sl.faces.builtin(kind="nonfaces")
    assert F.shape == N.shape == (100, 25, 25) and F.dtype == np.float64
    assert 0 <= F.min() and F.max() <= 1
    assert not np.allclose(F.mean(), N.mean())
    assert sl.faces.builtin("all").shape == (200, 25, 25)
    with pytest.raises(ValueError, match="unknown kind 'cats'"):
        sl.faces.builtin("cats")


def _save(path, array, mode="L"):
    Image.fromarray((array * 255).astype(np.uint8), mode=mode).save(path)


def test_folder_of_real_images(tmp_path):
    rng = np.random.default_rng(0)
    _save(tmp_path / "a.png", rng.random((20, 16)))
    _save(tmp_path / "b.pgm", rng.random((20, 16)))
    Image.fromarray((rng.random((20, 16, 3)) * 255).astype(np.uint8), "RGB").save(tmp_path / "c.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.warns(SkippedFilesWarning, match=r"skipped broken.png: could not be decoded"):
        X, report = sl.faces.load(tmp_path, return_report=True)
    assert X.shape == (3, 20, 16) and 0 <= X.min() and X.max() <= 1
    assert report.loaded == ["a.png", "b.pgm", "c.jpg"]
    assert report.skipped["notes.txt"] == "not an image file (.txt)"
    np.testing.assert_allclose(X[0], np.asarray(Image.open(tmp_path / "a.png"), float) / 255)


def test_mixed_sizes_need_size(tmp_path):
    _save(tmp_path / "a.png", np.ones((20, 16)) * 0.5)
    _save(tmp_path / "b.png", np.ones((30, 30)) * 0.5)
    with pytest.raises(ValueError, match=r"different sizes \(20×16, 30×30\); pass size"):
        sl.faces.load(tmp_path)
    X, report = sl.faces.load(tmp_path, size=12, return_report=True)
    assert X.shape == (2, 12, 12) and set(report.resized) == {"a.png", "b.png"}
    np.testing.assert_allclose(X, 127 / 255, atol=1e-6)  # a flat image (0.5 saved as 127) stays flat


def test_empty_and_unreadable_folders(tmp_path):
    with pytest.raises(ValueError, match="is empty"):
        sl.faces.load(tmp_path)
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(ValueError, match="no readable images"):
        sl.faces.load(tmp_path)
    with pytest.raises(FileNotFoundError):
        sl.faces.load(tmp_path / "missing")
    with pytest.raises(ValueError, match="give a folder of images or a .npy/.npz"):
        sl.faces.load(tmp_path / "x.txt")


def test_array_files(tmp_path):
    X = np.random.default_rng(0).random((5, 8, 6))
    np.save(tmp_path / "x.npy", X)
    np.savez(tmp_path / "x.npz", faces=X)
    np.testing.assert_array_equal(sl.faces.load(tmp_path / "x.npy"), X)
    np.testing.assert_array_equal(sl.faces.load(tmp_path / "x.npz"), X)
    assert sl.faces.load(tmp_path / "x.npy", size=(4, 4)).shape == (5, 4, 4)
    bad = X.copy()
    bad[2, 1, 1] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(ValueError, match="NaN or Inf \\(the first in image 2\\)"):
        sl.faces.load(tmp_path / "nan.npy")
    np.save(tmp_path / "flat.npy", np.ones(7))
    with pytest.raises(ValueError, match=r"shape \(7,\); expected images"):
        sl.faces.load(tmp_path / "flat.npy")
