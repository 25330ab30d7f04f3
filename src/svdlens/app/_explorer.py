"""``svdlens app``: the interactive explorer (Gradio), with tabs for Explain, Eigenfaces, Directions and Over t.

The layout lives here and the handlers in :mod:`svdlens.app._handlers`; both only call the library.
It binds to 127.0.0.1 by default, turns Gradio's analytics off, uses the system's fonts rather than
web fonts, and serves no page that fetches anything from elsewhere.
"""

from __future__ import annotations

import functools
import logging
import os
from typing import Any

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: no usage reports

from .._defaults import DEFAULT_T
from ..exceptions import SvdlensError
from ._handlers import APP_MAX_R, MAX_PROMPT, MAX_UPLOAD_BYTES, N_PUZZLE, OUTSIDE_CHOICES, AppInputError, Explorer

__all__ = ["build_app", "launch", "Explorer", "AppInputError"]

log = logging.getLogger("svdlens.app")
"""The server's log of refused input: one line per user error (a bug still gets its traceback)."""


def _shown(fn):
    """Bad input becomes a message in the page and one line in the server's log; the server carries on.

    Every svdlens error (the handlers' :class:`AppInputError`, and any the library raises) is a
    ``gr.Error`` without a printed traceback: it is the user's input, not a fault of the server.
    """
    import gradio as gr

    @functools.wraps(fn)
    def call(*args):
        try:
            return fn(*args)
        except SvdlensError as err:
            message = " ".join(str(err).split())  # one line, whatever the library wrote
            log.warning("svdlens app: %s refused: %s", getattr(fn, "__name__", "handler"), message)
            raise gr.Error(message, print_exception=False) from None

    return call


def build_app(model: str = "builtin", explorer: Explorer | None = None):
    """The explorer as a ``gradio.Blocks``; call :func:`launch` (or ``.launch``) to serve it."""
    import gradio as gr

    ex = explorer or Explorer(model)
    with gr.Blocks(title="svdlens explorer", analytics_enabled=False) as demo:
        gr.Markdown("# svdlens explorer\nThe SVD, from a 2×2 matrix to the Jacobian of a diffusion model.")
        with gr.Tab("Explain", render_children=True):
            _explain_tab(demo, ex)
        with gr.Tab("Eigenfaces", render_children=True):
            _eigenfaces_tab(demo, ex)
        with gr.Tab("Directions", render_children=True):
            _directions_tab(ex)
        with gr.Tab("Over t", render_children=True):
            _evolution_tab(ex)
    return demo


def _explain_tab(demo, ex: Explorer) -> None:
    """A matrix and an input vector in; every scene's figure and the numbers out."""
    import gradio as gr

    with gr.Row():
        matrix = gr.Textbox(value="0.4 0.2; 1 3", label="Matrix A (rows split by ;)")
        vector = gr.Textbox(value="2 1", label="Input vector x")
    go = gr.Button("Explain", variant="primary")
    scenes = gr.Gallery(label="Scenes", columns=2, height="auto")
    story = gr.Textbox(label="The numbers", lines=18)
    go.click(_shown(ex.explain), [matrix, vector], [scenes, story], api_name="explain")
    demo.load(_shown(ex.explain), [matrix, vector], [scenes, story], api_name=False)


def _eigenfaces_tab(demo, ex: Explorer) -> None:
    """Reconstruction from k eigenfaces, the puzzle by hand, and an uploaded face."""
    k = _reconstruction(demo, ex)
    _puzzle(demo, ex)
    _upload(ex, k)


def _reconstruction(demo, ex: Explorer):
    """A built-in face rebuilt from its first k coefficients; returns the k slider (the upload uses it)."""
    import gradio as gr

    gr.Markdown("A built-in face rebuilt from its first **k** eigenface coefficients.")
    with gr.Row():
        face = gr.Slider(0, len(ex.faces) - 1, value=0, step=1, label="Built-in face")
        k = gr.Slider(1, ex.ef.n_components_, value=5, step=1, label="k (eigenfaces used)", elem_id="k-slider")
    with gr.Row():
        original = gr.Image(label="The face (standardised)", type="numpy", format="png")
        rebuilt = gr.Image(label="Rebuilt from k pieces", type="numpy", format="png", elem_id="rebuilt")
    rebuilt_text = gr.Textbox(label="The puzzle", lines=2)
    recon = _shown(ex.reconstruct)
    for control in (face, k):
        control.change(recon, [face, k], [original, rebuilt, rebuilt_text], api_name=False)  # type: ignore[arg-type]
    gr.Button("Rebuild").click(recon, [face, k], [original, rebuilt, rebuilt_text], api_name="reconstruct")
    demo.load(recon, [face, k], [original, rebuilt, rebuilt_text], api_name=False)
    return k


def _puzzle(demo, ex: Explorer) -> None:
    """The mean face plus cᵢ standard deviations of the first N_PUZZLE eigenfaces."""
    import gradio as gr

    gr.Markdown(f"The puzzle by hand: the mean face plus cᵢ standard deviations of the first {N_PUZZLE} eigenfaces.")
    with gr.Row():
        coefficients = [gr.Slider(-3, 3, value=0, step=0.1, label=f"c{i + 1}") for i in range(N_PUZZLE)]
    made = gr.Image(label="Mean face + Σ cᵢ·eigenfaceᵢ", type="numpy", format="png")

    @_shown
    def puzzle(c1, c2, c3, c4, c5, c6):
        return ex.puzzle(c1, c2, c3, c4, c5, c6)

    for c in coefficients:
        c.change(puzzle, coefficients, made, api_name=False)  # type: ignore[arg-type]
    gr.Button("Assemble").click(puzzle, coefficients, made, api_name="puzzle")
    demo.load(puzzle, coefficients, made, api_name=False)


def _upload(ex: Explorer, k) -> None:
    """An uploaded face: as the model sees it, its projection, and the nearest built-in face."""
    import gradio as gr

    gr.Markdown(
        f"Upload a face (an image file up to {MAX_UPLOAD_BYTES // 2**20} MB): "
        "its projection, distance from face space and nearest built-in face."
    )
    upload = gr.File(label="Face image", file_types=["image"], type="filepath")
    with gr.Row():
        seen = gr.Image(label="As the model sees it", type="numpy", format="png")
        projected = gr.Image(label="Projected onto face space", type="numpy", format="png")
        nearest = gr.Image(label="Nearest built-in face", type="numpy", format="png")
    upload_text = gr.Textbox(label="Numbers", lines=3)
    gr.Button("Analyse upload").click(
        _shown(ex.upload), [upload, k], [seen, projected, nearest, upload_text], api_name="upload"
    )


def _directions_tab(ex: Explorer) -> None:
    """Edit a face along a direction of its local basis, and carry the direction to another face."""
    import gradio as gr

    gr.Markdown(
        "The local basis of x_t ↦ h (the U-Net's bottleneck) at a face: move along a direction, "
        "denoise, and carry the direction to another face. The first call loads the model and "
        "finds the basis (a few seconds on a CPU)."
    )
    with gr.Row():
        source = gr.Radio(["face", "seed"], value="face", label="Start from")
        index = gr.Number(
            value=3, precision=0, label="Face (of the face world's gallery on the built-in model) or seed"
        )
        t = gr.Slider(0.1, 1.0, value=DEFAULT_T, step=0.05, label="t")
    # A text model (Stable Diffusion) conditions the inversion, the map x_t ↦ h and the denoising on a prompt.
    prompt = gr.Textbox(value="", label="Prompt", visible=ex.has_text, elem_id="prompt", max_length=MAX_PROMPT)
    with gr.Row():
        direction = gr.Slider(1, 5, value=1, step=1, label="Direction")
        strength = gr.Slider(-8, 8, value=4, step=0.5, label="Strength γ")
    with gr.Row():
        mask = gr.Textbox(
            value="",
            label="Edit only inside a box x0,y0,x1,y1 in the model's pixels (LOCO Edit; empty: the whole image; "
            "the face world's mouth is 22,38,42,50)",
            max_length=40,
        )
        r = gr.Slider(0, APP_MAX_R, value=5, step=1, label="Outside directions projected out (r)")
        outside = gr.Radio(list(OUTSIDE_CHOICES), value=OUTSIDE_CHOICES[0], label="Keep the outside by")
    with gr.Row():
        start_img = gr.Image(label="Start", type="numpy", format="png")
        edited_img = gr.Image(label="Edited", type="numpy", format="png")
    edit_text = gr.Textbox(label="Numbers", lines=2)
    gr.Button("Edit", variant="primary").click(
        _shown(ex.edit),
        [source, index, t, direction, strength, prompt, mask, r, outside],
        [start_img, edited_img, edit_text],
        api_name="edit",
    )
    target = gr.Number(value=10, precision=0, label="Carry to face (of the same gallery as the start face)")
    with gr.Row():
        target_img = gr.Image(label="Target", type="numpy", format="png")
        moved_img = gr.Image(label="Target, edited", type="numpy", format="png")
    moved_text = gr.Textbox(label="Transport", lines=1)
    gr.Button("Transport").click(
        _shown(ex.transport),
        [source, index, t, direction, strength, target, prompt],
        [target_img, moved_img, moved_text],
        api_name="transport",
    )


def _evolution_tab(ex: Explorer) -> None:
    """A face's local basis followed as the noise dissolves: distances across t and the directions' frequencies."""
    import gradio as gr

    gr.Markdown(
        "The local basis of x_t ↦ h at t = 0.9, 0.7, 0.5, 0.3 and 0.1, each warm-started from the one before "
        "(Park et al. 2023, §5): coarse directions in the noise, finer ones near the image. Five bases: about "
        "ten seconds on a CPU."
    )
    index = gr.Number(value=3, precision=0, label="Face (of the face world's gallery on the built-in model)")
    prompt = gr.Textbox(value="", label="Prompt", visible=ex.has_text, max_length=MAX_PROMPT)
    with gr.Row():
        distances = gr.Image(label="Distances across t", type="numpy", format="png")
        spectra = gr.Image(label="Frequency content", type="numpy", format="png")
    numbers = gr.Textbox(label="Numbers", lines=3)
    gr.Button("Follow over t", variant="primary").click(
        _shown(ex.evolution), [index, prompt], [distances, spectra, numbers], api_name="evolution"
    )


def launch(demo, host: str = "127.0.0.1", port: int | None = 7860, **kwargs):
    """Serve the explorer: local fonts, an upload limit, errors shown in the page."""
    import gradio as gr

    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
    options: dict[str, Any] = dict(
        server_name=host,
        server_port=port,
        share=False,
        theme=theme,
        show_error=True,
        max_file_size=MAX_UPLOAD_BYTES,
        ssr_mode=False,
        footer_links=[],
        pwa=False,
        mcp_server=False,
    )
    options.update(kwargs)
    return demo.launch(**options)
