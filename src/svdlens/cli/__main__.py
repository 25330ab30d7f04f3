"""``python -m svdlens.cli``: the same as the ``svdlens`` command."""

from . import app

app()
