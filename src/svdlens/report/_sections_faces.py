"""Sections 11-12: eigenfaces and the puzzle, and a face fading into another through face space."""

from __future__ import annotations

from ._context import Section


# ----------------------------------------------------------------------------- eigenfaces
def eigenfaces_section(ctx):
    from ..faces import builtin
    from ..faces._study import draw_study, study

    faces = builtin("faces")
    result = study(faces, k=20, nonfaces=builtin("nonfaces"))
    files = draw_study(result, ctx.stage / "eigenfaces")
    ef, det = result.model, result.detection
    assert det is not None  # the built-in faces come with non-faces
    summary = {
        "n_images": ef.n_samples_,
        "image_shape": list(ef.image_shape_),
        "n_components": ef.n_components_,
        "explained_variance_ratio": ef.explained_variance_ratio_.tolist(),
        "explained_variance_total": float(ef.explained_variance_ratio_.sum()),
        "puzzle": {
            "coefficients": result.puzzle.coefficients.tolist(),
            "relative_error": float(result.puzzle.errors[-1]),
        },
        "face_detection": {"roc_auc": det.auc, "nonfaces_inside_threshold": det.nonfaces_inside},
    }
    evr = summary["explained_variance_ratio"]
    det = summary["face_detection"]
    lines = [
        f"{summary['n_images']} built-in faces of {summary['image_shape'][0]}×{summary['image_shape'][1]} pixels; "
        f"{summary['n_components']} eigenfaces hold {summary['explained_variance_total']:.1%} of the variance.",
        "Shares of the first five: " + ", ".join(f"{v:.1%}" for v in evr[:5]),
        "The puzzle: the first face = mean face + Σ cᵢ·eigenfaceᵢ, with c₁…c₅ = "
        + ", ".join(f"{c:+.2f}" for c in summary["puzzle"]["coefficients"][:5])
        + f"; what is left after all {summary['n_components']}: {summary['puzzle']['relative_error']:.1%}.",
        f"Distance from face space tells faces from non-faces: ROC AUC {det['roc_auc']:.3f} on held-out faces "
        f"({det['nonfaces_inside_threshold']:.0%} of non-faces fall inside the faces' 95th percentile).",
    ]
    files = [
        f"eigenfaces/{n}"
        for n in ("eigenfaces.png", "reconstruction.png", "reconstruction.gif", "puzzle.png", "distances.png")
        if n in files
    ]
    return Section(
        ctx.key,
        "Eigenfaces and the puzzle",
        "The U basis are the eigenfaces: every face is the mean face plus a weighted sum of them.",
        lines,
        files,
    )


def faded_face_section(ctx):
    from ..faces import Eigenfaces, builtin, interpolate
    from ..faces._figures import image_row

    s = ctx.settings
    faces = builtin("faces")
    ef = Eigenfaces(n_components=20).fit(faces)
    a, b = faces[s.source], faces[s.targets[0]]
    frames = interpolate(ef, a, b, n=8)
    titles = [f"{i / (len(frames) - 1):.2f}" for i in range(len(frames))]
    file = ctx.save(
        image_row(list(frames), titles, f"face {s.source} fading into face {s.targets[0]} in face space"),
        f"{ctx.key}-faded-face.png",
    )
    lines = [
        f"Both faces as 20 eigenface coefficients; the straight line between the coefficient vectors, "
        f"{len(frames)} steps, each rebuilt as a face.",
        "Every frame stays a face: the path never leaves the space the eigenfaces span.",
    ]
    return Section(
        ctx.key,
        "The interpolation of a faded face",
        "A face fading into another through the eigenfaces, as at the end of the warp.",
        lines,
        [file],
    )
