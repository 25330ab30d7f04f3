"""The script's math scenes for any small matrix: numbers first (pure numpy), then figures.

``sl.explain(A)`` runs every scene; each scene's numbers are a typed dataclass that can be
tested exactly, and :data:`SCENES` is the registry that names each scene with the functions
that compute and draw it.
"""

from ._explain import Explanation, explain
from ._registry import SCENES, SceneInput, SceneSpec
from ._scenes import Scene

__all__ = ["explain", "Explanation", "Scene", "SceneSpec", "SceneInput", "SCENES"]
