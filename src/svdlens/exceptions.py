"""Every error and warning svdlens raises, in one place.

Every error derives from :class:`SvdlensError`, itself a :class:`ValueError`, so that
``except SvdlensError`` catches all of them and code written against plain ``ValueError``
keeps working. Where a builtin type says more (a missing file, an unknown key, an unfitted
estimator), the error derives from that type too, as scikit-learn's ``NotFittedError`` and
``InvalidParameterError`` do. Every warning derives from :class:`SvdlensWarning`.
"""

from __future__ import annotations

__all__ = [
    "SvdlensError",
    "InvalidParameterError",
    "MatrixParseError",
    "InputFileError",
    "MissingInputError",
    "OutputError",
    "ModelError",
    "NonFiniteError",
    "ModelLoadError",
    "UnknownLayerError",
    "NotFittedError",
    "MissingDependencyError",
    "SvdlensWarning",
    "ConvergenceWarning",
    "PrecisionWarning",
    "SkippedFilesWarning",
    "InputNote",
]


class SvdlensError(ValueError):
    """Base of every svdlens error; the message says what went wrong and what to do."""


class InvalidParameterError(SvdlensError, TypeError):
    """A parameter has the wrong type or a value outside its documented range."""


class MatrixParseError(SvdlensError):
    """A matrix string or file could not be read; the message names the bad token and where."""


class InputFileError(SvdlensError):
    """An input file could not be read, is too large, or is not what it claims to be."""


class MissingInputError(InputFileError, FileNotFoundError):
    """An input file or folder does not exist."""


class OutputError(SvdlensError):
    """An output would overwrite an input or a file svdlens did not write."""


class ModelError(SvdlensError, RuntimeError):
    """A model file or the model's forward pass raised; the message says what and where."""


class NonFiniteError(ModelError):
    """A model produced NaN or Inf; the message says where (component and timestep). Nothing is written."""


class ModelLoadError(SvdlensError):
    """A model could not be loaded; the message says why and what to do."""


class UnknownLayerError(SvdlensError, KeyError):
    """No submodule has that name; the message lists the nearest names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class NotFittedError(SvdlensError, AttributeError):
    """An estimator was used before ``fit``."""


class MissingDependencyError(SvdlensError, ImportError):
    """An optional extra is not installed; the message names the ``pip install`` to run."""


class SvdlensWarning(UserWarning):
    """Base of every svdlens warning."""


class ConvergenceWarning(SvdlensWarning):
    """An iterative solver stopped before its residuals reached ``tol``."""


class PrecisionWarning(SvdlensWarning):
    """A method lost digits it could not get back (the Gram matrix squares the condition number)."""


class SkippedFilesWarning(SvdlensWarning):
    """Some files in an image folder could not be read and were skipped."""


class InputNote(SvdlensWarning):
    """An input was changed to fit the model (resized, converted to grayscale)."""
