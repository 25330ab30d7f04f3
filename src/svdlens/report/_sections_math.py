"""Sections 1-10: the script's matrix scenes (``sl.explain``), each drawn beside its numbers."""

from __future__ import annotations

from ._context import Section, _Context


# ----------------------------------------------------------------------------- scenes 1-5
def _scenes(ctx: _Context, title: str, story: str, names) -> Section:
    """Sections made of explain scenes: their text lines, figure and animation."""
    from ..scenes import SCENES

    key = ctx.key
    ex = ctx.explanation
    section = Section(key, title, story)
    for name in names:
        scene, spec = ex[name], SCENES[name]
        section.lines += [scene.title] + scene.lines + [""]
        if ex.drawable(scene) and spec.draw is not None:
            section.files.append(ctx.save(spec.draw(scene), f"{key}-{name}.png"))
            if spec.animate is not None:
                section.files.append(ctx.animate(spec.animate(scene), f"{key}-{name}.gif", fps=8))
    return section


def projection_section(ctx):
    return _scenes(
        ctx,
        "Projection and dot products",
        "Matrix multiplication projects the input onto each row: 0.4·2 + 0.2·1 = 1.",
        ["projection", "dot_products"],
    )


def change_of_basis_section(ctx):
    return _scenes(
        ctx,
        "Change of basis",
        "The blog post's example: in the basis of B's columns, the coordinates [−1, 2] name the point "
        "B·[−1, 2] = [−4, 1].",
        ["change_of_basis"],
    )


def covariance_section(ctx):
    return _scenes(
        ctx,
        "Covariance and the direction of maximum variance",
        "The variance along a unit direction w is wᵀSw; it is largest along the top eigenvector of S.",
        ["max_variance"],
    )


def superposition_section(ctx):
    return _scenes(
        ctx,
        "Superposition: more features than neurons",
        "Features that must share too few neurons cannot all be orthogonal: WᵀW shows how much they interfere.",
        ["superposition"],
    )


def inputs_with_inputs_section(ctx):
    return _scenes(
        ctx,
        "WᵀW: inputs with inputs",
        "Each entry of WᵀW is the dot product of two input columns: how alike two inputs look to the layer.",
        ["inputs_with_inputs"],
    )


def eigenvectors_section(ctx):
    return _scenes(
        ctx,
        "Eigenvectors stay on their line",
        "Most vectors turn under AᵀA; its eigenvectors only stretch, by λ = σ².",
        ["eigenvectors"],
    )


def rotate_scale_rotate_section(ctx):
    return _scenes(
        ctx,
        "Rotate, scale, rotate",
        "A = UΣVᵀ: turn the input directions onto the axes (Vᵀ), stretch them (Σ), turn onto the outputs (U).",
        ["rotate_scale_rotate"],
    )


def u_from_v_section(ctx):
    return _scenes(
        ctx,
        "u = Av/σ",
        "Multiply a right singular vector by A and you land on its left singular vector, scaled by σ.",
        ["u_from_v"],
    )


def low_rank_section(ctx):
    """The 2×2 matrix, where k = 2 is already exact, then a photograph, where a few triplets carry most of it."""
    from skimage.data import camera

    from ..scenes._figures import low_rank_picture as draw_picture
    from ..scenes._scenes import low_rank_picture

    section = _scenes(
        ctx,
        "Low rank: keep the biggest pieces",
        "We can approximate a matrix with its singular vectors: keep the k largest σᵢuᵢvᵢᵀ, and the error is σₖ₊₁.",
        ["low_rank"],
    )
    picture = low_rank_picture(camera() / 255.0, ks=(1, 5, 20, 50))
    section.lines += ["On a 2×2 matrix k = 2 is already exact; a photograph (scikit-image's camera) shows more."]
    section.lines += [picture.title] + picture.lines
    section.files.append(ctx.save(draw_picture(picture), f"{ctx.key}-low_rank_picture.png"))
    return section


def least_squares_section(ctx):
    return _scenes(
        ctx,
        "Least squares",
        "The closest point to b in the column space is its projection: the error is perpendicular to every column.",
        ["least_squares"],
    )
