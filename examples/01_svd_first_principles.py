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
# # 1. The SVD from first principles: a 2×2 story
#
# The seeds start small: "Simplify it… look at a matrix that is simpler to understand than the
# Jacobian… the weight matrix." This notebook follows their order on one 2×2 matrix,
#
# $$W = \begin{pmatrix} 0.4 & 0.2 \\ 1 & 3 \end{pmatrix}, \qquad x = (2, 1),$$
#
# 1. each output is a **dot product** of a row with the input ("0.4·2 + 0.2·1 = 1");
# 2. **WᵀW** compares inputs with inputs;
# 3. its **eigenvectors stay on their line**;
# 4. W = U Σ Vᵀ: **rotate, scale, rotate**;
# 5. **u = Av/σ**: the output directions follow from the input ones.
#
# `sl.explain` computes every step as plain numbers (and draws them); `sl.svd` is the engine
# that later handles matrices far too large to write down.

# %%
# ruff: noqa: B018 (a bare name ending a cell is how a notebook shows it)
import numpy as np

import svdlens as sl
from svdlens.scenes import SCENES

np.set_printoptions(precision=4, suppress=True)

W = np.array([[0.4, 0.2], [1.0, 3.0]])
x = np.array([2.0, 1.0])
ex = sl.explain(W, vector=x)
print([scene.name for scene in ex.scenes])

# %% [markdown]
# ## Outputs are dot products
#
# Matrix times vector: each output component is one row of W dotted with x. The dot product
# measures how much one vector goes along another, |a||b|cos θ: largest for parallel vectors,
# zero for orthogonal ones.

# %%
proj = ex["projection"]
for i, (row, y) in enumerate(zip(W, proj.y), start=1):
    print(f"y{i} = {row[0]:g}·{x[0]:g} + {row[1]:g}·{x[1]:g} = {y:g}")
assert np.allclose(proj.y, W @ x)
print("\n".join(ex["dot_products"].lines))

# %%
fig_projection = SCENES["projection"].draw(proj)
fig_projection

# %% [markdown]
# ## Inputs with inputs: WᵀW
#
# "A matrix's input features… with its own input features." Wᵀ moves the columns (the input
# basis vectors) to the rows, so entry (i, j) of WᵀW is column i of W dotted with column j:
# how input i and input j are used together. WWᵀ does the same for the outputs.

# %%
iwi = ex["inputs_with_inputs"]
print("WᵀW =\n", iwi.WtW)
print("WWᵀ =\n", iwi.WWt)
print(f"(WᵀW)[1,2] = column 1 · column 2 = {W[:, 0] @ W[:, 1]:g}")
fig_wtw = SCENES["inputs_with_inputs"].draw(iwi)
fig_wtw

# %% [markdown]
# ## Eigenvectors stay on their line
#
# "What vectors… preserve?" Most vectors turn when WᵀW acts on them. Its eigenvectors only
# stretch: WᵀW v = λ v. They are orthogonal (WᵀW is symmetric), and the top one is the input
# direction W stretches most.

# %%
eig = ex["eigenvectors"]
G = eig.G
for lam, v in zip(eig.eigenvalues, eig.eigenvectors.T):
    print(f"λ = {lam:.4f}, v = {v}, WᵀW v = {G @ v} = λ·v: {np.allclose(G @ v, lam * v)}")
print(f"largest turn of a vector on the circle: {np.abs(eig.turn_degrees).max():.1f}°")
fig_eig = SCENES["eigenvectors"].draw(eig)
fig_eig

# %% [markdown]
# ## Rotate, scale, rotate
#
# W = U Σ Vᵀ: Vᵀ turns the eigenvectors of WᵀW onto the axes, Σ stretches each axis by a
# singular value σ = √λ, and U turns the result into place. The last step lands exactly where W
# sends each point.

# %%
rsr = ex["rotate_scale_rotate"]
print("\n".join(rsr.lines))
print("σ² =", rsr.S**2, " eigenvalues of WᵀW =", eig.eigenvalues)
assert np.allclose(rsr.U @ np.diag(rsr.S) @ rsr.Vt, W)
fig_rsr = SCENES["rotate_scale_rotate"].draw(rsr)
fig_rsr

# %% [markdown]
# ## u = Av/σ
#
# Multiply WᵀW v = σ² v by W: WWᵀ (W v) = σ² (W v). So W v is an eigenvector of WWᵀ, of length
# σ: it is σ u. The output directions come for free from the input ones.

# %%
ufv = ex["u_from_v"]
print("\n".join(ufv.lines))
fig_ufv = SCENES["u_from_v"].draw(ufv)
fig_ufv

# %% [markdown]
# ## The same numbers from the engine
#
# `sl.svd` returns U, S, Vᵀ with certified residuals max(‖Av − σu‖, ‖Aᵀu − σv‖)/σ₁ and says
# whether it converged. In Jupyter the result shows itself as a table (its `_repr_html_`).

# %%
res = sl.svd(W)
print("S =", res.S, f" max residual = {res.residuals.max():.1e}", " converged =", res.converged)
for i in range(len(res.S)):
    v = res.Vt[i]
    print(f"u{i + 1} = W v{i + 1} / σ{i + 1} = {W @ v / res.S[i]}  (res.U[:, {i}] = {res.U[:, i]})")
    assert np.allclose(W @ v / res.S[i], res.U[:, i])
assert np.allclose(res.S, rsr.S)
res

# %%
fig_spectrum = res.plot()
fig_spectrum

# %% [markdown]
# ## Beyond 2×2: only products are needed
#
# Nothing above needed W written down, only W·X and Wᵀ·Y. An `sl.Operator` gives just those,
# and the Krylov method finds the top singular triplets of a 2000×500 matrix from a few
# products: the same tool will later reach the Jacobian of a network.

# %%
A = np.random.default_rng(0).standard_normal((2000, 500))
op = sl.Operator(A.shape, matmat=lambda X: A @ X, rmatmat=lambda Y: A.T @ Y)
big = sl.svd(op, k=5, method="krylov", tol=1e-8)
print("top 5 σ:", big.S, " products:", big.n_matvec, " converged:", big.converged)
print("LAPACK  :", np.linalg.svd(A, compute_uv=False)[:5])

# %% [markdown]
# The whole story as text (the same numbers, written out):

# %%
print(ex.text())
