"""Rich display in notebooks: each result's ``_repr_html_`` is valid HTML with its key numbers,
escapes what a user wrote, and ``.plot()`` returns a matplotlib Figure (no pyplot)."""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

import svdlens as sl
from svdlens import _html

VOID = {"img", "br", "hr", "meta", "input", "col", "wbr"}


class _Balance(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.imgs: list[dict] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.imgs.append(dict(attrs))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        if tag == "img":
            self.imgs.append(dict(attrs))

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parsed(html: str) -> _Balance:
    """Parse and check that every tag is closed in order; return the parser (text, images)."""
    assert isinstance(html, str) and html.startswith("<div")
    p = _Balance()
    p.feed(html)
    p.close()
    assert not p.errors, p.errors
    assert not p.stack, f"unclosed: {p.stack}"
    for img in p.imgs:
        assert img["src"].startswith("data:image/png;base64,")
    return p


def text(html: str) -> str:
    return " ".join(parsed(html).text)


def test_html_helpers_escape_and_balance():
    html = _html.card(
        "<script>alert(1)</script>",
        _html.facts([("a<b", "x & y"), ("none", None)]),
        _html.columns(["i", "σ"], [[i, float(i)] for i in range(15)], bars=[0.5] * 15),
        _html.thumbnails([np.eye(4), np.zeros(3)], ["<eye>", "not an image"], signed=True),
    )
    p = parsed(html)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "a<b" in " ".join(p.text) and "none" not in " ".join(p.text)
    assert "… 5 more" in " ".join(p.text)
    assert len(p.imgs) == 1 and p.imgs[0]["alt"] == "<eye>"
    assert _html.thumbnails([np.zeros(3)]) == ""


def test_local_basis_repr_and_plot():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(0), torch.nn.Linear(16, 5), torch.nn.Tanh())
    x = torch.randn(1, 4, 4)
    b = sl.local_basis(model, x, k=3, method="exact")
    b.prompt = "a <b>face</b> & more"
    html = b._repr_html_()
    t = text(html)
    assert f"{float(b.s[0]):.4g}" in t and f"{float(b.residuals[0]):.1e}" in t
    assert "converged" in t and "True" in t
    assert "a <b>face</b> & more" in t and "<b>face" not in html
    assert len(parsed(html).imgs) == 3
    assert isinstance(b.plot(), Figure)
    assert isinstance(b.plot("directions"), Figure)
    with pytest.raises(sl.exceptions.SvdlensError):
        b.plot("nonsense")
    flat = sl.local_basis(lambda v: 2 * v, torch.ones(3), k=2, method="exact")
    assert parsed(flat._repr_html_()).imgs == []
    with pytest.raises(sl.exceptions.SvdlensError, match="not an image"):
        flat.plot("directions")


def test_svd_result_repr_and_plot():
    A = np.array([[3.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.0]])
    res = sl.svd(A)
    t = text(res._repr_html_())
    for s in res.S:
        assert f"{s:.4g}" in t
    assert f"{res.residuals.max():.1e}" in t and "exact" in t and "True" in t and "3×3" in t
    assert isinstance(res.plot(), Figure)
    tres = sl.svd(torch.tensor(A), k=2, method="krylov")
    assert f"{float(tres.S[0]):.4g}" in text(tres._repr_html_())


def test_eigenfaces_repr_fitted_and_not():
    X = np.random.default_rng(0).random((12, 8, 8))
    unfitted = sl.Eigenfaces(n_components=4, method="exact")
    t = text(unfitted._repr_html_())
    assert "not fitted" in t and "'exact'" in t and "n_components" in t
    with pytest.raises(sl.exceptions.NotFittedError):
        unfitted.plot()
    ef = sl.Eigenfaces(n_components=4).fit(X)
    html = ef._repr_html_()
    p = parsed(html)
    t = " ".join(p.text)
    assert f"{ef.singular_values_[0]:.4g}" in t and f"{ef.explained_variance_ratio_[0]:.2%}" in t
    assert f"{ef.explained_variance_ratio_.sum():.2%}" in t and "8×8" in t
    assert [img["alt"] for img in p.imgs] == ["mean face", "#1", "#2", "#3", "#4"]
    assert isinstance(ef.plot(), Figure) and isinstance(ef.plot("eigenfaces"), Figure)


def _tiny_global():
    from svdlens.diffusion._global import GlobalDirections

    torch.manual_seed(0)
    lin = torch.nn.Linear(16, 9).requires_grad_(False)

    def f(x):
        return torch.tanh(lin(x.reshape(-1))).reshape(1, 3, 3)

    bases = [sl.local_basis(f, torch.randn(1, 4, 4), k=2, method="exact") for _ in range(2)]
    directions = torch.linalg.qr(torch.randn(9, 2))[0].T.reshape(2, 1, 3, 3)
    share = torch.tensor([[0.9, 0.2], [0.7, 0.4]])
    return GlobalDirections(
        directions=directions,
        agreement=share.mean(0),
        share=share,
        bases=bases,
        names=["<img 0>.png", "b.png"],
        computed=[0],
        t=0.6,
        steps=4,
        k_local=2,
    )


def test_global_directions_repr_and_plot():
    g = _tiny_global()
    html = g._repr_html_()
    p = parsed(html)
    t = " ".join(p.text)
    assert "0.8" in t and "0.3" in t and "<img 0>.png" in t and "<img 0>" not in html
    assert len(p.imgs) == 2
    assert isinstance(g.plot(), Figure)
    assert isinstance(g.plot(np.random.default_rng(0).random((2, 4, 4)), n=2), Figure)


def test_factor_effects_repr_and_plot():
    from svdlens.diffusion._semantics import FactorEffects

    rng = np.random.default_rng(0)
    fx = FactorEffects(
        names=("age", "<smile>"),
        labels=["v1", "v2", "v3"],
        change=np.array([[0.3, 0.0], [0.1, 0.4], [0.0, 0.0]]),
        strength=4.0,
        t=0.6,
        before=np.zeros(2),
        images=rng.random((3, 2, 8, 8)),
    )
    html = fx._repr_html_()
    p = parsed(html)
    t = " ".join(p.text)
    assert "<smile>" in t and "<smile>" not in html
    assert f"{fx.purity[1]:.0%}" in t and f"{fx.size[1]:.4g}" in t
    assert len(p.imgs) == 6 and p.imgs[1]["alt"] == "v1 +γ"
    assert isinstance(fx.plot(), Figure)


def test_local_edit_and_evolution_results_show_themselves(tmp_path):
    from tiny_pipelines import tiny_ddim

    pipe = sl.diffusion.load(tiny_ddim(tmp_path / "ddim"))
    image = np.random.default_rng(0).random((3, 16, 16)).astype(np.float32)
    ld = pipe.local_directions(image, mask=(4, 4, 12, 10), t=0.6, k=2, r=2, steps=4, tol=1e-3)
    shown = parsed(ld._repr_html_())
    words = " ".join(shown.text)
    assert "LocalDirections" in words and f"{float(ld.leakage[0]):.4g}" in words and len(shown.imgs) == 3
    profile = pipe.rank_profile(image, ts=(0.4, 0.8), k=2, steps=4)
    assert "RankProfile" in " ".join(parsed(profile._repr_html_()).text)
    fig = profile.plot()
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    # the left panel draws σᵢ/σ₁ of each t exactly as the profile holds them
    drawn = [line.get_ydata() for line in fig.axes[0].get_lines()[: len(profile.ts)]]
    np.testing.assert_allclose(drawn, profile.s / profile.s[:, :1])
    lin = pipe.linearity(image, ld.v[0], t=0.6, lambdas=[0.5, 1.0], steps=4)
    assert f"{lin.ratio[1]:.4g}" in " ".join(parsed(lin._repr_html_()).text)
    fig = lin.plot()
    ratio, cosine = (line.get_ydata() for line in fig.axes[0].get_lines()[:2])
    np.testing.assert_allclose(ratio, lin.ratio)
    np.testing.assert_allclose(cosine, lin.cosine)
    ev = pipe.basis_evolution(image, (0.4, 0.8), k=2, steps=4)
    words = " ".join(parsed(ev._repr_html_()).text)
    assert "BasisEvolution" in words and str(int(ev.products.sum())) in words


def test_figures_show_as_png_in_ipython_without_pyplot():
    """A figure from ``.plot()`` draws itself in Jupyter, though it never touched pyplot."""
    interactiveshell = pytest.importorskip("IPython.core.interactiveshell")
    shell = interactiveshell.InteractiveShell.instance()
    try:
        png = shell.display_formatter.formatters["image/png"]
        png.pop(Figure, None)  # as in a fresh kernel where pyplot was never imported
        fig = sl.svd(np.diag([3.0, 1.0])).plot()
        assert png(fig)[:4] == b"\x89PNG"  # what a kernel sends for the cell's result
        custom = lambda fig: b"mine"  # noqa: E731
        png.for_type(Figure, custom)
        sl.svd(np.diag([3.0, 1.0])).plot()
        assert png.lookup_by_type(Figure) is custom  # a formatter already there is kept
    finally:
        interactiveshell.InteractiveShell.clear_instance()


def test_transported_repr_and_plot():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(0), torch.nn.Linear(16, 5), torch.nn.Tanh())
    b_from = sl.local_basis(model, torch.randn(1, 4, 4), k=3, method="exact")
    b_to = sl.local_basis(model, torch.randn(1, 4, 4), k=3, method="exact")
    carried = sl.transport(b_from.u[0], b_to)
    html = carried._repr_html_()
    t = text(html)
    assert not parsed(html).errors
    assert f"{carried.kept:.4g}" in t and f"{carried.gain:.4g}" in t
    assert f"{abs(float(carried.coefficients[0])):.4g}" in t
    assert len(parsed(html).imgs) == 1  # v at the target, an image-shaped x
    assert isinstance(carried.plot(), Figure)
