"""``python -m svdlens``: the same as the ``svdlens`` command."""

from .cli import app

app()
