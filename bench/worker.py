"""Benchmark the worker's engines: seconds per clip, seconds per step and peak memory.

    python bench/worker.py                                   # every model's tiny pipeline, CPU
    python bench/worker.py --model ltx-video-distilled --image          # one model, from a start image
    python bench/worker.py --engine random --model wan2.1-t2v-1.3b --width 832 --height 480 --frames 81 --steps 50
    python bench/worker.py --engine random --model wan2.2-ti2v-5b --width 1280 --height 704 --frames 121 --steps 50
    python bench/worker.py --engine random --model ltx-video-distilled --width 768 --height 512 --frames 121 --steps 8
    python bench/worker.py --engine weights --model wan2.1-t2v-1.3b --weights /models/Wan2.1-T2V-1.3B-Diffusers --fbc 0.05

`random` is for GPU timing without downloading weights: each model's tiny pipeline with its
transformer and VAE swapped for the real architecture's sizes (`REAL_SIZES`), random weights
built straight on the device in the engine's dtype (bf16 on the GPU); the text encoder stays tiny (one forward pass a job, a
small share of the time). Its frames are noise. The LTX VAE is LTX-Video 0.9.1's layout (the
distilled checkpoints' 0.9.5+ VAE differs in detail).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from worker.contract import MODEL_SPECS, MODELS  # noqa: E402
from worker.encode import encode_mp4  # noqa: E402
from worker.engines import EngineConfig, GenerationParams, load_engine  # noqa: E402
from worker.engines.tiny import TEXT_DIM  # noqa: E402

WAN_TRANSFORMER = {"patch_size": (1, 2, 2), "cross_attn_norm": True, "qk_norm": "rms_norm_across_heads"}
# The published architectures (their diffusers configs), with the text width of the tiny encoder.
REAL_SIZES: dict[str, dict[str, dict[str, Any]]] = {
    "wan2.1-t2v-1.3b": {  # 1.3B transformer; Wan2.1 VAE (AutoencoderKLWan's defaults)
        "transformer": {
            **WAN_TRANSFORMER,
            "num_attention_heads": 12,
            "attention_head_dim": 128,
            "in_channels": 16,
            "out_channels": 16,
            "freq_dim": 256,
            "ffn_dim": 8960,
            "num_layers": 30,
        },
        "vae": {},
    },
    "wan2.2-ti2v-5b": {  # 5B transformer; Wan2.2 VAE (16x16x4 compression, 48 channels)
        "transformer": {
            **WAN_TRANSFORMER,
            "num_attention_heads": 24,
            "attention_head_dim": 128,
            "in_channels": 48,
            "out_channels": 48,
            "freq_dim": 256,
            "ffn_dim": 14336,
            "num_layers": 30,
        },
        "vae": {
            "base_dim": 160,
            "decoder_base_dim": 256,
            "z_dim": 48,
            "in_channels": 12,
            "out_channels": 12,
            "is_residual": True,
            "patch_size": 2,
            "scale_factor_spatial": 16,
            "scale_factor_temporal": 4,
            "latents_mean": [0.0] * 48,
            "latents_std": [1.0] * 48,
        },
    },
    "ltx-video-distilled": {  # 13B transformer (LTX-Video 0.9.7/0.9.8 13B); --ltx-2b for the 2B one
        "transformer": {
            "in_channels": 128,
            "out_channels": 128,
            "num_attention_heads": 32,
            "attention_head_dim": 128,
            "cross_attention_dim": 4096,
            "num_layers": 48,
        },
        "vae": {  # LTX-Video 0.9.1's layout: the timestep-conditioned decoder, 32x32x8 compression
            "block_out_channels": (128, 256, 512, 512),
            "layers_per_block": (4, 3, 3, 3, 4),
            "spatio_temporal_scaling": (True, True, True, False),
            "decoder_block_out_channels": (256, 512, 1024),
            "decoder_layers_per_block": (5, 6, 7, 8),
            "decoder_spatio_temporal_scaling": (True, True, True),
            "decoder_inject_noise": (True, True, True, False),
            "upsample_factor": (2, 2, 2),
            "upsample_residual": (True, True, True),
            "timestep_conditioning": True,
        },
    },
}
LTX_2B = {"num_attention_heads": 32, "attention_head_dim": 64, "cross_attention_dim": 2048, "num_layers": 28}


def swap_in_real_sizes(engine: Any, model: str, device: str, ltx_2b: bool = False) -> None:
    """Replace the tiny transformer and VAE with random ones of the real architecture."""
    import torch
    from diffusers import AutoencoderKLLTXVideo, AutoencoderKLWan, LTXVideoTransformer3DModel, WanTransformer3DModel

    sizes = REAL_SIZES[model]
    wan = MODEL_SPECS[model].family == "wan"
    transformer_config = {**sizes["transformer"], **(LTX_2B if ltx_2b else {})}
    transformer_config["text_dim" if wan else "caption_channels"] = TEXT_DIM
    torch.set_default_dtype(engine.pipeline.transformer.dtype)  # the engine's: bf16 on the GPU
    try:
        with torch.device(device):
            transformer = (WanTransformer3DModel if wan else LTXVideoTransformer3DModel)(**transformer_config)
            if not wan:
                vae = AutoencoderKLLTXVideo(**sizes["vae"])
        if wan:
            torch.set_default_dtype(torch.float32)  # the Wan engines keep the VAE in fp32
            with torch.device(device):
                vae = AutoencoderKLWan(**sizes["vae"])
    finally:
        torch.set_default_dtype(torch.float32)
    transformer.eval()
    vae.eval()
    for pipeline in (engine.pipeline, getattr(engine, "image_pipeline", None)):
        if pipeline is not None:
            pipeline.transformer, pipeline.vae = transformer, vae


def start_image(width: int, height: int) -> Any:
    import numpy as np
    from PIL import Image

    ramp = np.linspace(0, 255, width, dtype=np.uint8)[None, :, None]
    return Image.fromarray(np.broadcast_to(ramp, (height, width, 3)).copy())


def bench(model: str, args: argparse.Namespace, device: str, scratch: Path) -> None:
    import torch

    spec = MODEL_SPECS[model]
    width = args.width or (128 if args.engine == "tiny" else spec.default_width)
    height = args.height or (128 if args.engine == "tiny" else spec.default_height)
    frames = args.frames or (2 * spec.frame_step + 1 if args.engine == "tiny" else spec.default_frames)
    steps = args.steps or (4 if args.engine == "tiny" else spec.default_steps)
    config = EngineConfig(
        name="weights" if args.engine == "weights" else "tiny",
        model=model,
        weights_dir=args.weights,
        device=device,
        first_block_cache=args.fbc,
        compile_blocks=args.compile,
    )
    started = time.perf_counter()
    os.environ["OPENV_TINY_DIR"] = str(scratch)  # tiny/random: this run's tiny folders (built, then loaded)
    engine = load_engine(config, model)
    if args.engine == "random":
        swap_in_real_sizes(engine, model, device, args.ltx_2b)
    load_s = time.perf_counter() - started

    image = start_image(width, height) if args.image else None
    params = GenerationParams(
        "a corgi surfing a wave at sunset",
        "",
        width,
        height,
        frames,
        steps,
        spec.default_guidance,
        0,
        spec.default_fps,
        image,
    )
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    clip_times = []
    for _ in range(args.runs):  # the first run includes warm-up / compilation
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        started = time.perf_counter()
        clip = engine.generate(params, lambda step, total: None)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        clip_times.append(time.perf_counter() - started)
    started = time.perf_counter()
    encode_mp4(clip, spec.default_fps)
    encode_s = time.perf_counter() - started

    best = min(clip_times)
    print(
        f"model={model} engine={args.engine} device={device} size={width}x{height} frames={frames} steps={steps} "
        f"start_image={args.image} first_block_cache={args.fbc} compile={args.compile}"
    )
    if device.startswith("cuda"):
        print(f"gpu={torch.cuda.get_device_name()} peak_gpu_memory_gib={torch.cuda.max_memory_allocated() / 2**30:.2f}")
    print(
        f"  load_s={load_s:.2f} clip_s_first={clip_times[0]:.2f} clip_s_best={best:.2f} "
        f"s_per_step={best / steps:.3f} encode_s={encode_s:.2f} "
        f"peak_rss_gib={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", choices=["tiny", "random", "weights"], default="tiny")
    parser.add_argument("--model", choices=[*MODELS, "all"], default="all", help="'all': every model (tiny only)")
    parser.add_argument("--weights", type=Path)
    parser.add_argument("--device", default=None)
    parser.add_argument("--width", type=int, help="default: 128 (tiny) or the model's default size")
    parser.add_argument("--height", type=int)
    parser.add_argument("--frames", type=int)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--image", action="store_true", help="from a start image (models that take one)")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--fbc", type=float, default=0.0, help="first-block-cache threshold (0 = off; Wan)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the repeated blocks (Wan)")
    parser.add_argument("--ltx-2b", action="store_true", help="random: LTX-Video's 2B transformer, not 13B")
    args = parser.parse_args()
    if args.model == "all" and args.engine != "tiny":
        parser.error("--engine random/weights times one model: pass --model")
    if args.engine == "weights" and args.weights is None:
        parser.error("--engine weights needs --weights (a diffusers folder)")

    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    with tempfile.TemporaryDirectory() as scratch:
        for model in MODELS if args.model == "all" else [args.model]:
            if args.image and not MODEL_SPECS[model].accepts_image:
                print(f"model={model}: takes no start image, timed from text")
            engine_args = argparse.Namespace(**{**vars(args), "image": args.image and MODEL_SPECS[model].accepts_image})
            bench(model, engine_args, device, Path(scratch))


if __name__ == "__main__":
    main()
