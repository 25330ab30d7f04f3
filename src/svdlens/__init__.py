"""svdlens: the singular value decomposition, from a 2×2 matrix to the Jacobian of a diffusion model."""

from . import diffusion, exceptions, faces, scenes
from .exceptions import ConvergenceWarning, PrecisionWarning, SvdlensError
from .faces import Eigenfaces
from .linalg import (
    Operator,
    SVDResult,
    as_operator,
    grassmann_distance,
    principal_angles,
    projection_distance,
    svd,
)
from .nets import (
    LocalBasis,
    global_directions,
    jacobian,
    layer_map,
    local_basis,
    transport,
    weight_directions,
)
from .scenes import explain

__version__ = "0.1.0"

__all__ = [
    "svd",
    "Operator",
    "as_operator",
    "SVDResult",
    "explain",
    "scenes",
    "faces",
    "Eigenfaces",
    "jacobian",
    "layer_map",
    "local_basis",
    "LocalBasis",
    "transport",
    "global_directions",
    "weight_directions",
    "principal_angles",
    "grassmann_distance",
    "projection_distance",
    "diffusion",
    "exceptions",
    "SvdlensError",
    "ConvergenceWarning",
    "PrecisionWarning",
    "__version__",
]
