"""Text-to-video engines behind one small interface.

- `wan`: diffusers' WanPipeline loaded once per process from a local weights folder
  (Wan2.1-T2V-1.3B in diffusers format): bf16 transformer and text encoder, fp32 VAE.
- `tiny`: the same pipeline class with tiny random weights, built offline in code, saved with
  `save_pretrained` and loaded back with `from_pretrained`, so tests exercise the production
  loading path. Nothing here downloads anything.
"""

from __future__ import annotations

import os
import string
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from worker.contract import FRAME_STEP, SIZE_MULTIPLE

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


class Engine(Protocol):
    name: str

    def generate(self, params: GenerationParams, on_step: StepCallback) -> np.ndarray:
        """Frames as uint8 RGB, shape (num_frames, height, width, 3)."""


class WeightsMissing(RuntimeError):
    pass


def snap_size(value: int) -> int:
    """For callers of the engine that bypass the job contract (benchmarks, tests)."""
    return max(SIZE_MULTIPLE, round(value / SIZE_MULTIPLE) * SIZE_MULTIPLE)


def snap_frames(value: int) -> int:
    return max(1, round((value - 1) / FRAME_STEP)) * FRAME_STEP + 1


@dataclass(frozen=True)
class EngineConfig:
    name: str  # "wan" or "tiny"
    weights_dir: Path | None
    device: str
    first_block_cache: float  # 0 = off; else the residual-diff threshold
    compile_blocks: bool

    @classmethod
    def from_env(cls) -> EngineConfig:
        weights = os.environ.get("OPENV_WEIGHTS_DIR")
        name = os.environ.get("OPENV_ENGINE") or ("wan" if weights else "tiny")
        import torch

        return cls(
            name=name,
            weights_dir=Path(weights) if weights else None,
            device=os.environ.get("OPENV_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu"),
            first_block_cache=float(os.environ.get("OPENV_FIRST_BLOCK_CACHE", "0")),
            compile_blocks=os.environ.get("OPENV_COMPILE", "0") == "1",
        )


class DiffusersWanEngine:
    """WanPipeline from a local diffusers-format folder; loaded once, reused for every job."""

    def __init__(
        self, name: str, weights_dir: Path, device: str, first_block_cache: float = 0, compile_blocks: bool = False
    ) -> None:
        import torch
        from diffusers import AutoencoderKLWan, WanPipeline

        if not (weights_dir / "model_index.json").is_file():
            raise WeightsMissing(
                f"no diffusers weights in {weights_dir} (model_index.json missing); set OPENV_WEIGHTS_DIR"
            )
        self.name = name
        self.device = device
        # bf16 on the GPU; on the CPU bf16 is slow and fp32 is the sensible choice.
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        vae = AutoencoderKLWan.from_pretrained(weights_dir, subfolder="vae", dtype=torch.float32)
        self.pipeline = WanPipeline.from_pretrained(weights_dir, vae=vae, dtype=dtype).to(device)
        self.pipeline.set_progress_bar_config(disable=True)
        if first_block_cache > 0:
            from diffusers.hooks import FirstBlockCacheConfig

            self.pipeline.transformer.enable_cache(FirstBlockCacheConfig(threshold=first_block_cache))
        if compile_blocks:
            self.pipeline.transformer.compile_repeated_blocks(fullgraph=True)

    def generate(self, params: GenerationParams, on_step: StepCallback) -> np.ndarray:
        import torch

        generator = torch.Generator(device="cpu").manual_seed(params.seed)

        def step_end(pipeline, step: int, timestep, callback_kwargs):
            on_step(step + 1, params.steps)
            return callback_kwargs

        with torch.inference_mode():
            result = self.pipeline(
                prompt=params.prompt,
                negative_prompt=params.negative_prompt or None,
                width=snap_size(params.width),
                height=snap_size(params.height),
                num_frames=snap_frames(params.num_frames),
                num_inference_steps=params.steps,
                guidance_scale=params.guidance_scale,
                generator=generator,
                output_type="np",
                callback_on_step_end=step_end,
            )
        frames = result.frames[0]  # (frames, height, width, 3) floats in [0, 1]
        return (np.clip(frames, 0.0, 1.0) * 255).round().astype(np.uint8)


# --- the tiny pipeline, built offline ---------------------------------------------------------


def build_tiny_wan(folder: Path) -> Path:
    """Write a tiny, randomly initialised Wan pipeline in diffusers format to `folder`.

    Every config and the tokenizer are made here in code: no hub id anywhere.
    """
    import torch
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast, UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    specials = ["<pad>", "</s>", "<unk>"]
    vocab = {token: index for index, token in enumerate(specials + list(string.printable))}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")  # one token a character
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    fast_tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", model_max_length=512
    )
    text_dim = 32
    text_encoder = UMT5EncoderModel(
        UMT5Config(
            vocab_size=len(vocab),
            d_model=text_dim,
            d_kv=8,
            d_ff=64,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
        )
    )
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=16,
        out_channels=16,
        text_dim=text_dim,
        freq_dim=32,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
    )
    vae = AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0)
    pipeline = WanPipeline(
        tokenizer=fast_tokenizer, text_encoder=text_encoder, transformer=transformer, vae=vae, scheduler=scheduler
    )
    pipeline.save_pretrained(folder)  # type: ignore[attr-defined]  # defined on DiffusionPipeline, untyped
    return folder


def tiny_weights_dir() -> Path:
    folder = Path(os.environ.get("OPENV_TINY_DIR") or Path(__file__).resolve().parent.parent / ".data" / "tiny-wan")
    if not (folder / "model_index.json").is_file():
        build_tiny_wan(folder)
    return folder


@lru_cache
def load_engine(config: EngineConfig) -> Engine:
    """The process's engine, loaded once (a RunPod worker serves many jobs per load)."""
    if config.name == "tiny":
        return DiffusersWanEngine("tiny", tiny_weights_dir(), config.device)
    if config.name == "wan":
        if config.weights_dir is None:
            raise WeightsMissing("OPENV_ENGINE=wan needs OPENV_WEIGHTS_DIR (a local Wan2.1-T2V-1.3B diffusers folder)")
        return DiffusersWanEngine(
            "wan", config.weights_dir, config.device, config.first_block_cache, config.compile_blocks
        )
    raise ValueError(f"unknown OPENV_ENGINE {config.name!r} (use 'wan' or 'tiny')")
