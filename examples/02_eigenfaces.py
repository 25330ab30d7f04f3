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
# # 2. Eigenfaces: the U basis of many faces
#
# "U basis are the eigenfaces. Linear combinations of them. It's a code; a puzzle."
#
# Stack 100 face images as the rows of a matrix X (one row per face, one column per pixel).
# The top right singular vectors of the centred X, each reshaped to an image, are the
# **eigenfaces** (Turk & Pentland 1991): the directions in which faces vary most, the
# eigenvectors of XᵀX ("pixels with pixels"). Every face is then the mean face plus a weighted
# sum of eigenfaces, and its weights are the pieces of the puzzle.
#
# The built-in faces are scikit-image's LFW subset (`skimage.data.lfw_subset()`: 100 faces and
# 100 non-face crops, 25×25, shipped in the scikit-image wheel; nothing is downloaded).

# %%
# ruff: noqa: B018 (a bare name ending a cell is how a notebook shows it)
# %matplotlib inline
import numpy as np
from matplotlib.figure import Figure

import svdlens as sl
from svdlens.faces import detect_faces, solve_puzzle

X = sl.faces.builtin()  # (100, 25, 25) in [0, 1]
N = sl.faces.builtin(kind="nonfaces")  # 100 crops of other things
print("faces:", X.shape, X.dtype, f"[{X.min():.2f}, {X.max():.2f}]", " non-faces:", N.shape)


def image_row(images, titles, title=None):
    """A row of grayscale images as a matplotlib Figure (no pyplot)."""
    fig = Figure(figsize=(1.6 * len(images), 2.0))
    axes = fig.subplots(1, len(images), squeeze=False)[0]
    for ax, img, name in zip(axes, images, titles):
        ax.imshow(img, cmap="gray", interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


fig_faces = image_row(X[:8], [f"face {i}" for i in range(8)], "The built-in faces (LFW subset)")
fig_faces

# %% [markdown]
# ## Fit: the eigenfaces
#
# `sl.Eigenfaces` is a scikit-learn-style estimator on the svdlens SVD engine. By default each
# image is first standardised (zero mean, unit standard deviation), so lighting and contrast
# do not dominate; reconstructions live in that normalised space.

# %%
ef = sl.Eigenfaces(n_components=30).fit(X)
ratio = ef.explained_variance_ratio_
print("eigenfaces:", ef.eigenfaces_.shape, " mean face:", ef.mean_face_.shape)
print("share of the variance, first 5:", np.round(ratio[:5], 3))
for k in (1, 5, 10, 20, 30):
    print(f"  first {k:2d} eigenfaces explain {ratio[:k].sum():.1%}")
ef

# %%
fig_eigenfaces = ef.plot("eigenfaces")
fig_eigenfaces

# %%
fig_scree = ef.plot("spectrum")
fig_scree

# %% [markdown]
# ## The puzzle: a face from k pieces
#
# `ef.transform` gives each face its coefficients cᵢ (the dot products of the centred face with
# each eigenface); `ef.reconstruct(X, k)` puts the face back together from the first k of them:
# face ≈ mean + Σᵢ≤ₖ cᵢ·eigenfaceᵢ. More pieces, a closer face.

# %%
face = X[3]
C = ef.transform(face[None])
print("the first 8 pieces of face 3:", np.round(C[0, :8], 2))
ks = (1, 2, 5, 10, 20, 30)
rebuilt = {k: ef.reconstruct(face[None], k=k)[0] for k in ks}
puzzle = solve_puzzle(ef, face)
print(puzzle.text())
for k in ks:
    print(f"  k = {k:2d}: relative error {puzzle.errors[k - 1]:.3f}")
fig_puzzle = image_row(
    [*rebuilt.values(), puzzle.face], [f"k = {k}" for k in ks] + ["face"], "The puzzle: face 3 from k eigenfaces"
)
fig_puzzle

# %% [markdown]
# ## Distance from face space
#
# Face space is the span of the first few eigenfaces around the mean face. A face lies close
# to it; a crop of something else does not. The distance from face space (the part of an
# image the eigenfaces cannot explain) tells them apart. To be fair, fit on faces 0–59 and
# test on the unseen faces 60–99 against the 100 non-faces.

# %%
ef_train = sl.Eigenfaces(n_components=20).fit(X[:60])
d_faces = ef_train.distance_from_face_space(X[60:])
d_nonfaces = ef_train.distance_from_face_space(N)
print(f"median distance: unseen faces {np.median(d_faces):.2f}, non-faces {np.median(d_nonfaces):.2f}")
det = detect_faces(ef_train, X[60:], N)
print(
    f"ROC AUC {det.auc:.3f}; threshold (95th percentile of faces) {det.threshold:.2f}; "
    f"non-faces inside it: {det.nonfaces_inside:.0%}"
)

# %%
fig_distance = Figure(figsize=(6, 3.2))
ax = fig_distance.subplots()
bins = np.linspace(0, max(d_faces.max(), d_nonfaces.max()), 30)
ax.hist(d_faces, bins=bins, alpha=0.7, label="unseen faces")
ax.hist(d_nonfaces, bins=bins, alpha=0.7, label="non-faces")
ax.axvline(det.threshold, color="black", lw=1, ls="--", label="threshold")
ax.set_xlabel("distance from face space (first 5 eigenfaces)")
ax.set_ylabel("images")
ax.legend()
fig_distance.tight_layout()
fig_distance

# %% [markdown]
# Next: the same SVD, but of a network's Jacobian, which is never written down
# (`03_jacobian_of_any_model.py`).
