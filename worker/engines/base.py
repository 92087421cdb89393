"""What every engine shares: the generation parameters, the engine interface, errors, and
the small steps of running a diffusers pipeline (dtype, seed, step callback, frames)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from worker.contract import FRAME_STEP, SIZE_MULTIPLE

if TYPE_CHECKING:
    from PIL.Image import Image

StepCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class GenerationParams:
    prompt: str
    negative_prompt: str
    width: int
    height: int
    num_frames: int
    steps: int
    guidance_scale: float
    seed: int
    fps: int = 16
    image: Image | None = None  # the start image, already fitted to width x height


class Engine(Protocol):
    name: str  # "tiny", or the family of the real weights ("wan", "ltx")
    model: str  # the contract's model id

    def generate(self, params: GenerationParams, on_step: StepCallback) -> np.ndarray:
        """Frames as uint8 RGB, shape (num_frames, height, width, 3)."""


class WeightsMissing(RuntimeError):
    """The weights folder is absent or holds another model: the worker cannot serve it."""


class ModelUnavailable(RuntimeError):
    """The job asks for a model this worker does not serve (one endpoint per model)."""


def snap_size(value: int, multiple: int = SIZE_MULTIPLE) -> int:
    """For callers of an engine that bypass the job contract (benchmarks, tests)."""
    return max(multiple, round(value / multiple) * multiple)


def snap_frames(value: int, step: int = FRAME_STEP) -> int:
    return max(1, round((value - 1) / step)) * step + 1


def require_weights(weights_dir: Path, what: str) -> None:
    if not (weights_dir / "model_index.json").is_file():
        raise WeightsMissing(
            f"no diffusers weights in {weights_dir} (model_index.json missing); "
            f"set OPENV_WEIGHTS_DIR to a local {what} folder in diffusers format"
        )


def compute_dtype(device: str) -> Any:
    """bf16 on the GPU; on the CPU bf16 is slow and fp32 is the sensible choice."""
    import torch

    return torch.bfloat16 if device.startswith("cuda") else torch.float32


def seeded(seed: int) -> Any:
    import torch

    # A CPU generator: the same seed gives the same noise on any device.
    return torch.Generator(device="cpu").manual_seed(seed)


def step_reporter(on_step: StepCallback, total: int) -> Callable[..., dict[str, Any]]:
    """diffusers' `callback_on_step_end`, reporting 1..total."""

    def step_end(pipeline: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
        on_step(step + 1, total)
        return callback_kwargs

    return step_end


def to_uint8(frames: np.ndarray) -> np.ndarray:
    """diffusers' `output_type="np"` frames (floats in [0, 1]) as uint8."""
    return (np.clip(frames, 0.0, 1.0) * 255).round().astype(np.uint8)


def pipeline_arguments(params: GenerationParams, spec: Any, on_step: StepCallback) -> dict[str, Any]:
    """What every diffusers video pipeline here takes the same way: the prompts, the size and
    frame count snapped to the model's rules, steps, guidance, the seeded generator, NumPy
    output and per-step progress."""
    return {
        "prompt": params.prompt,
        "negative_prompt": params.negative_prompt or None,
        "width": snap_size(params.width, spec.size_multiple),
        "height": snap_size(params.height, spec.size_multiple),
        "num_frames": snap_frames(params.num_frames, spec.frame_step),
        "num_inference_steps": params.steps,
        "guidance_scale": params.guidance_scale,
        "generator": seeded(params.seed),
        "output_type": "np",
        "callback_on_step_end": step_reporter(on_step, params.steps),
    }
