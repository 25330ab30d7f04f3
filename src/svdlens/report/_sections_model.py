"""Sections 13-18: the face model's weights, its Jacobian's local basis, edits, transport, the generated image, and t."""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ._context import Section, model_name


def weight_matrix_section(ctx):
    from ..nets import weight_directions
    from ..nets._figures import weight_direction_images

    W = ctx.pipe.unet.conv_in.weight.detach()
    k = min(9, W[0].numel())
    V, lam = weight_directions(W, k=k, return_values=True)
    sigma = torch.linalg.svdvals(W.reshape(W.shape[0], -1).double())[:k]
    gap = float((lam.double().sqrt() - sigma).abs().max() / sigma[0])
    lines = [
        f"The first layer of {ctx.model_name}, conv_in, is a weight matrix W of {W.shape[0]}×{W[0].numel()}: "
        f"{W.shape[0]} filters over {W.shape[-2]}×{W.shape[-1]} pixel patches.",
        "Eigenvalues of WᵀW, descending: " + ", ".join(f"{v:.3g}" for v in lam.tolist()),
        f"Their square roots are W's singular values (LAPACK agrees to {gap:.1e} relative).",
        "The eigenvectors are the patches the layer stretches most; later layers see mostly these.",
    ]
    file = ctx.save(
        weight_direction_images(V, lam, "conv_in: eigenvectors of WᵀW (3×3 patches)"), f"{ctx.key}-weights.png"
    )
    return Section(
        ctx.key,
        "Simplify it: the weight matrix",
        "Before the Jacobian, a simpler matrix: the eigenvectors of WᵀW (SeFa).",
        lines,
        [file],
    )


# ----------------------------------------------------------------------------- 14-17. the DDPM
def jacobian_section(ctx):
    from ..faces import world
    from ..nets import jacobian
    from ..nets._figures import direction_images, spectrum_plot

    s = ctx.settings
    xt = ctx.xt(s.source, s.t)
    basis = ctx.basis("source", xt, s.t, s.k)
    f = ctx.pipe.h_map(s.t)
    J = jacobian(f, xt)
    v1 = basis.v[0].reshape(-1, 1)
    Jv = J.matmat(v1).reshape(-1)
    check = float(torch.linalg.vector_norm(Jv - basis.s[0] * basis.u[0].reshape(-1)) / basis.s[0])
    lines = [
        f"f: x_t ↦ h, from image space X ({J.shape[1]} numbers) to the U-Net's bottleneck H ({J.shape[0]} numbers), "
        f"at t = {s.t}; J = ∂f/∂x is {J.shape[0]}×{J.shape[1]}, never written down.",
        f"Top {s.k} singular values: " + ", ".join(f"{v:.3g}" for v in basis.s.tolist()),
        f"Largest residual ‖Jv − σu‖, ‖Jᵀu − σv‖ (relative to σ₁): {float(basis.residuals.max()):.1e}; "
        f"converged: {basis.converged}.",
        f"Products: {basis.n_jvp} JVPs and {basis.n_vjp} VJPs"
        + (" (loaded from the cache)" if basis.jacobian is None else ""),
        f"u = Jv/σ, checked with a fresh product: ‖J v₁ − σ₁ u₁‖/σ₁ = {check:.1e}",
    ]
    files = []
    if ctx.world:
        files += _world_figures(ctx)
        lines.insert(
            0,
            f"The model learned a world of faces drawn from {len(world.FACTORS)} named factors, "
            + ", ".join(world.NAMES)
            + " (first figure: each alone, low to high), on an endless stream, so no face was seen twice. "
            "The seeds' scary face and friendly puppet are two points of it (second figure).",
        )
        fx = ctx.effects("source", xt, s.t, basis)
        lines.append(
            "What each direction means: x_t ± γ·v denoised, the two faces read by the face world's oracle, "
            "and the factor with the largest share of the change (its purity; 1 = that factor alone): "
            + ", ".join(f"v{i + 1} {f} ({p:.2f})" for i, (f, p) in enumerate(zip(fx.factor, fx.purity)))
        )
    files += [
        ctx.save(spectrum_plot(basis), f"{ctx.key}-spectrum.png"),
        ctx.save(direction_images(basis), f"{ctx.key}-directions.png"),
    ]
    return Section(
        ctx.key,
        "The Jacobian of the face model",
        "The Jacobian is far too large to write down, so we approximate it by SVD through its products.",
        lines,
        files,
    )


def _world_figures(ctx) -> list[str]:
    """The face world: each factor swept alone, and its named faces."""
    from ..faces import world
    from ..faces._figures import named_faces_figure, world_sweep_figure

    steps = 7
    sweep = world.render(world.sweep(steps).reshape(-1, len(world.FACTORS)))
    names = list(world.NAMED)
    return [
        ctx.save(world_sweep_figure(sweep, steps), f"{ctx.key}-world.png"),
        ctx.save(named_faces_figure(np.stack([world.face(n) for n in names]), names), f"{ctx.key}-named-faces.png"),
    ]


def edits_section(ctx):
    from ..diffusion._figures import grid_animation, image_grid

    s = ctx.settings
    xt = ctx.xt(s.source, s.t)
    basis = ctx.basis("source", xt, s.t, s.k)
    rows = [
        ctx.pipe.edit(v=basis.v[i], strengths=s.strengths, t=s.t, steps=s.steps, xt=xt) for i in range(s.n_directions)
    ]
    grid = np.stack(rows)
    labels, cols = [f"v{i + 1}" for i in range(s.n_directions)], [f"{g:+g}" for g in s.strengths]
    if ctx.world:
        fx = ctx.effects("source", xt, s.t, basis)
        labels = [f"v{i + 1}: {fx.factor[i]} ({fx.purity[i]:.2f})" for i in range(s.n_directions)]
    files = [
        ctx.save(
            image_grid(grid, labels, cols, f"{ctx.face_name(s.source)}: x_t + γ·vᵢ, then DDIM to 0"),
            f"{ctx.key}-edits.png",
        )
    ]
    files.append(ctx.animate(grid_animation(grid, labels, cols), f"{ctx.key}-edits.gif", fps=3))
    mid = list(s.strengths).index(0.0) if 0.0 in s.strengths else None
    lines = [f"Strengths γ = {', '.join(cols)} along the top {s.n_directions} right singular vectors, at t = {s.t}."]
    if mid is not None:
        change = [float(np.abs(grid[i] - grid[i, mid]).mean(axis=(-2, -1)).max()) for i in range(s.n_directions)]
        lines.append(
            "Largest mean pixel change per direction: " + ", ".join(f"v{i + 1} {c:.3f}" for i, c in enumerate(change))
        )
    return Section(
        ctx.key,
        "Edits along the top directions",
        "Move x_t along a singular direction and denoise: the face changes the way the basis says.",
        lines,
        files,
    )


def transport_section(ctx):
    from ..diffusion._figures import image_grid
    from ..nets import transport

    s = ctx.settings
    t = s.t_transport
    xa = ctx.xt(s.source, t)
    ba = ctx.basis("source-transport", xa, t, s.k)
    rows = [ctx.pipe.edit(v=ba.v[0], strengths=s.transport_strengths, t=t, steps=s.steps, xt=xa)]
    kept = []
    for j in s.targets:
        xb = ctx.xt(j, t)
        moved = transport(ba.u[0], ctx.basis(f"target-{j}", xb, t, s.k))
        kept.append((moved.kept, moved.gain))
        rows.append(ctx.pipe.edit(v=moved.v, strengths=s.transport_strengths, t=t, steps=s.steps, xt=xb))
    labels = [f"{ctx.face_name(s.source)} (source)"] + [ctx.face_name(j) for j in s.targets]
    file = ctx.save(
        image_grid(
            np.stack(rows),
            labels,
            [f"{g:+g}" for g in s.transport_strengths],
            f"direction 1 of {ctx.face_name(s.source)} carried to other faces (t = {t})",
        ),
        f"{ctx.key}-transport.png",
    )
    lines = [
        f"u₁ of {ctx.face_name(s.source)} lives in H. At each target it is projected onto the target's top-{s.k} tangent "
        "directions u'ᵢ and turned back into an x-step v = Σ (cᵢ/σ'ᵢ) v'ᵢ.",
        "Share of u₁ kept at each target, and how far h moves per unit step there (the source's σ₁ is "
        f"{float(ba.s[0]):.1f}): "
        + ", ".join(f"{ctx.face_name(j)}: {k:.2f} (gain {g:.1f})" for j, (k, g) in zip(s.targets, kept)),
        f"At t = {t} faces share most of their tangent spaces; nearer t = 0 each face has its own, and less survives.",
    ]
    return Section(
        ctx.key,
        "Parallel transport to other faces",
        "Carry the direction to other images: the same change, on a different face.",
        lines,
        [file],
    )


def generated_section(ctx):
    from ..diffusion._figures import image_grid

    s = ctx.settings
    pipe = ctx.pipe
    samples = pipe.sample(n=s.n_samples, seed=0, steps=s.steps, eta=s.sample_eta)
    cols = min(8, s.n_samples)
    grid = samples[: (s.n_samples // cols) * cols].reshape(-1, cols, *samples.shape[1:])
    files = [
        ctx.save(
            image_grid(grid, [""] * len(grid), [""] * cols, f"{s.n_samples} samples from {ctx.model_name}"),
            f"{ctx.key}-samples.png",
        )
    ]
    how = (
        "deterministic" if s.sample_eta == 0 else f"stochastic, with fresh noise at each step (eta = {s.sample_eta:g})"
    )
    lines = [f"New samples from noise, made by {ctx.model_name}: DDIM with {s.steps} steps, {how}."]
    made, story = _scary_to_friendly(ctx) if ctx.world else _carried_to_a_new_face(ctx)
    files.append(made)
    lines += story
    return Section(
        ctx.key,
        "The generated image",
        "On a count of three… this time I know it will be the exact image I want to make.",
        lines,
        files,
    )


def _scary_to_friendly(ctx) -> tuple[str, list[str]]:
    """The seeds' climax on the face world: the scary face, the expression direction carried to it, the friendly one."""
    from ..diffusion._figures import image_grid
    from ..faces import world
    from ..nets import transport

    s, pipe, t = ctx.settings, ctx.pipe, ctx.settings.t
    xs = ctx.xt(s.source, t)
    source = ctx.basis("source", xs, t, s.k)
    best = ctx.effects("source", xs, t, source).purest()["expression"]
    xt = ctx.xt("scary face", t)
    moved = transport(source.u[best["index"]], ctx.basis("scary", xt, t, s.k))
    gammas = [0.0] + [best["sign"] * g for g in s.story_strengths]  # the sign that raised expression on the source
    images = pipe.edit(v=moved.v, strengths=gammas, t=t, steps=s.steps, xt=xt)
    read = world.oracle().predict(images)
    target = world.named("friendly puppet")[0]
    distance = world.distance(read, "friendly puppet")
    i = int(np.argmin(distance))  # the closest of the steps tried; γ = 0 when none got closer
    e, b, o = (world.NAMES.index(n) for n in ("expression", "brow_angle", "eye_open"))
    made = ctx.save(
        image_grid(
            np.stack([images[0], images[i], world.face("friendly puppet")])[None],
            [""],
            ["scary face", f"carried, γ = {gammas[i]:+g}", "friendly puppet (wanted)"],
            "the image we meant to make",
        ),
        f"{ctx.key}-generated.png",
    )
    lines = [
        f"The scary face, inverted to t = {t}. On {ctx.face_name(s.source)} the direction that moves expression most "
        f"purely is v{best['index'] + 1} (expression's share {best['share']:.2f}); its u, carried to the scary face "
        f"(share kept {moved.kept:.2f}), and steps along it, denoised to t = 0.",
        "Expression as the oracle reads it (−1 frown … +1 smile): "
        + ", ".join(f"γ = {g:+g}: {read[j, e]:+.2f}" for j, g in enumerate(gammas))
        + f"; the friendly puppet is {target[e]:+.2f}.",
        (
            f"At γ = {gammas[i]:+g}, the closest to the friendly puppet over all {len(target)} factors: distance "
            if i
            else f"None of the steps got closer to the friendly puppet over all {len(target)} factors: distance "
        )
        + f"{distance[i]:.2f} spreads (from {distance[0]:.2f} before the step). Brow angle {read[i, b]:+.2f} "
        f"(wanted {target[b]:+.2f}), eye openness {read[i, o]:.2f} (wanted {target[o]:.2f}): one direction moves "
        "mostly one factor, and the puppet differs from the scary face in three.",
    ]
    return made, lines


def _carried_to_a_new_face(ctx) -> tuple[str, list[str]]:
    """On other models: a new sample stopped at t, a source face's direction 1 carried to it."""
    from ..diffusion._figures import image_grid
    from ..nets import transport

    s, pipe, t = ctx.settings, ctx.pipe, ctx.settings.t_transport
    ba = ctx.basis("source-transport", ctx.xt(s.source, t), t, s.k)
    xt = pipe.start_point(seed=s.seed, t=t, steps=s.steps, with_image=False).xt
    moved = transport(ba.u[0], ctx.basis(f"seed-{s.seed}", xt, t, s.k))
    strengths = (0.0, max(s.transport_strengths))
    pair = pipe.edit(v=moved.v, strengths=strengths, t=t, steps=s.steps, xt=xt)
    made = ctx.save(
        image_grid(
            pair[None],
            [f"seed {s.seed}"],
            ["as sampled", f"direction 1, γ = {strengths[1]:+g}"],
            "the image we meant to make",
        ),
        f"{ctx.key}-generated.png",
    )
    lines = [
        f"Then a new face (seed {s.seed}), stopped at t = {t}; direction 1 of {ctx.face_name(s.source)} carried to "
        f"it (share kept {moved.kept:.2f}), a step of γ = {strengths[1]:+g}, and DDIM down to the image.",
        f"Mean pixel change from the plain sample: {float(np.abs(pair[1] - pair[0]).mean()):.3f}",
    ]
    return made, lines


# ----------------------------------------------------------------------------- 18. over t
def evolution_section(ctx):
    """How the local basis changes as the noise dissolves, and against the other built-in model's (Park et al. §5)."""
    from ..diffusion import compare_models
    from ..diffusion._builtin import BUILTINS
    from ..exceptions import InputNote

    s = ctx.settings
    n = s.evolution_faces
    other = next((m for m in BUILTINS if m != ctx.model), None) if ctx.model in BUILTINS else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InputNote)  # the 25×25 real faces are resized to their model's size
        comparison = None
        if other is not None:
            comparison = compare_models(
                [ctx.model, other], s.evolution_ts, s.evolution_k, images=n, steps=s.steps, cache_dir=ctx.cache_dir
            )
            evolution = comparison.evolutions[0]
        else:
            faces = np.stack([ctx.start_image(i) for i in range(n)])
            evolution = ctx.pipe.basis_evolution(
                faces, s.evolution_ts, s.evolution_k, steps=s.steps, cache_dir=ctx.cache_dir
            )
    ts, k = evolution.ts, s.evolution_k
    step = [(ts[j], ts[j + 1], evolution.across_t[0, j, j + 1]) for j in range(len(ts) - 1)]
    lines = [
        f"The local basis of x_t ↦ h (k = {k}) of {ctx.face_name(0)} to {ctx.face_name(n - 1)} at t = "
        + ", ".join(f"{t:g}" for t in ts)
        + f", each warm-started from the one at the t before: {int(evolution.products.sum())} Jacobian products.",
        "Mean radial frequency of the directions, cycles per pixel: "
        + ", ".join(f"{f:.3f} at t = {t:g}" for t, f in zip(ts, evolution.mean_frequency))
        + ". Coarse changes while x_t is mostly noise, finer detail near the image (Park et al. 2023, §5).",
        f"Grassmann distance between the bases of {ctx.face_name(0)} at neighbouring t's: "
        + ", ".join(f"{a:g}→{b:g} {d:.2f}" for a, b, d in step)
        + f" (0: the same subspace; at most π/2·√k = {np.pi / 2 * np.sqrt(k):.2f}).",
        f"Homogeneity of the {n} faces' bases (1: every face has the same directions): "
        + ", ".join(f"{h:.2f} at t = {t:g}" for t, h in zip(ts, evolution.homogeneity)),
    ]
    files = [
        ctx.save(evolution.plot(), f"{ctx.key}-evolution.png"),
        ctx.save(evolution.plot("spectra"), f"{ctx.key}-spectra.png"),
    ]
    if comparison is not None and other is not None:
        d = comparison.distances
        first, last = f"t = {ts[0]:g}", f"t = {ts[-1]:g}"
        lines.append(
            f"Against {model_name(other)} on its own faces, directions resampled to "
            f"{comparison.size[0]}×{comparison.size[1]}: the mean distance between two faces' bases of "
            f"{ctx.model_name} is {d[0, 0, 0]:.2f} at {first} and {d[-1, 0, 0]:.2f} at {last}; of the other "
            f"{d[0, 1, 1]:.2f} and {d[-1, 1, 1]:.2f}; between a face of each {d[0, 0, 1]:.2f} and {d[-1, 0, 1]:.2f}. "
            "Models trained on different data have different local bases."
        )
        if "builtin-lfw" in (ctx.model, other):
            lines.append("The real-face model memorises its 100 training faces (docs/diffusion.md).")
        files.append(ctx.save(comparison.plot(), f"{ctx.key}-models.png"))
    return Section(
        ctx.key,
        "How the map changes as the noise dissolves",
        "The same question at every t: which directions does the model read? Coarse ones in the noise, "
        "fine ones near the image.",
        lines,
        files,
    )
