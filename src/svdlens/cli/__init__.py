"""The ``svdlens`` command line: one typer app, one module per command, the only place that knows about flags.

Each ``_name.py`` module defines one command and registers it on :data:`app` (see
:mod:`svdlens.cli._main` for what they share); importing this package registers them all, in
the order ``svdlens --help`` lists them: the script's order.
"""

# isort: off
from . import _svd, _explain, _eigenfaces, _jacobian  # noqa: F401
from . import _directions, _edit, _transport, _evolution, _sample, _train  # noqa: F401
from . import _demo, _video, _app, _bench  # noqa: F401

# isort: on
from ._main import app

__all__ = ["app"]
