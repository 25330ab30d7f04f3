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
