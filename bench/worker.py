"""Benchmark the worker's engine: seconds per clip, seconds per step and peak memory.

    python bench/worker.py                              # tiny engine, CPU, small clip
    python bench/worker.py --engine wan-random --width 832 --height 480 --frames 81 --steps 50
    python bench/worker.py --engine wan --weights /models/Wan2.1-T2V-1.3B-Diffusers --fbc 0.05 --compile

`wan-random` builds the Wan2.1-1.3B transformer architecture (real sizes) with random weights,
so speed can be measured on a GPU without downloading weights; its frames are noise.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from worker.encode import encode_mp4  # noqa: E402
from worker.engines import GenerationParams, build_tiny_wan  # noqa: E402
from worker.engines.wan import DiffusersWanEngine  # noqa: E402


def build_random_wan(folder: Path) -> Path:
    """The tiny pipeline with its transformer swapped for Wan2.1-1.3B's real-size architecture."""
    import torch
    from diffusers import WanTransformer3DModel

    build_tiny_wan(folder)
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=12,
        attention_head_dim=128,
        in_channels=16,
        out_channels=16,
        text_dim=32,
        freq_dim=256,
        ffn_dim=8960,
        num_layers=30,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
    ).to(torch.bfloat16)
    transformer.save_pretrained(folder / "transformer")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", choices=["tiny", "wan-random", "wan"], default="tiny")
    parser.add_argument("--weights", type=Path)
    parser.add_argument("--device", default=None)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--height", type=int, default=144)
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--fbc", type=float, default=0.0, help="first-block-cache threshold (0 = off)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the repeated blocks")
    args = parser.parse_args()

    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    with tempfile.TemporaryDirectory() as scratch:
        if args.engine == "wan":
            folder = args.weights
        elif args.engine == "wan-random":
            folder = build_random_wan(Path(scratch))
        else:
            folder = build_tiny_wan(Path(scratch))
        started = time.perf_counter()
        engine = DiffusersWanEngine(args.engine, folder, device, args.fbc, args.compile)
        load_s = time.perf_counter() - started

        params = GenerationParams(
            "a corgi surfing a wave at sunset", "", args.width, args.height, args.frames, args.steps, 5.0, 0
        )
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        clip_times = []
        for _ in range(args.runs):  # the first run includes warm-up / compilation
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            started = time.perf_counter()
            frames = engine.generate(params, lambda step, total: None)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            clip_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        encode_mp4(frames, 16)
        encode_s = time.perf_counter() - started

    best = min(clip_times)
    print(
        f"engine={args.engine} device={device} size={args.width}x{args.height} frames={args.frames} steps={args.steps} "
        f"first_block_cache={args.fbc} compile={args.compile}"
    )
    if device.startswith("cuda"):
        print(f"gpu={torch.cuda.get_device_name()} peak_gpu_memory_gib={torch.cuda.max_memory_allocated() / 2**30:.2f}")
    print(
        f"load_s={load_s:.2f} clip_s_first={clip_times[0]:.2f} clip_s_best={best:.2f} "
        f"s_per_step={best / args.steps:.3f} encode_s={encode_s:.2f} "
        f"peak_rss_gib={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f}"
    )


if __name__ == "__main__":
    main()
