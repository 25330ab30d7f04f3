"""``svdlens app``: the interactive explorer in the browser."""

from __future__ import annotations

import typer

from ..exceptions import MissingDependencyError
from ._main import app, console, handled

__all__ = ["app_command"]


@app.command("app")
def app_command(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (default: this machine only)."),
    port: int = typer.Option(7860, "--port", help="Port to serve on."),
    model: str = typer.Option(
        "builtin",
        "--model",
        help="The diffusion model for the Directions tab: builtin, a diffusers folder or a hub id "
        "(a Stable Diffusion folder adds a prompt box).",
    ),
) -> None:
    """The interactive explorer in the browser (Gradio): Explain, Eigenfaces and Directions tabs.

    Bound to 127.0.0.1 unless --host says otherwise; analytics are off and nothing is fetched.
    Needs the app extra: pip install "svdlens\\[app]".

    Examples:

        svdlens app

        svdlens app --port 8000

        svdlens app --model ./stable-diffusion-v1-5
    """
    with handled():
        try:
            import gradio  # noqa: F401  (the app extra)
        except ModuleNotFoundError as err:
            raise MissingDependencyError(f'the app needs {err.name}: pip install "svdlens[app]"') from None
        from ..app import build_app, launch

        explorer = build_app(model=model)
    console.print(f"svdlens app on http://{host}:{port} (Ctrl+C to stop)")
    launch(explorer, host=host, port=port)
