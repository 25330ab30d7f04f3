"""``svdlens demo``: the whole story as one offline report, on the reduced setting (--fast)."""

import json
import re
from html.parser import HTMLParser

import pytest
from typer.testing import CliRunner

import svdlens.nets._basis as basis_module
from svdlens.cli import app
from svdlens.faces import world
from svdlens.report import SECTIONS
from svdlens.report import _demo as demo

SCRIPT_ORDER = [
    "Projection and dot products",
    "Change of basis",
    "Covariance and the direction of maximum variance",
    "Superposition: more features than neurons",
    "WᵀW: inputs with inputs",
    "Eigenvectors stay on their line",
    "Rotate, scale, rotate",
    "u = Av/σ",
    "Low rank: keep the biggest pieces",
    "Least squares",
    "Eigenfaces and the puzzle",
    "The interpolation of a faded face",
    "Simplify it: the weight matrix",
    "The Jacobian of the face model",
    "Edits along the top directions",
    "Parallel transport to other faces",
    "The generated image",
    "How the map changes as the noise dissolves",
]


class _Links(HTMLParser):
    """Every URL the page would load or link to."""

    def __init__(self):
        super().__init__()
        self.urls, self.headings, self._in_h2 = [], [], False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href", "poster", "data") and value:
                self.urls.append(value)
        self._in_h2 = tag == "h2"

    def handle_data(self, data):
        if self._in_h2:
            self.headings.append(data)
            self._in_h2 = False


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """One run through the command line, as a user would start it, with --open caught."""
    out = tmp_path_factory.mktemp("demo") / "report"
    opened = []
    mp = pytest.MonkeyPatch()
    mp.setattr("webbrowser.open", lambda url: opened.append(url))
    result = CliRunner().invoke(app, ["demo", "--fast", "--out", str(out), "--open", "--quiet"])
    mp.undo()
    assert result.exit_code == 0, result.output
    return out, opened, result.output


def test_every_linked_file_exists_inside_the_folder(report):
    out, _, _ = report
    page = (out / "index.html").read_text()
    links = _Links()
    links.feed(page)
    local = [u for u in links.urls if not u.startswith("#")]
    assert len(local) >= 15
    for url in local:
        assert not re.match(r"^[a-z][a-z0-9+.-]*:|^//", url, re.I), f"{url} points outside the report"
        target = (out / url).resolve()
        assert target.is_relative_to(out.resolve()), url
        assert target.is_file() and target.stat().st_size > 0, url
    assert "http://" not in page and "https://" not in page and "@import" not in page


def test_the_scenes_come_in_the_scripts_order(report):
    out, _, _ = report
    links = _Links()
    links.feed((out / "index.html").read_text())
    titles = [re.sub(r"^\d+\.\s*", "", h) for h in links.headings]
    assert titles == SCRIPT_ORDER
    assert len(SECTIONS) == len(SCRIPT_ORDER)


def test_summary_holds_the_numbers(report):
    out, _, _ = report
    summary = json.loads((out / "summary.json").read_text())
    sections = {s["title"]: s for s in summary["sections"]}
    assert len(sections) == len(SCRIPT_ORDER) and summary["settings"]["steps"] == 10
    assert [s["key"] for s in summary["sections"]] == [f"{i + 1:02d}" for i in range(len(SCRIPT_ORDER))]
    assert any("y1 = 0.4·2 + 0.2·1 = 1" in line for line in sections["Projection and dot products"]["lines"])
    assert any("[-4, 1]" in line for line in sections["Change of basis"]["lines"])
    covariance = " ".join(sections["Covariance and the direction of maximum variance"]["lines"])
    assert "not an eigenvector" in covariance
    top = [float(v) for v in re.search(r"true top eigenvector is \[([0-9.]+), ([0-9.]+)\]", covariance).groups()]
    assert abs(top[0] - 0.652) < 2e-3 and abs(top[1] - 0.758) < 2e-3  # the issue's ≈ [0.652, 0.758]
    # §9 shows low rank on a photograph too, where k = 2 is not the end: the share left out falls with k
    low_rank = sections["Low rank: keep the biggest pieces"]
    assert "09-low_rank_picture.png" in low_rank["files"]
    left = [float(v) for v in re.findall(r"k = \d+: ([0-9.]+)%", " ".join(low_rank["lines"]))]
    assert len(left) == 4 and all(a > b for a, b in zip(left, left[1:]))
    # the face world is shown before its model is taken apart: each factor alone, and the named faces
    assert {"14-world.png", "14-named-faces.png"} <= set(sections["The Jacobian of the face model"]["files"])
    weights = " ".join(sections["Simplify it: the weight matrix"]["lines"])
    agree = float(re.search(r"LAPACK agrees to ([0-9.e+-]+)", weights).group(1))
    assert agree < 1e-5  # eigenvalues of WᵀW are σ(W)²
    check = " ".join(sections["The Jacobian of the face model"]["lines"])
    assert float(re.search(r"‖J v₁ − σ₁ u₁‖/σ₁ = ([0-9.e+-]+)", check).group(1)) < 1e-3  # u = Jv/σ
    kept = re.findall(r"face \d+: ([0-9.]+)", " ".join(sections["Parallel transport to other faces"]["lines"]))
    assert kept and all(0 <= float(k) <= 1 for k in kept)
    # On the face world each direction is labelled with the factor it moves and its purity
    labels = re.findall(r"v(\d) ([a-z_]+) \(([0-9.]+)\)", check)
    assert len(labels) == 4 and all(f in world.NAMES and 0 < float(p) <= 1 for _, f, p in labels)
    # and the climax is concrete: the scary face, a carried expression direction, the oracle's distance
    climax = " ".join(sections["The generated image"]["lines"])
    assert "scary face" in climax and "friendly puppet" in climax
    before, after = (float(v) for v in re.search(r"distance ([0-9.]+) spreads \(from ([0-9.]+)", climax).groups()[::-1])
    assert 0 < after <= before  # the γ shown is the closest of those tried, γ = 0 included
    # over t: the directions' frequency rises as t falls (Park et al. §5), and the models are compared
    lines = sections["How the map changes as the noise dissolves"]["lines"]
    evolution = " ".join(lines)
    frequency = next(line for line in lines if line.startswith("Mean radial frequency"))
    freq = [float(f) for f in re.findall(r"([0-9.]+) at t = ", frequency)]
    assert len(freq) == 2 and freq[0] < freq[1]  # fast: t = 0.8, then 0.4
    assert "real-face DDPM on its own faces" in evolution and "memorises" in evolution


def test_open_and_progress(report):
    out, opened, output = report
    assert opened == [(out / "index.html").resolve().as_uri()]
    assert f"{len(SCRIPT_ORDER)} scenes" in output


def test_second_run_reuses_the_cached_bases(report, tmp_path, monkeypatch):
    out, _, _ = report
    calls = []
    real = basis_module.svd
    monkeypatch.setattr(basis_module, "svd", lambda *a, **k: calls.append(1) or real(*a, **k))
    summary = demo.run_demo(tmp_path / "again", fast=True, cache_dir=out / "cache")
    assert calls == []  # every local basis came from the cache
    jac = next(s for s in summary["sections"] if s["title"] == "The Jacobian of the face model")
    assert any("loaded from the cache" in line for line in jac["lines"])


def test_a_failing_step_leaves_no_report(tmp_path, monkeypatch):
    def broken(ctx):
        raise RuntimeError("step failed")

    monkeypatch.setattr(demo, "SECTIONS", (demo.projection_section, broken))
    with pytest.raises(RuntimeError, match="step failed"):
        demo.run_demo(tmp_path / "r", fast=True)
    left = sorted(p.name for p in (tmp_path / "r").iterdir())
    assert left == ["cache"]  # only the (valid) cache; no page, no figures
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".svdlens-")]


def test_unknown_model_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(
        app, ["demo", "--fast", "--quiet", "--model", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 2
    assert "nowhere" in "".join(result.output.split())  # the path may be folded anywhere
    assert not (tmp_path / "r" / "index.html").exists()


def test_demo_help_has_examples():
    result = CliRunner().invoke(app, ["demo", "--help"])
    assert result.exit_code == 0 and "svdlens demo --out" in result.output and "--fast" in result.output


def test_html_escapes_text():
    from svdlens.report._html import render

    s = demo.Section("01", "A <b> title", "story & more", ["x < y"], ["a b.png"])
    page = render([s], {"settings": {}, "seconds": 1.0, "model": "builtin"})
    assert "A &lt;b&gt; title" in page and "x &lt; y" in page and 'src="a b.png"' in page


def test_video_scenes_are_linked_from_their_sections(tmp_path, monkeypatch):
    """``--video``: each rendered MP4 appears in its section and as a <video> on the page (renders stubbed)."""
    import svdlens.video as video_package

    def fake_render(names, out, quality):
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / f"{i + 1:02d}-{name}.mp4" for i, name in enumerate(names)]
        for p in paths:
            p.write_bytes(b"\x00\x00\x00\x18ftypmp42")
        return paths

    monkeypatch.setattr(video_package, "render", fake_render)
    summary = demo.run_demo(tmp_path / "r", fast=True, video=True)
    files = {s["title"]: s["files"] for s in summary["sections"]}
    assert "video/04-rotate-scale-rotate.mp4" in files["Rotate, scale, rotate"]
    assert "video/06-puzzle.mp4" in files["Eigenfaces and the puzzle"]
    page = (tmp_path / "r" / "index.html").read_text()
    assert page.count("<video controls") == len(demo.VIDEO_SECTIONS)
    assert (tmp_path / "r" / "video" / "08-generated-image.mp4").exists()
