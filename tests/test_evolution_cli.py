"""``svdlens evolution`` on a tiny DDIM model: the files it writes, and numbers equal to the library call's."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from svdlens.cli import app
from svdlens.diffusion import load
from svdlens.faces import read_image
from tiny_pipelines import tiny_ddim

runner = CliRunner()
SETTINGS = ["-k", "2", "--steps", "4", "--t", "0.4,0.7,0.9"]  # given out of order: computed from the largest t


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("evolution")
    rng = np.random.default_rng(0)
    paths = []
    for i in range(2):
        path = root / f"img{i}.png"
        Image.fromarray((rng.random((16, 16, 3)) * 255).astype(np.uint8)).save(path)
        paths.append(str(path))
    return {"root": root, "model": str(tiny_ddim(root / "ddim", seed=0)), "images": paths}


def _run(setup, out, *extra):
    args = ["evolution", "--model", setup["model"], *SETTINGS, "--out", str(out), "--quiet", *extra]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result


def test_writes_the_files_and_the_library_call_s_numbers(setup):
    out = setup["root"] / "two"
    images = setup["images"]
    result = _run(setup, out, "--image", images[0], "--image", images[1], "--json")
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "evolution.json",
        "evolution.png",
        "spectra.png",
        "summary.json",
    ]
    for name in ("evolution.png", "spectra.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    numbers = json.loads((out / "evolution.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    assert json.loads(result.stdout) == summary

    pipe = load(setup["model"])
    batch = np.stack([read_image(p, color=True) for p in images])
    ev = pipe.basis_evolution(batch, [0.4, 0.7, 0.9], 2, steps=4)
    assert numbers["ts"] == [0.9, 0.7, 0.4] == ev.ts.tolist()
    assert numbers["warm"] is True and summary["warm"] is True
    assert numbers["products"] == ev.products.tolist()
    assert summary["products"] == int(ev.products.sum()) and summary["bases"] == 6
    np.testing.assert_allclose(numbers["distances"]["across_t"], ev.across_t, atol=1e-6)
    np.testing.assert_allclose(numbers["distances"]["across_t_projection"], ev.across_t_projection, atol=1e-6)
    np.testing.assert_allclose(numbers["distances"]["across_images"], ev.across_images, atol=1e-6)
    np.testing.assert_allclose(numbers["homogeneity"], ev.homogeneity, atol=1e-6)
    np.testing.assert_allclose(numbers["mean_frequency"], ev.mean_frequency, atol=1e-9)
    np.testing.assert_allclose(numbers["frequency"], ev.frequency, atol=1e-9)
    np.testing.assert_allclose(numbers["frequencies"], ev.frequencies)
    s = [[b.s.double().numpy() for b in row] for row in ev.bases]
    r = [[b.residuals.double().numpy() for b in row] for row in ev.bases]
    np.testing.assert_allclose(numbers["singular_values"], s, rtol=1e-5)
    np.testing.assert_allclose(numbers["residuals"], r, rtol=1e-3, atol=1e-9)
    assert np.array(numbers["singular_values"]).shape == (2, 3, 2)
    assert summary["neighbour_distances"] == pytest.approx([ev.across_t[0, 0, 1], ev.across_t[0, 1, 2]], abs=1e-6)
    assert summary["images"] == images and summary["k"] == 2 and summary["steps"] == 4


def test_one_image_cold_and_a_folder(setup):
    one = setup["root"] / "one"
    _run(setup, one, "--image", setup["images"][0], "--cold")
    numbers = json.loads((one / "evolution.json").read_text())
    assert numbers["warm"] is False
    assert numbers["homogeneity"] == [None, None, None]  # no pairs of images: NaN in the library, null here
    assert np.array(numbers["distances"]["across_images"]).shape == (3, 1, 1)
    ev = load(setup["model"]).basis_evolution(read_image(setup["images"][0], color=True)[None], [0.9, 0.7, 0.4], 2,
                                              steps=4, warm=False)  # fmt: skip
    assert numbers["products"] == ev.products.tolist()

    folder = setup["root"] / "folder"
    folder.mkdir()
    for i, path in enumerate(setup["images"]):
        (folder / f"{i}.png").write_bytes(open(path, "rb").read())
    by_folder = setup["root"] / "by-folder"
    _run(setup, by_folder, "--images", str(folder))
    by_files = setup["root"] / "by-files"
    _run(setup, by_files, "--image", setup["images"][0], "--image", setup["images"][1])
    a = json.loads((by_folder / "evolution.json").read_text())
    b = json.loads((by_files / "evolution.json").read_text())
    assert a["images"] == ["0.png", "1.png"]
    assert {k: v for k, v in a.items() if k != "images"} == {k: v for k, v in b.items() if k != "images"}
