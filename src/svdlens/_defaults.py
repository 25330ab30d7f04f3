"""Defaults that mean the same thing everywhere: the library, the command line, the demo and the app."""

from __future__ import annotations

__all__ = [
    "DEFAULT_T",
    "DEFAULT_STEPS",
    "DEFAULT_K",
    "DEFAULT_GUIDANCE",
    "MAX_GUIDANCE",
    "MAX_PIXELS",
    "MAX_STRENGTHS",
    "MAX_STEPS",
    "MAX_K",
    "MAX_EXPLAIN_SIZE",
    "MAX_EXPLAIN_ENTRY",
]

DEFAULT_T = 0.6
"""Where edits happen, as a fraction of the diffusion (Park et al. 2023 edit at about t = 0.6)."""

DEFAULT_STEPS = 50
"""DDIM steps for inversion and sampling."""

DEFAULT_K = 10
"""Size of a local basis (singular triplets of the Jacobian)."""

DEFAULT_GUIDANCE = 7.5
"""Classifier-free guidance of sampling with a text model (diffusers' default)."""

MAX_GUIDANCE = 100.0
"""The largest classifier-free guidance scale taken."""

MAX_PIXELS = 4096 * 4096
"""The largest image read (width × height), checked from the header before decoding."""

MAX_STRENGTHS = 64
"""The most strengths in one edit grid."""

MAX_STEPS = 1000
"""The most DDIM steps (a 1000-step schedule has no more)."""

MAX_K = 512
"""The most singular triplets asked of a Jacobian."""

MAX_EXPLAIN_SIZE = 32
"""The most rows or columns ``explain`` tells a story for (every scene prints its matrices)."""

MAX_EXPLAIN_ENTRY = 1e100
"""The largest entry ``explain`` takes: AᵀA squares the entries, and 1e300² overflows."""
