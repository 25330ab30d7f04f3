"""``svdlens app``: the handlers, every endpoint through gradio_client, bad input, and one real browser."""

import logging
import os
import re
import shutil
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("gradio")

from svdlens.app import build_app, launch
from svdlens.app._handlers import MAX_UPLOAD_BYTES, OUTSIDE_CHOICES, AppInputError, Explorer, display
from svdlens.faces import world

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def explorer():
    return Explorer()


@pytest.fixture(scope="module")
def server(explorer):
    demo = build_app(explorer=explorer)
    _, url, _ = launch(demo, port=None, prevent_thread_lock=True, quiet=True)
    yield demo, url
    demo.close()


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server[1], verbose=False)


def _png(path, array):
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)
    return path


def _read(path):
    return np.asarray(Image.open(path))


# ------------------------------------------------------------------------------- handlers
def test_explain_gives_figures_and_the_numbers(explorer):
    images, text = explorer.explain("0.4 0.2; 1 3", "2 1")
    assert len(images) >= 8 and all(img.ndim == 3 and img.shape[2] == 3 for img, _ in images)
    assert "y1 = 0.4·2 + 0.2·1 = 1" in text


@pytest.mark.parametrize(
    "matrix, words", [("0.4 x; 1 3", "token 'x'"), ("", "no numbers"), ("1 2; 3", "row"), ("nan 1; 1 1", "NaN")]
)
def test_malformed_matrix_is_a_message(explorer, matrix, words):
    with pytest.raises(AppInputError, match=words):
        explorer.explain(matrix, "")


def test_reconstruction_improves_with_k(explorer):
    face = explorer.faces[0]
    errors = []
    for k in (1, 10, 50):
        _, _, text = explorer.reconstruct(0, k)
        errors.append(float(text.split("% of")[0].split(": ")[1]))
    assert errors[0] > errors[1] > errors[2]
    assert face.shape == (25, 25)


def test_puzzle_at_zero_is_the_mean_face(explorer):
    np.testing.assert_array_equal(explorer.puzzle(0, 0, 0, 0, 0, 0), display(explorer.ef.mean_face_))
    assert not np.array_equal(explorer.puzzle(2, 0, 0, 0, 0, 0), explorer.puzzle(0, 0, 0, 0, 0, 0))


def test_upload_of_a_built_in_face_finds_itself(explorer, tmp_path):
    path = _png(tmp_path / "face.png", explorer.faces[40] * 255)
    *_, text = explorer.upload(str(path), 20)
    assert "nearest built-in face: #40" in text and "looks like a face" in text


def test_bad_uploads_are_messages(explorer, tmp_path):
    notes = tmp_path / "notes.png"
    notes.write_text("this is not an image")
    with pytest.raises(AppInputError, match="not an image"):
        explorer.upload(str(notes), 5)
    big = tmp_path / "big.png"
    big.write_bytes(b"\0" * (MAX_UPLOAD_BYTES + 1))
    with pytest.raises(AppInputError, match="limit"):
        explorer.upload(str(big), 5)
    huge = _png(tmp_path / "huge.png", np.zeros((5000, 5000)))  # small file, too many pixels
    with pytest.raises(AppInputError, match="pixels"):
        explorer.upload(str(huge), 5)
    with pytest.raises(AppInputError, match="upload an image"):
        explorer.upload(None, 5)


def test_directions_reject_bad_values(explorer):
    with pytest.raises(AppInputError, match="t must be"):
        explorer.edit("face", 3, 0.0, 1, 2.0)
    with pytest.raises(AppInputError, match="direction 9"):
        explorer.edit("face", 3, 0.6, 9, 2.0)
    with pytest.raises(AppInputError, match=r"index must be a whole number in \[0, 9999\]"):
        explorer.transport("face", 3, 0.6, 1, 2.0, 50000)  # the face world's gallery, not the real faces' 100


# ------------------------------------------------------------------------------- the server
def test_bound_to_localhost_with_analytics_off(server):
    demo, url = server
    assert urlparse(url).hostname == "127.0.0.1"
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False" and demo.analytics_enabled is False


def test_every_endpoint_through_the_client(client, explorer, tmp_path):
    from gradio_client import handle_file

    scenes, text = client.predict("0.4 0.2; 1 3", "2 1", api_name="/explain")
    assert len(scenes) >= 8 and "u = Av/σ" in text or "Av" in text

    original, rebuilt, text = client.predict(0, 5, api_name="/reconstruct")
    assert _read(original).shape == (200, 200) and "k = 5" in text

    made = client.predict(1, 0, 0, 0, 0, 0, api_name="/puzzle")
    assert _read(made).shape == (200, 200)

    path = _png(tmp_path / "rgb.png", np.random.default_rng(0).integers(0, 255, (60, 50, 3)))
    seen, projected, nearest, text = client.predict(handle_file(str(path)), 5, api_name="/upload")
    assert _read(seen).shape == (200, 200) and "distance from face space" in text

    project, contrast = OUTSIDE_CHOICES
    start, edited, text = client.predict("face", 3, 0.6, 1, 4, "", "", 5, project, api_name="/edit")
    assert not np.array_equal(_read(start), _read(edited)) and "σ =" in text
    # on the face world each direction is labelled with the factor it moves and its purity
    label = re.search(r"v1 moves mostly ([a-z_]+) \(purity ([0-9.]+)", text)
    assert label and label[1] in world.NAMES and 0 < float(label[2]) <= 1
    start, local, text = client.predict("face", 3, 0.6, 1, 4, "", "22,38,42,50", 5, project, api_name="/edit")
    assert "inside the box 22,38,42,50" in text and "leakage of v1" in text
    _, priced, text = client.predict("face", 3, 0.6, 1, 4, "", "22,38,42,50", 5, contrast, api_name="/edit")
    assert "whole outside priced at μ = 4" in text and "θ =" in text
    assert not np.array_equal(_read(priced), _read(local))
    found = re.search(r"leakage of v1: ([0-9.]+) \(inside directions alone ([0-9.]+)\)", text)
    assert found and float(found[1]) < 0.5 * float(found[2])  # the contrast direction, not r = 0's
    assert not np.array_equal(_read(local), _read(edited))  # LOCO Edit's direction, not the h-space one
    target, moved, text = client.predict("face", 3, 0.6, 1, 4, 10, api_name="/transport")
    assert "kept at face 10" in text and _read(moved).shape == _read(target).shape
    assert re.search(r"carried, mostly [a-z_]+ \(purity [0-9.]+\) at face 10", text)

    distances, spectra, text = client.predict(3, "", api_name="/evolution")
    assert _read(distances).ndim == 3 and _read(spectra).ndim == 3
    assert "cycles per pixel" in text and "0.9→0.7" in text and "Jacobian products" in text


def test_bad_input_gets_a_message_and_the_server_keeps_running(client, tmp_path, capfd, caplog):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    caplog.set_level(logging.WARNING, logger="svdlens.app")

    with pytest.raises(AppError, match="token 'x'"):
        client.predict("0.4 x; 1 3", "", api_name="/explain")
    notes = tmp_path / "notes.png"
    notes.write_text("not an image")
    with pytest.raises(AppError, match="not an image"):
        client.predict(handle_file(str(notes)), 5, api_name="/upload")
    big = tmp_path / "big.png"
    big.write_bytes(b"\0" * (MAX_UPLOAD_BYTES + 1))
    with pytest.raises(Exception, match="(?i)size|large|limit"):
        client.predict(handle_file(str(big)), 5, api_name="/upload")
    _, _, text = client.predict(3, 7, api_name="/reconstruct")  # still answering
    assert "k = 7" in text
    # the server's log: one line per refused input, no traceback
    assert "Traceback" not in capfd.readouterr().err
    refused = [r for r in caplog.records if r.name == "svdlens.app"]
    assert len(refused) >= 2 and all(r.exc_info is None and "\n" not in r.getMessage() for r in refused)
    assert any("token 'x'" in r.getMessage() for r in refused) and any(
        "not an image" in r.getMessage() for r in refused
    )


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda ex: ex.explain("0.4 x; 1 3", ""), "token 'x'"),
        (lambda ex: ex.upload(None, 5), "upload an image"),
        (lambda ex: ex.edit("face", 3, 0.0, 1, 2.0), "t must be"),
        (lambda ex: ex.reconstruct(500, 5), "face 500"),
        (lambda ex: ex.evolution(-1), "index must be a whole number"),
        (lambda ex: ex.edit("face", 3, 0.6, 1, 2.0, "", "1,2,3"), "four whole numbers"),
        (lambda ex: ex.edit("face", 3, 0.6, 1, 2.0, "", "0,0,64,64"), "whole image"),
        (lambda ex: ex.edit("face", 3, 0.6, 1, 2.0, "", "22,38,42,50", 21), "choose 0 to 20"),
        (lambda ex: ex.edit("face", 3, 0.6, 1, 2.0, "", "22,38,42,50", 5, "neither"), "keep the outside by"),
    ],
    ids=["explain", "upload", "edit", "reconstruct", "evolution", "mask", "whole-mask", "r", "outside"],
)
def test_a_user_error_is_a_message_and_one_log_line(explorer, call, words, caplog, capsys):
    import gradio as gr

    from svdlens.app._explorer import _shown

    caplog.set_level(logging.DEBUG, logger="svdlens.app")
    with pytest.raises(gr.Error) as info:
        _shown(lambda: call(explorer))()
    assert words in info.value.message and info.value.print_exception is False  # gradio prints no traceback
    records = [r for r in caplog.records if r.name == "svdlens.app"]
    assert len(records) == 1, records
    assert records[0].levelno == logging.WARNING and records[0].exc_info is None
    assert words in records[0].getMessage() and "\n" not in records[0].getMessage()
    assert "Traceback" not in capsys.readouterr().err


def test_a_library_error_is_a_message_too(caplog):
    """Not only the handlers' AppInputError: any svdlens error is the user's input, shown, logged in one line."""
    import gradio as gr

    from svdlens.app._explorer import _shown
    from svdlens.exceptions import InvalidParameterError

    def handler():
        raise InvalidParameterError("k must be a positive whole number;\ngot 0")

    caplog.set_level(logging.WARNING, logger="svdlens.app")
    with pytest.raises(gr.Error, match="k must be"):
        _shown(handler)()
    (record,) = [r for r in caplog.records if r.name == "svdlens.app"]
    assert record.getMessage() == "svdlens app: handler refused: k must be a positive whole number; got 0"


def test_a_bug_is_not_hidden():
    from svdlens.app._explorer import _shown

    def handler():
        raise ZeroDivisionError("a bug")

    with pytest.raises(ZeroDivisionError):
        _shown(handler)()


# ------------------------------------------------------------------------------- a real browser
def test_browser_moves_the_k_slider(server):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(
                "chromium is missing: `make install-browser` (apt-get install chromium) should have installed it"
            )
        pytest.skip("no chromium here: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    _, url = server
    host = urlparse(url).hostname
    outside = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.on(
            "request",
            lambda r: (
                outside.append(r.url)
                if urlparse(r.url).hostname not in (host, None, "") and not r.url.startswith(("data:", "blob:"))
                else None
            ),
        )
        page.goto(url)
        for _ in range(30):  # a click before the page has finished starting up can be lost: click until it opens
            page.get_by_role("tab", name="Eigenfaces").click()
            if page.locator("#k-slider").count():
                break
            page.wait_for_timeout(500)
        image = page.locator("#rebuilt img")
        image.wait_for(timeout=60_000)
        before = image.get_attribute("src")
        number = page.locator("#k-slider input[type=number]")
        number.fill("30")
        number.press("Enter")
        page.wait_for_function(
            "before => { const i = document.querySelector('#rebuilt img'); return i && i.src !== before; }",
            arg=before,
            timeout=60_000,
        )
        after = image.get_attribute("src")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "app-eigenfaces.png"), full_page=True)
        browser.close()
    assert after != before
    assert outside == [], f"the page asked other hosts for {outside}"


def test_the_command_serves_on_localhost():
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "svdlens.cli", "app", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline, page = time.monotonic() + 120, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                    page = r.read().decode()
                break
            except OSError:
                time.sleep(0.5)
        assert page is not None, proc.communicate(timeout=10)[0] if proc.poll() is not None else "no answer"
        assert "svdlens explorer" in page
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# ------------------------------------------------------------------------------- the command's flags
def test_port_0_takes_the_first_free_port_and_other_hosts_get_a_note(monkeypatch):
    from typer.testing import CliRunner

    import svdlens.app
    from svdlens.cli import app as cli

    served = []
    monkeypatch.setattr(svdlens.app, "build_app", lambda model: "the explorer")
    monkeypatch.setattr(svdlens.app, "launch", lambda demo, host, port: served.append((demo, host, port)))
    runner = CliRunner()
    res = runner.invoke(cli, ["app", "--port", "0", "--host", "::1"])
    assert res.exit_code == 0, res.output
    assert "the first free port from 7860 up" in res.output and "note" not in res.output
    res = runner.invoke(cli, ["app", "--host", "[::1]", "--port", "8000"])
    assert res.exit_code == 0 and "http://[::1]:8000" in res.output
    res = runner.invoke(cli, ["app", "--host", "0.0.0.0", "--port", "65535"])
    assert res.exit_code == 0 and "note:" in res.output and "every machine" in " ".join(res.output.split())
    assert served == [("the explorer", "::1", None), ("the explorer", "::1", 8000), ("the explorer", "0.0.0.0", 65535)]


def test_a_port_in_use_is_a_clear_error(monkeypatch):
    import socket

    import gradio as gr
    from typer.testing import CliRunner

    import svdlens.app
    from svdlens.cli import app as cli

    with gr.Blocks() as tiny:
        gr.Markdown("tiny")
    monkeypatch.setattr(svdlens.app, "build_app", lambda model: tiny)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        res = CliRunner().invoke(cli, ["app", "--port", str(port)])
    flat = " ".join(res.output.split())
    assert res.exit_code == 2, flat
    assert f"--port {port}: cannot serve on 127.0.0.1:{port}" in flat and "in use" in flat
    assert "Traceback" not in res.output and not isinstance(res.exception, OSError)
