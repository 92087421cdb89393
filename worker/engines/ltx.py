"""LTX-Video (0.9.5 and later, here its distilled checkpoints) through diffusers'
`LTXConditionPipeline`, loaded once per process from a local diffusers folder.

One pipeline for both modes: with no condition it is text-to-video; with `image=` (and
`frame_index=0`) the start image is VAE-encoded as the first latent frame and held as a
condition. `LTXPipeline`/`LTXImageToVideoPipeline` are the 0.9.0/0.9.1 pair: they lack the
explicit timestep list and image-condition noise the distilled checkpoints are run with.

The distilled model needs no classifier-free guidance (guidance 1.0) and 8 steps on its own
timestep schedule (the one diffusers' LTX docs give for the distilled checkpoint); another
step count takes the pipeline's default linear-quadratic schedule.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from worker.contract import MODEL_SPECS
from worker.engines.base import (
    GenerationParams,
    StepCallback,
    compute_dtype,
    pipeline_arguments,
    require_weights,
    to_uint8,
)

DISTILLED_TIMESTEPS = [1000, 993, 987, 981, 975, 909, 725, 0.03]
DECODE_TIMESTEP = 0.05  # used by VAEs with timestep conditioning (0.9.1 and later)
DECODE_NOISE_SCALE = 0.025
GUIDANCE_RESCALE = 0.7  # only matters when guidance > 1


class DiffusersLTXEngine:
    def __init__(self, name: str, weights_dir: Path, device: str, model: str = "ltx-video-distilled") -> None:
        from diffusers import LTXConditionPipeline

        self.name, self.model, self.device = name, model, device
        self.spec = MODEL_SPECS[model]
        require_weights(weights_dir, "LTX-Video distilled")
        self.pipeline = LTXConditionPipeline.from_pretrained(weights_dir, dtype=compute_dtype(device)).to(device)
        self.pipeline.set_progress_bar_config(disable=True)

    def generate(self, params: GenerationParams, on_step: StepCallback) -> np.ndarray:
        import torch

        arguments = pipeline_arguments(params, self.spec, on_step) | {
            "frame_rate": params.fps,
            "guidance_rescale": GUIDANCE_RESCALE if params.guidance_scale > 1 else 0.0,
            "decode_timestep": DECODE_TIMESTEP,
            "decode_noise_scale": DECODE_NOISE_SCALE,
            "image_cond_noise_scale": 0.0,
        }
        if params.steps == len(DISTILLED_TIMESTEPS):
            arguments["timesteps"] = DISTILLED_TIMESTEPS
        if params.image is not None:
            arguments["image"], arguments["frame_index"] = params.image, 0
        with torch.inference_mode():
            result = self.pipeline(**arguments)
        return to_uint8(result.frames[0])
