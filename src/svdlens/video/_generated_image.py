"""Scene 8, the generated image: noise dissolving into a face, one DDIM step at a time, with x̂0 beside x_t."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from manim import FadeIn, Group, Rectangle, Scene, UpdateFromAlphaFunc, VGroup, Write, linear

import svdlens as sl

from .._threads import one_torch_thread
from ._check import MAX_STEPS, check_count
from ._diffusion import builtin_pipeline, library_default, resize_notes_silenced
from ._draw import GREY, HIGHLIGHT, LEFT, WHITE, caption, frame_box, image, number, set_pixels, text, title, to_rgba


@dataclass(frozen=True)
class GeneratedImageNumbers:
    """The numbers of the generated-image scene.

    Attributes
    ----------
    seed : the noise's seed (``torch.Generator().manual_seed(seed)``).
    steps : DDIM steps.
    timesteps : (steps + 1,) the timestep of each state, from the top (pure noise) down to 0 (the image).
    noise : the model-space noise x_T the walk starts from (a torch tensor, (1, C, H, W)).
    images : (steps + 1, H, W) (or (steps + 1, C, H, W)) ``pipe.to_images(x)`` after 0, 1, …
        steps: noise first, the generated image last, in [0, 1].
    predictions : like ``images``: x̂0, the clean image the model predicts at each state (the
        scheduler's ``pred_original_sample`` of the step that starts there); the last is the
        generated image itself. A face shows here long before it shows in x_t.
    """

    seed: int
    steps: int
    timesteps: np.ndarray
    noise: torch.Tensor
    images: np.ndarray
    predictions: np.ndarray

    @property
    def final(self) -> np.ndarray:
        """The generated image: ``pipe.generate(noise, t=1.0, steps=steps)[0]``."""
        return self.images[-1]


def generated_image_numbers(seed: int = 0, steps: int | None = None) -> GeneratedImageNumbers:
    """Every state of one DDIM sampling walk of the built-in DDPM, from noise to a face.

    The walk takes the timesteps ``pipe.schedule(steps)`` from the top down, one
    deterministic DDIM step each (Song et al. 2021, η = 0), so that its last image is
    ``pipe.generate(noise, t=1.0, steps=steps)``.

    Parameters
    ----------
    seed : int
        Seed of the starting noise.
    steps : int, optional
        DDIM steps, 1 to :data:`~svdlens.video._check.MAX_STEPS`; default the library's.

    Examples
    --------
    >>> from svdlens.video import generated_image_numbers
    >>> n = generated_image_numbers(steps=10)
    >>> n.images.shape, int(n.timesteps[0]), int(n.timesteps[-1])
    ((11, 64, 64), 900, 0)
    """
    pipe = builtin_pipeline()
    seed = check_count("seed", seed, 0, 2**63 - 1)
    steps = check_count("steps", library_default(pipe.generate, "steps") if steps is None else steps, 1, MAX_STEPS)
    with resize_notes_silenced():
        like = pipe.to_model(sl.faces.builtin()[:1])  # model space: its shape (1, C, H, W) and device
    noise = torch.randn(tuple(like.shape), generator=torch.Generator().manual_seed(seed)).to(like.device)
    images, predictions, timesteps = [pipe.to_images(noise)[0]], [], []
    with torch.no_grad(), one_torch_thread():
        for s, x, x0 in pipe.denoise_states(noise, 1.0, steps, with_x0=True):
            timesteps.append(s)
            images.append(pipe.to_images(x)[0])
            predictions.append(pipe.to_images(x0)[0])
    timesteps.append(0)  # the last state is the image itself, and its own prediction
    predictions.append(images[-1])
    return GeneratedImageNumbers(seed, steps, np.array(timesteps), noise, np.stack(images), np.stack(predictions))


class GeneratedImageScene(Scene):
    """The generated image: noise dissolving into a face, step by DDIM step — the script's climax.

    The script: "Alright then… on a count of three…. I'm going to generate an image. But this
    time… I know it will be the exact image I want to make. … [static, then just as image
    generates, intermezzo big part plays] … just adds the noise dissolves away". Pure noise
    x_T, then each DDIM step of the built-in DDPM in turn, with the timestep counting down,
    until the generated face. Beside x_t, x̂0: the clean image the model predicts at that
    step. x_t is still noise at t = 300; x̂0 shows the face forming from the first steps.

    Test hook: ``face_mob`` is x_t, ``prediction_mob`` is x̂0; at the end both show
    ``numbers.final``.

    Parameters
    ----------
    seed : int
        Seed of the starting noise.
    steps : int, optional
        DDIM steps; default the library's.
    """

    def __init__(self, seed: int = 0, steps: int | None = None, **kwargs):
        self.numbers = generated_image_numbers(seed, steps)
        self.face_mob = None
        self.prediction_mob = None
        super().__init__(**kwargs)

    def construct(self):
        n = self.numbers
        frames = [to_rgba(im, 0.0, 1.0) for im in n.images]
        guesses = [to_rgba(im, 0.0, 1.0) for im in n.predictions]
        self.play(Write(title("One, two, three: generate")), run_time=0.5)
        up = np.array([0.0, 1.0, 0.0])
        self.face_mob = image(frames[0], 3.9).move_to(np.array([-4.4, -0.4, 0.0]))
        self.prediction_mob = image(guesses[0], 3.9).move_to(np.array([-0.2, -0.4, 0.0]))
        labels = VGroup(
            text("x_t: the sample", 24, WHITE).next_to(self.face_mob, up, buff=0.2),
            text("x̂0: the model's guess", 24, HIGHLIGHT).next_to(self.prediction_mob, up, buff=0.2),
        )
        self.add(frame_box(self.face_mob, GREY), frame_box(self.prediction_mob, HIGHLIGHT))
        last = len(frames) - 1
        right = np.array([1.0, 0.0, 0.0])
        t_value = number(n.timesteps[0], 0, 30, WHITE)
        counter = VGroup(text("t =", 30, WHITE), t_value).arrange(right, buff=0.15).move_to(np.array([4.6, 1.2, 0.0]))
        step_value = number(last, 0, 22, GREY, edge=right)  # laid out at its widest; grows to the left
        step_label = VGroup(text("DDIM step", 22, GREY), step_value, text(f"of {last}", 22, GREY))
        step_label.arrange(right, buff=0.12).move_to(np.array([4.6, 0.6, 0.0]))
        step_value.set_value(0)
        track = Rectangle(width=3.2, height=0.16, color=GREY, stroke_width=1).move_to(np.array([4.6, 0.0, 0.0]))
        bar = Rectangle(width=3.2, height=0.16, color=HIGHLIGHT, fill_opacity=1, stroke_width=0)
        bar.stretch_to_fit_width(0.001).move_to(track.get_left(), aligned_edge=LEFT)
        self.play(
            FadeIn(self.face_mob),
            FadeIn(self.prediction_mob),
            FadeIn(labels),
            FadeIn(counter),
            FadeIn(step_label),
            FadeIn(track),
            run_time=0.5,
        )
        self.add(bar)

        def walk(group, alpha):
            i = min(last, int(round(alpha * last)))
            set_pixels(self.face_mob, frames[i])
            set_pixels(self.prediction_mob, guesses[i])
            t_value.set_value(int(n.timesteps[i]))
            step_value.set_value(i)
            bar.stretch_to_fit_width(max(3.2 * i / max(last, 1), 0.001)).move_to(track.get_left(), aligned_edge=LEFT)
            return group

        # the pictures, the counters and the bar change on every frame, so all are the animation's
        changing = Group(self.face_mob, self.prediction_mob, t_value, step_value, bar)
        self.play(UpdateFromAlphaFunc(changing, walk), run_time=3.5, rate_func=linear)
        walk(changing, 1.0)  # the last step exactly, whatever the rate function ended on
        self.play(FadeIn(caption("The noise dissolves away: the generated face", 26, HIGHLIGHT)), run_time=0.4)
        self.wait(0.8)


__all__ = ["GeneratedImageNumbers", "generated_image_numbers", "GeneratedImageScene"]
