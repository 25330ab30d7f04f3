# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 4. The method on a diffusion model
#
# "On a count of three… I'm going to generate an image. But this time… I know it will be the
# exact image I want to make."
#
# Park et al. (2023) take a diffusion model's U-Net at a noise level t, the map
# f: x_t ↦ h (the output of its mid-block, the "semantic space"), and the top singular vectors
# of its Jacobian at one image's x_t. Moving x_t along v₁ and denoising edits the image; the
# matching u₁ in h can be carried to other images (parallel transport).
#
# This notebook runs it on the built-in model, which ships inside the package (safetensors,
# nothing downloaded): a 64×64 grayscale DDPM trained on an endless stream of faces rendered by
# `sl.faces.world`, a procedural face world with ten named factors (expression, brow angle,
# eye openness, mouth width, head position and size, light, skin, hair). No image was seen
# twice, and every image's factors are known, so a factor oracle shipped beside it can read
# what an edit changed: what a direction *means* becomes a number. (The earlier real-face
# model, which memorises its 100 training faces, is `sl.diffusion.load("builtin-lfw")`.)
#
# To stay quick on 2 CPU cores, every call here uses 20 DDIM steps (the library's default is
# 50) and small k.

# %%
# ruff: noqa: B018 (a bare name ending a cell is how a notebook shows it)
# %matplotlib inline
import numpy as np
import torch
from matplotlib.figure import Figure

import svdlens as sl

torch.set_num_threads(1)
STEPS, T = 20, 0.6

pipe = sl.diffusion.load("builtin")
print(type(pipe).__name__, f"{pipe.image_channels} channel(s), {pipe.image_size}×{pipe.image_size} pixels")


def image_row(images, titles, title=None):
    """A row of grayscale images as a matplotlib Figure (no pyplot)."""
    fig = Figure(figsize=(1.6 * len(images), 2.0))
    axes = fig.subplots(1, len(images), squeeze=False)[0]
    for ax, img, name in zip(axes, images, titles):
        ax.imshow(np.asarray(img).squeeze(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


# %% [markdown]
# ## Sampling, read by the factor oracle
#
# `pipe.sample` runs DDIM (eta = 0) with the model's own scheduler from seeded noise. The
# oracle (`sl.faces.world.oracle()`, a small regressor trained on renders) reads each sample's
# factors back.

# %%
samples = pipe.sample(n=4, seed=0, steps=STEPS)
oracle = sl.faces.world.oracle()
read = oracle.predict(samples)
for i, f in enumerate(read):
    print(f"sample {i}: " + ", ".join(f"{n} {v:+.2f}" for n, v in zip(sl.faces.world.NAMES[:3], f)))
fig_samples = image_row(samples, [f"sample {i}" for i in range(len(samples))], f"DDIM, {STEPS} steps")
fig_samples

# %% [markdown]
# ## Directions at one face: the local basis of x_t ↦ h
#
# `pipe.directions(image, t, k)` inverts the image to x_t by DDIM, then computes the top-k
# singular triplets of the Jacobian of x_t ↦ h there, matrix-free (JVPs and VJPs), with
# certified residuals. It is an `sl.LocalBasis`, as in notebook 3.

# %%
world = sl.faces.world
face = world.face("scary-face")[None]  # one of the seeds' two named faces
b = pipe.directions(face, t=T, k=4, steps=STEPS)
print("σ:", np.round(b.s.numpy(), 2), " residuals:", [f"{r:.0e}" for r in b.residuals.tolist()])
print(f"converged: {b.converged}; JVPs {b.n_jvp}, VJPs {b.n_vjp}")
b

# %%
fig_directions = b.plot("directions")
fig_directions

# %% [markdown]
# What does each direction mean? `pipe.factor_effects` applies each at ±γ, denoises, and lets
# the oracle read both faces: the change of every factor (in spreads per unit strength), the
# factor with the largest share of it, and that share (the direction's *purity*).

# %%
effects = pipe.factor_effects(b.v, face, t=T, steps=STEPS)
for label, factor, purity in zip(effects.labels, effects.factor, effects.purity):
    print(f"{label}: mostly {factor} (purity {purity:.2f})")
effects

# %% [markdown]
# ## An edit along v₁
#
# `pipe.edit(image, v, strengths, t)` denoises x_t + γ·v for each strength γ. Strength 0 is the
# plain round trip (inversion, then generation).

# %%
strengths = [-6, -3, 0, 3, 6]
grid = pipe.edit(face, b.v[0], strengths=strengths, t=T, steps=STEPS)
print("edit grid:", grid.shape)
fig_edit = image_row(grid, [f"γ = {s}" for s in strengths], "The scary face moved along v₁ at t = 0.6")
fig_edit

# %% [markdown]
# ## Parallel transport to other faces
#
# `pipe.transport(basis_from, i, targets)` carries direction i of one face (its u in h) to each
# target face's basis and returns, for each, an x_t-direction there (`.v`) and how much of u it
# reproduces (`.kept`).

# %%
others = {j: world.face(j)[None] for j in (10, 20)}  # two faces of the world's gallery
targets = [pipe.directions(img, t=T, k=4, steps=STEPS) for img in others.values()]
moved = pipe.transport(b, 0, targets)
for j, m in zip(others, moved):
    print(
        f"u₁ of the scary face at face {j}: kept {m.kept:.2f}, gain {m.gain:.2f} (σ₁ at the scary face: {b.s[0]:.2f})"
    )
carried = pipe.edit(others[10], moved[0].v, strengths=[-6, 0, 6], t=T, steps=STEPS)
fig_transport = image_row(carried, ["γ = −6", "γ = 0", "γ = 6"], "The scary face's direction, carried to face 10")
fig_transport

# %% [markdown]
# ## How the basis changes with t
#
# `pipe.basis_evolution(image, ts, k)` computes the basis at each t (descending, each
# warm-started from the one before) and the Grassmann distances between them: coarse
# directions at large t, finer ones near 0.

# %%
ev = pipe.basis_evolution(face, ts=[0.8, 0.6, 0.4], k=3, steps=STEPS)
print("t:", ev.ts, " products per basis:", ev.products.tolist())
print("Grassmann distances across t:\n", np.round(ev.across_t[0], 3))
print("mean radial frequency per t:", np.round(ev.mean_frequency, 3))
ev

# %%
fig_evolution = ev.plot()
fig_evolution

# %% [markdown]
# ## A local edit: the mouth only
#
# LOCO Edit (Chen et al. 2024) asks for directions that change one region and leave the rest
# alone: the top singular vectors of the Jacobian of x̂₀ inside a mask, projected away from the
# top-r directions that change the outside. `ld.leakage` is the share of each direction's
# first-order change that still falls outside (`ld.leakage_before` without the projection).
# The box (22, 38, 42, 50) is (x0, y0, x1, y1) in the model's 64×64 pixels: the mouth. With
# 20 steps and small k and r the numbers here are rough; docs/local-edits.md has measured ones.

# %%
box = (22, 38, 42, 50)
ld = pipe.local_directions(face, mask=box, t=T, k=2, r=5, steps=STEPS)
print("σ inside:", np.round(ld.s.numpy(), 3))
print("leakage before:", np.round(ld.leakage_before.numpy(), 3), " after:", np.round(ld.leakage.numpy(), 3))
ld

# %%
mouth = pipe.edit(face, ld.v[0], strengths=[-8, 0, 8], t=T, steps=STEPS)
fig_mouth = image_row(mouth, ["γ = −8", "γ = 0", "γ = 8"], f"Local direction 1, mask {box}")
fig_mouth
