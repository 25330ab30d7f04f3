"""The examples in the public docstrings run and give what they show.

``make test`` also runs every module's doctests with ``--doctest-modules``; this test makes
sure that the public functions that promise an example have one that runs.
"""

import doctest
import importlib
import pkgutil

import pytest

import svdlens

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(svdlens.__path__, "svdlens.")
    if not m.name.startswith(("svdlens.app", "svdlens.video", "svdlens.cli")) and not m.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.failed == 0
