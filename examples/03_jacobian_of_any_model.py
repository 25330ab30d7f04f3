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
# # 3. The Jacobian SVD of any PyTorch model
#
# "There are millions of neurons in that matrix… it's too many for them to calculate! They
# would have had to approximate it!"
#
# The seeds' method (after Park et al. 2023) needs three things:
#
# 1. a smooth map f: X → H, here from a network's input to the output of one of its layers
#    (its bottleneck, the "semantic space");
# 2. its Jacobian J = ∂f/∂x at an input x, never written down;
# 3. the top singular vectors of J: vᵢ (where to move in X) and uᵢ (what that does in H),
#    with J vᵢ = σᵢ uᵢ.
#
# svdlens reaches J only through Jacobian-vector products (J·v, forward mode) and
# vector-Jacobian products (Jᵀ·u, backward mode), and hands that operator to its certified
# Krylov SVD. This notebook builds a small convolutional model, takes its bottleneck with
# `sl.layer_map`, and checks σ against the full Jacobian from `torch.func.jacrev`.

# %%
# ruff: noqa: B018 (a bare name ending a cell is how a notebook shows it)
import numpy as np
import torch
from torch import nn

import svdlens as sl

torch.manual_seed(0)
torch.set_num_threads(1)


class TinyAutoencoder(nn.Module):
    """A small conv encoder–decoder: 1×16×16 images through an 8×4×4 bottleneck and back."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.SiLU(), nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.SiLU()
        )
        self.mid_block = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.Tanh())
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(8, 8, 4, stride=2, padding=1),
            nn.SiLU(),
            nn.ConvTranspose2d(8, 1, 4, stride=2, padding=1),
        )

    def forward(self, x):
        return self.decoder(self.mid_block(self.encoder(x)))


model = TinyAutoencoder().eval()
x = torch.rand(1, 1, 16, 16)
print("model output:", tuple(model(x).shape))

# %% [markdown]
# ## f: the map to the bottleneck
#
# `sl.layer_map(model, "mid_block")` is x ↦ the output of the submodule named `mid_block`: a
# forward hook takes it and stops the forward pass there. (For a diffusion U-Net it is
# `sl.layer_map(unet, "mid_block", timestep=600)`; keyword arguments go to the forward call.)

# %%
f = sl.layer_map(model, "mid_block")
h = f(x)
print("x:", tuple(x.shape), "→ h:", tuple(h.shape), f"({x.numel()} numbers in, {h.numel()} out)")

# %% [markdown]
# ## J: an operator, never a matrix
#
# `sl.jacobian(f, x)` is an `sl.Operator` of shape (h.numel(), x.numel()): its `matmat` pushes
# a block of vectors through J (batched JVPs), its `rmatmat` pulls a block back through Jᵀ
# (batched VJPs). It counts what it does.

# %%
J = sl.jacobian(f, x)
V = torch.randn(x.numel(), 3).numpy()
JV = J.matmat(V)
print("J:", J.shape, " J·V for 3 vectors:", JV.shape, " JVPs so far:", J.n_jvp, " mode:", J.jvp_mode)

# %% [markdown]
# ## The local basis: the top singular triplets of J
#
# `sl.local_basis(f, x, k)` runs the Krylov SVD on that operator. `b.v[i]` has x's shape (a
# direction to move the input in), `b.u[i]` has h's shape, `b.s` are the singular values, and
# each triplet carries a certified residual max(‖Jv − σu‖, ‖Jᵀu − σv‖)/σ₁.

# %%
b = sl.local_basis(f, x, k=6, tol=1e-6)
print("σ:", np.round(b.s.numpy(), 4))
print("residuals:", [f"{r:.1e}" for r in b.residuals.tolist()], " converged:", b.converged)
print("v:", tuple(b.v.shape), " u:", tuple(b.u.shape), f" JVPs {b.n_jvp}, VJPs {b.n_vjp}")
b

# %%
fig_spectrum = b.plot()
fig_spectrum

# %%
fig_directions = b.plot("directions")  # each vᵢ as an image (red +, blue −)
fig_directions

# %% [markdown]
# ## Check: against the full Jacobian
#
# This input is tiny (256 numbers in, 128 out), so the whole Jacobian can be written down with
# `torch.func.jacrev` and decomposed by LAPACK. The two must agree.

# %%
J_full = torch.func.jacrev(f)(x).detach().reshape(h.numel(), x.numel()).double().numpy()
S_full = np.linalg.svd(J_full, compute_uv=False)
print("σ, local_basis:", np.round(b.s.numpy(), 5))
print("σ, full J     :", np.round(S_full[: b.k], 5))
print(f"largest relative difference: {np.max(np.abs(b.s.numpy() - S_full[: b.k]) / S_full[0]):.1e}")
assert np.allclose(b.s.numpy(), S_full[: b.k], rtol=1e-4, atol=1e-5 * S_full[0])

# J v₁ = σ₁ u₁, written out with the full matrix:
v1, u1 = b.v[0].reshape(-1).double().numpy(), b.u[0].reshape(-1).double().numpy()
print(f"‖J v₁ − σ₁ u₁‖ / σ₁ = {np.linalg.norm(J_full @ v1 - b.s[0].item() * u1) / S_full[0]:.1e}")

# %% [markdown]
# ## Moving along v₁
#
# A step along v₁ moves h the most per unit step (by σ₁·step, along u₁); a step along a
# random direction moves it much less. To first order, f(x + ε v₁) − f(x) ≈ ε σ₁ u₁.

# %%
eps = 1e-2
rand = torch.randn_like(x)
rand = rand / rand.norm()
with torch.no_grad():
    h0 = f(x)
    step = (f(x + eps * b.v[0].reshape(x.shape)) - h0).reshape(-1)
    step_rand = (f(x + eps * rand) - h0).reshape(-1)
print(f"‖Δh‖ along v₁: {step.norm():.4f}   (ε σ₁ = {eps * b.s[0]:.4f})")
print(f"‖Δh‖ along a random unit direction: {step_rand.norm():.4f}")
print(f"cos(Δh, u₁) = {torch.nn.functional.cosine_similarity(step, b.u[0].reshape(-1), dim=0):.4f}")

# %% [markdown]
# ## The simpler step first: the weight matrix
#
# "Simplify it… could it be the weight matrix?" For a single layer, the directions it
# stretches most are the eigenvectors of WᵀW (SeFa, Shen & Zhou 2021):
# `sl.weight_directions(layer, k)` returns them (rows, descending).

# %%
lin = nn.Linear(6, 4)
Wd, lam = sl.weight_directions(lin, k=3, return_values=True)
Wt = lin.weight.detach().double().numpy()
print("eigenvalues of WᵀW:", np.round(lam.numpy(), 4))
print("σ² of W by LAPACK :", np.round(np.linalg.svd(Wt, compute_uv=False)[:3] ** 2, 4))

# %% [markdown]
# ## Parallel transport
#
# A direction u in H found at one input can be carried to another input x′: `sl.transport`
# finds the step v′ at x′ whose effect J′v′ is closest to u (by the target's basis, as Park et
# al. do). `kept` = cos(J′v′, u) says how much of u survives.

# %%
x2 = torch.rand(1, 1, 16, 16)
b2 = sl.local_basis(f, x2, k=6, tol=1e-6)
moved = sl.transport(b.u[0], b2)
print(f"u₁ of x carried to x′: kept {moved.kept:.3f}, gain {moved.gain:.3f} (σ₁ at x was {b.s[0]:.3f})")
