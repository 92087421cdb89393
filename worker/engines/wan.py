"""Wan models through diffusers, loaded once per process from a local diffusers folder.

- `wan2.1-t2v-1.3b`: `WanPipeline` (Wan-AI/Wan2.1-T2V-1.3B-Diffusers), text only.
- `wan2.2-ti2v-5b`: one set of weights (Wan-AI/Wan2.2-TI2V-5B-Diffusers) for text and image.
  Its folder's `model_index.json` is a `WanPipeline` with `expand_timesteps: true`, which
  makes text-to-video; for image-to-video the same components go into a
  `WanImageToVideoPipeline(expand_timesteps=True)`, which encodes the start image with the
  VAE as the first latent frame and keeps that frame's timestep at 0 while the rest are
  denoised (Wan2.2 TI2V needs no CLIP image encoder). Nothing is loaded twice.

Both: bf16 transformer and text encoder on the GPU, fp32 VAE (fp32 everywhere on the CPU).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from worker.contract import DEFAULT_MODEL, MODEL_SPECS
from worker.engines.base import (
    GenerationParams,
    StepCallback,
    WeightsMissing,
    compute_dtype,
    pipeline_arguments,
    require_weights,
    to_uint8,
)

WEIGHTS = {
    "wan2.1-t2v-1.3b": "Wan2.1-T2V-1.3B",
    "wan2.2-ti2v-5b": "Wan2.2-TI2V-5B",
}


class DiffusersWanEngine:
    """A Wan pipeline from a local diffusers-format folder; loaded once, reused for every job."""

    def __init__(
        self,
        name: str,
        weights_dir: Path,
        device: str,
        first_block_cache: float = 0,
        compile_blocks: bool = False,
        model: str = DEFAULT_MODEL,
    ) -> None:
        import torch
        from diffusers import AutoencoderKLWan, WanImageToVideoPipeline, WanPipeline

        self.name, self.model, self.device = name, model, device
        self.spec = MODEL_SPECS[model]
        require_weights(weights_dir, WEIGHTS.get(model, model))
        vae = AutoencoderKLWan.from_pretrained(weights_dir, subfolder="vae", dtype=torch.float32)
        self.pipeline = WanPipeline.from_pretrained(weights_dir, vae=vae, dtype=compute_dtype(device)).to(device)
        self.pipeline.set_progress_bar_config(disable=True)
        # Wan2.2 TI2V is the model with per-token timesteps; Wan2.1 has none.
        if bool(self.pipeline.config.get("expand_timesteps", False)) != self.spec.accepts_image:
            raise WeightsMissing(
                f"the weights in {weights_dir} are not {WEIGHTS.get(model, model)} "
                f"(expand_timesteps is {self.pipeline.config.get('expand_timesteps', False)} in model_index.json)"
            )
        self.image_pipeline: Any = None
        if self.spec.accepts_image:
            parts = self.pipeline.components
            self.image_pipeline = WanImageToVideoPipeline(
                tokenizer=parts["tokenizer"],
                text_encoder=parts["text_encoder"],
                vae=parts["vae"],
                scheduler=parts["scheduler"],
                transformer=parts["transformer"],
                expand_timesteps=True,
            )
            self.image_pipeline.set_progress_bar_config(disable=True)
        if first_block_cache > 0:
            from diffusers.hooks import FirstBlockCacheConfig

            self.pipeline.transformer.enable_cache(FirstBlockCacheConfig(threshold=first_block_cache))
        if compile_blocks:
            self.pipeline.transformer.compile_repeated_blocks(fullgraph=True)

    def generate(self, params: GenerationParams, on_step: StepCallback) -> np.ndarray:
        import torch

        arguments = pipeline_arguments(params, self.spec, on_step)
        pipeline = self.pipeline
        if params.image is not None:
            if self.image_pipeline is None:
                raise ValueError(f"{self.model} takes no start image")
            pipeline, arguments["image"] = self.image_pipeline, params.image
        with torch.inference_mode():
            result = pipeline(**arguments)
        return to_uint8(result.frames[0])  # (frames, height, width, 3)
