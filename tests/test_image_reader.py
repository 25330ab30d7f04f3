"""One image reader: the same file gives the same array everywhere svdlens reads images."""

import numpy as np
import pytest
from PIL import Image

import svdlens as sl
from svdlens.app._handlers import read_upload
from svdlens.cli._diffusion import read_start_image
from svdlens.cli._jacobian import load_input
from svdlens.exceptions import InputFileError

GRAY = (np.arange(64, dtype=np.uint8).reshape(8, 8) * 4).astype(np.uint8)  # 0..252, exact at every depth


def _write(kind: str, path):
    if kind == "gray8":
        Image.fromarray(GRAY).save(path)
    elif kind == "gray16":
        Image.fromarray(GRAY.astype(np.uint16) * 257).save(path)  # 257·v/65535 = v/255 exactly
    elif kind == "rgba":
        rgb = np.stack([GRAY] * 3 + [np.full_like(GRAY, 255)], axis=-1)
        Image.fromarray(rgb, "RGBA").save(path)
    elif kind == "palette":
        Image.fromarray(GRAY).convert("P").save(path)
    elif kind == "rgb":
        Image.fromarray(np.stack([GRAY] * 3, axis=-1)).save(path)
    elif kind == "jpeg":
        Image.fromarray(GRAY).save(path, quality=100)
    return path


KINDS = {"gray8": "png", "gray16": "png", "rgba": "png", "palette": "png", "rgb": "png", "jpeg": "jpg"}


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_reader_gives_the_same_array(tmp_path, kind):
    folder = tmp_path / "faces"
    folder.mkdir()
    path = _write(kind, folder / f"img.{KINDS[kind]}")
    expected = GRAY / 255.0
    tol = 2 / 255 if kind == "jpeg" else 1e-12
    one = sl.faces.read_image(path)
    np.testing.assert_allclose(one, expected, atol=tol)
    gray_readers = {
        "faces.load (folder)": sl.faces.load(folder)[0],
        "app upload": read_upload(path),
        "out-of-core folder": np.asarray(sl.faces.lazy_images(folder)[0].compute()).reshape(8, 8),
    }
    for name, arr in gray_readers.items():
        np.testing.assert_array_equal(arr, one, err_msg=name)
    # Readers that keep colour agree on every channel with the grayscale reading.
    for name, arr in {
        "jacobian --input": load_input(path)[0].double().numpy(),
        "diffusion --image": np.asarray(read_start_image(str(path))),
    }.items():
        arr = arr if arr.ndim == 3 else arr[None]
        for channel in arr:
            np.testing.assert_allclose(channel, one, atol=1e-6 if kind != "jpeg" else 2 / 255, err_msg=name)


def test_pixel_cap_is_checked_before_decoding(tmp_path):
    path = tmp_path / "wide.png"
    Image.new("L", (300, 300)).save(path)
    with pytest.raises(InputFileError, match=r"300×300 = 90,000 pixels, more than the limit of 10,000"):
        sl.faces.read_image(path, max_pixels=10_000)


def test_not_an_image_is_a_clear_error(tmp_path):
    path = tmp_path / "fake.png"
    path.write_text("not an image")
    with pytest.raises(InputFileError, match="cannot read the image"):
        sl.faces.read_image(path)
