"""The examples in the public docstrings run and give what they show."""

import doctest
import importlib

import pytest


@pytest.mark.parametrize("name", ["svdlens.linalg.svd", "svdlens.linalg.operator", "svdlens.linalg.io"])
def test_docstring_examples(name):
    module = importlib.import_module(name)  # the package re-exports svd(), shadowing the module name
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
