"""The models a worker can serve, and each one's bounds: the registry the job contract
(contract.py) checks every job against. Torch-free, imported by the web app too."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class ModelSpec:
    """One model a worker can serve: what it takes and the bounds of every setting.

    `num_frames` is `frame_step * k + 1` (the VAE's temporal compression); width and height are
    multiples of `size_multiple` (spatial compression times the transformer's patch size).
    """

    id: str
    name: str
    description: str
    family: Literal["wan", "ltx"]  # the engine that runs it (worker/engines/)
    accepts_image: bool  # takes a start image (the video's first frame)
    accepts_text_only: bool  # runs without one
    size_multiple: int
    min_size: int
    max_size: int
    default_width: int
    default_height: int
    frame_step: int
    min_frames: int
    max_frames: int
    default_frames: int
    min_steps: int
    max_steps: int
    default_steps: int
    min_guidance: float
    max_guidance: float
    default_guidance: float
    min_fps: int
    max_fps: int
    default_fps: int

    def defaults(self) -> dict[str, Any]:
        """The settings a request for this model leaves out."""
        return {
            "width": self.default_width,
            "height": self.default_height,
            "num_frames": self.default_frames,
            "fps": self.default_fps,
            "steps": self.default_steps,
            "guidance_scale": self.default_guidance,
        }

    def frame_examples(self) -> str:
        return ", ".join(str(self.frame_step * k + 1) for k in (3, 6, 12) if self.frame_step * k + 1 <= self.max_frames)


MODEL_SPECS: dict[str, ModelSpec] = {
    spec.id: spec
    for spec in (
        ModelSpec(
            id="wan2.1-t2v-1.3b",
            name="Wan2.1 T2V 1.3B",
            description="Text to video at 480p, 16 fps; small and quick.",
            family="wan",
            accepts_image=False,
            accepts_text_only=True,
            size_multiple=16,
            min_size=128,
            max_size=1280,
            default_width=832,
            default_height=480,
            frame_step=4,
            min_frames=5,
            max_frames=161,
            default_frames=33,
            min_steps=1,
            max_steps=100,
            default_steps=30,
            min_guidance=0.0,
            max_guidance=20.0,
            default_guidance=5.0,
            min_fps=4,
            max_fps=30,
            default_fps=16,
        ),
        ModelSpec(
            id="wan2.2-ti2v-5b",
            name="Wan2.2 TI2V 5B",
            description="Text or a start image to video at 720p (1280x704), 24 fps.",
            family="wan",
            accepts_image=True,
            accepts_text_only=True,
            # Wan2.2's VAE compresses 16x in space (and 4x in time), the transformer patches 2x2.
            size_multiple=32,
            min_size=128,
            max_size=1280,
            default_width=1280,
            default_height=704,
            frame_step=4,
            min_frames=5,
            max_frames=121,
            default_frames=121,
            min_steps=1,
            max_steps=100,
            default_steps=50,
            min_guidance=0.0,
            max_guidance=20.0,
            default_guidance=5.0,
            min_fps=4,
            max_fps=30,
            default_fps=24,
        ),
        ModelSpec(
            id="ltx-video-distilled",
            name="LTX-Video distilled",
            description="Text or a start image to video in 8 steps, without guidance; the fastest.",
            family="ltx",
            accepts_image=True,
            accepts_text_only=True,
            # LTX-Video's VAE compresses 32x in space and 8x in time; its transformer patches 1x1.
            size_multiple=32,
            min_size=128,
            max_size=1280,
            default_width=768,
            default_height=512,
            frame_step=8,
            min_frames=9,
            max_frames=257,
            default_frames=121,
            min_steps=1,
            max_steps=20,
            default_steps=8,
            min_guidance=1.0,
            max_guidance=5.0,
            default_guidance=1.0,
            min_fps=8,
            max_fps=30,
            default_fps=24,
        ),
    )
}
MODELS = tuple(MODEL_SPECS)  # the first is the default
DEFAULT_MODEL = MODELS[0]
