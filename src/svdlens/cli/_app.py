"""``svdlens app``: the interactive explorer in the browser."""

from __future__ import annotations

import ipaddress
import re

import typer

from ..exceptions import MissingDependencyError
from ._main import app, console, err_console, fail, handled

__all__ = ["app_command"]

DEFAULT_PORT = 7860
"""Gradio's own default port; ``--port 0`` asks Gradio for the first free port from here up."""

_HOST_NAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)


def check_port(port: int) -> int | None:
    """The port to serve on: 1 to 65535, or 0 for Gradio's search (returned as None)."""
    if not 0 <= port <= 65535:
        fail(f"--port must be 1 to 65535 (or 0 for the first free port from {DEFAULT_PORT} up); got {port}")
    return port or None


def check_host(host: str) -> tuple[str, bool]:
    """``(host, is_loopback)`` for an IP address (IPv6 with or without brackets) or a host name."""
    name = host.strip()
    bare = name[1:-1] if name.startswith("[") and name.endswith("]") else name
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        # a host name: letters, digits and hyphens in dot-separated labels; all digits would be a bad IPv4
        if _HOST_NAME.fullmatch(bare) and not re.fullmatch(r"[0-9.]+", bare):
            return bare, bare.lower() == "localhost"
        fail(
            "--host must be an address of this machine, such as 127.0.0.1 (the default), ::1, localhost, "
            f"or 0.0.0.0 for every interface; got {host!r}"
        )
    return bare, address.is_loopback


@app.command("app")
def app_command(
    host: str = typer.Option(
        "127.0.0.1",
        "--host",
        help="Address to bind: 127.0.0.1 (the default) serves this machine only; another address, such as "
        "0.0.0.0, serves every machine that can reach this one.",
    ),
    port: int = typer.Option(
        DEFAULT_PORT,
        "--port",
        help=f"Port to serve on, 1 to 65535; 0 takes the first free port from {DEFAULT_PORT} up.",
    ),
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
    server_port = check_port(port)  # both checked before gradio is imported or any model is loaded
    host, loopback = check_host(host)
    with handled():
        try:
            import gradio  # noqa: F401  (the app extra)
        except ModuleNotFoundError as err:
            raise MissingDependencyError(f'the app needs {err.name}: pip install "svdlens[app]"') from None
        from ..app import build_app, launch

        explorer = build_app(model=model)
    if not loopback:
        err_console.print(
            f"[yellow]note:[/] --host {host} serves the app to every machine that can reach this one; "
            "the default, 127.0.0.1, keeps it to this machine"
        )
    shown = f"[{host}]" if ":" in host else host
    where = f"http://{shown}:{port}" if server_port else f"{shown}, the first free port from {DEFAULT_PORT} up"
    console.print(f"svdlens app on {where} (Ctrl+C to stop)", highlight=False, markup=False)
    try:
        launch(explorer, host=host, port=server_port)
    except OSError as err:
        if server_port:
            fail(
                f"--port {port}: cannot serve on {shown}:{port}: the port is in use, or --host {host} is not an "
                "address of this machine; choose another --port, or --port 0 for the first free one"
            )
        fail(f"--port 0: no free port from {DEFAULT_PORT} up on {shown} ({err})")
