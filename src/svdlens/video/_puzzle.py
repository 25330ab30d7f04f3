"""Scene 6, the eigenface puzzle: a face is the mean face plus Σ cᵢ · eigenfaceᵢ, dialled in one by one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from manim import FadeIn, Group, Scene, SurroundingRectangle, UpdateFromAlphaFunc, VGroup, Write, smooth

import svdlens as sl

from ._check import MAX_PIECES, check_count
from ._draw import DOWN, GREY, HIGHLIGHT, UP, WHITE, caption, frame_box, image, number, set_pixels, text, title, to_rgba


@dataclass(frozen=True)
class PuzzleNumbers:
    """The numbers of the puzzle scene.

    Attributes
    ----------
    index : which built-in face (of ``sl.faces.builtin()``).
    k : how many eigenface coefficients are dialled in.
    face : (h, w) the face, as stored (in [0, 1]).
    mean_face : (h, w) ``Eigenfaces.mean_face_``.
    eigenfaces : (k, h, w) ``Eigenfaces.eigenfaces_``.
    coefficients : (k,) ``Eigenfaces.transform(face)``: the puzzle's values.
    partial : (k + 1, h, w) the face after 0, 1, …, k pieces: the mean face, then
        ``Eigenfaces.reconstruct(face, j)`` for j = 1…k. ``partial[-1]`` is the answer.
    vmin, vmax : the grey range every stage of the face is drawn in.

    The eigenfaces are fitted with ``Eigenfaces(n_components=k)`` on the 100 built-in faces;
    reconstructions live in its normalised space (each image standardised).
    """

    index: int
    k: int
    face: np.ndarray
    mean_face: np.ndarray
    eigenfaces: np.ndarray
    coefficients: np.ndarray
    partial: np.ndarray
    vmin: float
    vmax: float


def puzzle_numbers(k: int = 6, index: int = 0) -> PuzzleNumbers:
    """The puzzle's numbers: eigenfaces of the built-in faces, and one face rebuilt piece by piece.

    Parameters
    ----------
    k : int
        Coefficients to dial in, 1 to :data:`~svdlens.video._check.MAX_PIECES`.
    index : int
        Which of the 100 built-in faces.

    Examples
    --------
    >>> import numpy as np, svdlens as sl
    >>> from svdlens.video import puzzle_numbers
    >>> n = puzzle_numbers(k=4)
    >>> ef = sl.Eigenfaces(n_components=4).fit(sl.faces.builtin())
    >>> bool(np.array_equal(n.partial[-1], ef.reconstruct(sl.faces.builtin()[:1], 4)[0]))
    True
    """
    k = check_count("k", k, 1, MAX_PIECES)
    faces = sl.faces.builtin()
    index = check_count("index", index, 0, len(faces) - 1)
    ef = sl.Eigenfaces(n_components=k).fit(faces)
    one = faces[index : index + 1]
    coefficients = ef.transform(one)[0]
    partial = np.stack([ef.mean_face_] + [ef.reconstruct(one, j)[0] for j in range(1, k + 1)])
    return PuzzleNumbers(
        index,
        k,
        np.asarray(faces[index]),
        ef.mean_face_,
        ef.eigenfaces_,
        coefficients,
        partial,
        float(partial.min()),
        float(partial.max()),
    )


def face_pixels(numbers: PuzzleNumbers, j: int, alpha: float = 1.0) -> np.ndarray:
    """RGBA pixels of the face with pieces 1…j−1 in place and piece j dialled in to ``alpha``.

    ``alpha = 1`` is ``partial[j]`` exactly; in between, the face moves linearly, as the
    coefficient does.
    """
    if alpha >= 1:
        face = numbers.partial[j]
    else:
        face = numbers.partial[j - 1] + alpha * (numbers.partial[j] - numbers.partial[j - 1])
    return to_rgba(face, numbers.vmin, numbers.vmax)


class PuzzleScene(Scene):
    """The eigenface puzzle: coefficients dialled in one by one while the face forms.

    The script (2d): "U basis are the eigenfaces … linear combinations of them. it's a code; a
    puzzle. i just have to find the right values. (sound effects as input a value on each one,
    like in resident evil 4)". The eigenfaces stand in a row, each with its dial; as each
    coefficient turns from 0 to its value, the face in the middle (the mean face at first)
    takes that piece. At the end it is ``Eigenfaces.reconstruct(face, k)``.

    Test hook: ``face_mob`` is the face being formed; its pixels at the end are
    ``face_pixels(numbers, k)``.

    Parameters
    ----------
    k : int
        Coefficients (eigenfaces) to dial in.
    index : int
        Which built-in face.
    """

    def __init__(self, k: int = 6, index: int = 0, **kwargs):
        self.numbers = puzzle_numbers(k, index)
        self.face_mob = None
        super().__init__(**kwargs)

    def construct(self):
        n = self.numbers
        self.play(Write(title("The puzzle: a face = the mean face + Σ cᵢ · eigenfaceᵢ")), run_time=0.5)
        tile = min(1.25, 11.5 / n.k - 0.25)
        xs = (np.arange(n.k) - (n.k - 1) / 2) * (tile + 0.25)
        tiles, dials = [], []
        for i in range(n.k):
            e = n.eigenfaces[i]
            m = max(float(np.abs(e).max()), 1e-12)
            t = image(to_rgba(e, -m, m), tile).move_to(np.array([xs[i], 2.05, 0.0]))
            label = text(f"eigenface {i + 1}", 14, GREY).next_to(t, UP, buff=0.06)
            name = text(f"c{_sub(i + 1)} =", 18, WHITE)
            value = number(0.0, 2, 18, WHITE).next_to(name, np.array([1.0, 0.0, 0.0]), buff=0.1)
            dial = VGroup(name, value).next_to(t, DOWN, buff=0.1)
            tiles.append(t)
            dials.append(dial)
            self.add(t, frame_box(t), label, dial)
        big = 3.3
        self.face_mob = image(face_pixels(n, 0), big).move_to(np.array([0.0, -1.45, 0.0]))
        target = image(to_rgba(n.face, 0.0, 1.0), 1.6).move_to(np.array([4.6, -1.45, 0.0]))
        self.add(frame_box(self.face_mob, WHITE))
        left = np.array([-1.0, 0.0, 0.0])
        progress = text("the mean face, to start", 18, GREY).next_to(self.face_mob, left, buff=0.3)
        self.play(FadeIn(self.face_mob), FadeIn(progress), run_time=0.5)
        self.play(
            FadeIn(target),
            FadeIn(frame_box(target)),
            FadeIn(text("the face to find", 18, GREY).next_to(target, DOWN, buff=0.15)),
            run_time=0.4,
        )

        for i in range(n.k):
            j = i + 1
            light = SurroundingRectangle(tiles[i], color=HIGHLIGHT, buff=0.05)
            self.add(light)

            value = dials[i][1]
            dials[i].set_color(HIGHLIGHT)

            def dial_in(group, alpha, j=j, i=i, value=value):
                set_pixels(self.face_mob, face_pixels(n, j, alpha))
                value.set_value(alpha * n.coefficients[i])
                return group

            # both the face and the dial change on every frame, so both are the animation's
            self.play(UpdateFromAlphaFunc(Group(self.face_mob, value), dial_in), run_time=0.7, rate_func=smooth)
            set_pixels(self.face_mob, face_pixels(n, j))  # exactly partial[j], whatever the rate function ended on
            value.set_value(n.coefficients[i])
            dials[i].set_color(WHITE)
            piece = "piece" if j == 1 else "pieces"
            progress.become(text(f"the mean face + {j} {piece}", 18, GREY).next_to(self.face_mob, left, buff=0.3))
            self.remove(light)
        self.play(FadeIn(caption(f"{n.k} values found: the face, rebuilt from {n.k} eigenfaces", 24)), run_time=0.4)
        self.wait(0.5)


def _sub(j: int) -> str:
    return str(j).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


__all__ = ["PuzzleNumbers", "puzzle_numbers", "face_pixels", "PuzzleScene"]
