"""The examples in the public docstrings run and give what they show."""

import doctest

import pytest

import svdlens.linalg.io
import svdlens.linalg.operator
import svdlens.linalg.svd


@pytest.mark.parametrize("module", [svdlens.linalg.svd, svdlens.linalg.operator, svdlens.linalg.io])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
