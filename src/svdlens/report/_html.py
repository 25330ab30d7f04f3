"""The demo's ``index.html``: one offline page, every asset a relative path inside the report folder."""

from __future__ import annotations

import html
from datetime import datetime, timezone

__all__ = ["render"]

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:62em;margin:2em auto;padding:0 1em;
     color:#222;line-height:1.45}
h1{margin-bottom:.2em} .lede{color:#555;margin-top:0}
nav ol{columns:2;padding-left:1.4em} nav a{text-decoration:none}
section{border-top:1px solid #ddd;margin-top:2em;padding-top:.5em}
.story{font-style:italic;color:#444;border-left:3px solid #2ca02c;padding-left:.7em}
pre{background:#f6f6f6;padding:.7em;overflow-x:auto;white-space:pre-wrap;font-size:.88em}
figure{margin:.8em 0} img{max-width:100%;height:auto}
footer{color:#666;font-size:.85em;border-top:1px solid #ddd;margin-top:3em;padding-top:.5em}
"""

INTRO = (
    "An image model has to find its way back. It takes the smooth map from image space X to its "
    "bottleneck H, approximates that map's Jacobian by SVD — eigenvectors of JᵀJ and JJᵀ; rotate, "
    "scale, rotate — moves along a singular direction, carries it to other images, and generates the "
    "image it wants. On the way it relearns the dot product, WᵀW, eigenvectors, eigenfaces and u = Av/σ."
)


def _figure(name: str, alt: str) -> str:
    src = html.escape(name, quote=True)
    if name.endswith(".mp4"):
        return f'<figure><video controls preload="metadata" src="{src}" title="{html.escape(alt, quote=True)}"></video></figure>'
    return f'<figure><img src="{src}" alt="{html.escape(alt, quote=True)}" loading="lazy"></figure>'


def render(sections, summary: dict) -> str:
    """The report page for ``sections`` (see :class:`svdlens.report.demo.Section`)."""
    toc = "".join(f'<li><a href="#s{s.key}">{html.escape(s.title)}</a></li>' for s in sections)
    body = []
    for s in sections:
        body.append(f'<section id="s{s.key}"><h2>{int(s.key)}. {html.escape(s.title)}</h2>')
        body.append(f'<p class="story">{html.escape(s.story)}</p>')
        body += [_figure(f, s.title) for f in s.files]
        text = "\n".join(s.lines).strip()
        if text:
            body.append(f"<pre>{html.escape(text)}</pre>")
        body.append(f"<p><small>{s.seconds:.1f} s</small></p></section>")
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    settings = ", ".join(f"{k}={v}" for k, v in summary["settings"].items())
    return (
        "\n".join(
            [
                "<!doctype html>",
                '<html lang="en"><head><meta charset="utf-8">',
                '<meta name="viewport" content="width=device-width, initial-scale=1">',
                "<title>svdlens: the SVD, from a 2×2 matrix to a diffusion model</title>",
                f"<style>{STYLE}</style></head><body>",
                "<h1>The SVD, from a 2×2 matrix to a diffusion model</h1>",
                f'<p class="lede">{html.escape(INTRO)}</p>',
                f"<nav><ol>{toc}</ol></nav>",
                *body,
                f"<footer>Made by <code>svdlens demo</code> on {when} in {summary['seconds']:.0f} s "
                f"(model: {html.escape(str(summary['model']))}; {html.escape(settings)}). "
                "Everything on this page is in this folder; nothing is fetched.</footer>",
                "</body></html>",
            ]
        )
        + "\n"
    )
