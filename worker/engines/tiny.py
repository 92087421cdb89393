"""Tiny, randomly initialised pipelines of every model's real classes, built offline in code.

Every config and the tokenizers are made here: no hub id anywhere, nothing downloaded. Each
is written with `save_pretrained` and loaded back by the real engine with `from_pretrained`,
so tests and CPU-only machines exercise the production loading path. Each model's tiny
pipeline keeps its model's compression (Wan2.1: 8x space / 4x time; Wan2.2: 16x / 4x;
LTX-Video: 32x / 8x), so the contract's size and frame rules mean the same here.
"""

from __future__ import annotations

import os
import shutil
import string
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

TEXT_DIM = 32


def _character_tokenizer(max_length: int) -> Any:
    """A one-token-per-character tokenizer with T5's special tokens."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "</s>", "<unk>"]
    vocab = {token: index for index, token in enumerate(specials + list(string.printable))}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", model_max_length=max_length
    )


def _t5_config(config_class: Any, vocab_size: int) -> Any:
    return config_class(
        vocab_size=vocab_size,
        d_model=TEXT_DIM,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
    )


def _wan_pipeline(folder: Path, latent_channels: int, vae: Any, flow_shift: float, **pipeline_config: Any) -> Path:
    import torch
    from diffusers import UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    tokenizer = _character_tokenizer(512)
    text_encoder = UMT5EncoderModel(_t5_config(UMT5Config, len(tokenizer)))
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=latent_channels,
        out_channels=latent_channels,
        text_dim=TEXT_DIM,
        freq_dim=32,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
    )
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=flow_shift)
    pipeline = WanPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        transformer=transformer,
        vae=vae,
        scheduler=scheduler,
        **pipeline_config,
    )
    pipeline.save_pretrained(folder)  # type: ignore[attr-defined]  # defined on DiffusionPipeline, untyped
    return folder


def build_tiny_wan(folder: Path) -> Path:
    """Wan2.1-T2V's classes: `WanPipeline`, UMT5 text encoder, 16-channel Wan2.1 VAE."""
    import torch
    from diffusers import AutoencoderKLWan

    torch.manual_seed(0)
    vae = AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )
    return _wan_pipeline(folder, 16, vae, flow_shift=3.0)


def build_tiny_wan22_ti2v(folder: Path) -> Path:
    """Wan2.2-TI2V-5B's classes: `WanPipeline` with `expand_timesteps`, the 48-channel Wan2.2
    VAE (residual, 2x2 patching, 16x spatial compression)."""
    import torch
    from diffusers import AutoencoderKLWan

    torch.manual_seed(0)
    vae = AutoencoderKLWan(
        base_dim=3,
        z_dim=48,
        in_channels=12,
        out_channels=12,
        is_residual=True,
        patch_size=2,
        latents_mean=[0.0] * 48,
        latents_std=[1.0] * 48,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        scale_factor_spatial=16,
        scale_factor_temporal=4,
        temperal_downsample=[False, True, True],
    )
    return _wan_pipeline(folder, 48, vae, flow_shift=5.0, expand_timesteps=True)


def build_tiny_ltx(folder: Path) -> Path:
    """LTX-Video's classes: `LTXConditionPipeline`, T5 text encoder, LTX VAE with 4x4 patching
    and three space-time downsamplings (32x spatial, 8x temporal) and timestep-conditioned
    decoding, flow-matching Euler scheduler."""
    import torch
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXConditionPipeline,
        LTXVideoTransformer3DModel,
    )
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    tokenizer = _character_tokenizer(128)
    text_encoder = T5EncoderModel(_t5_config(T5Config, len(tokenizer)))
    transformer = LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=2,
        attention_head_dim=8,
        cross_attention_dim=16,
        num_layers=2,
        caption_channels=TEXT_DIM,
    )
    vae = AutoencoderKLLTXVideo(
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, True, False),
        decoder_spatio_temporal_scaling=(True, True, True, False),
        decoder_inject_noise=(False, False, False, False, False),
        upsample_residual=(False, False, False, False),
        upsample_factor=(1, 1, 1, 1),
        timestep_conditioning=True,
        patch_size=4,
        patch_size_t=1,
    )
    pipeline = LTXConditionPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer,
    )
    pipeline.save_pretrained(folder)  # type: ignore[attr-defined]  # defined on DiffusionPipeline, untyped
    return folder


TINY_BUILDERS: dict[str, Callable[[Path], Path]] = {
    "wan2.1-t2v-1.3b": build_tiny_wan,
    "wan2.2-ti2v-5b": build_tiny_wan22_ti2v,
    "ltx-video-distilled": build_tiny_ltx,
}


def tiny_root() -> Path:
    """Where the tiny pipelines live: `OPENV_TINY_DIR`, else the repository's `.data/`."""
    return Path(os.environ.get("OPENV_TINY_DIR") or Path(__file__).resolve().parents[2] / ".data")


def tiny_weights_dir(model: str) -> Path:
    """`<tiny_root>/tiny-<model>`, built on first use (into a scratch folder, then renamed,
    so a concurrent reader never sees half a pipeline)."""
    folder = tiny_root() / f"tiny-{model}"
    if not (folder / "model_index.json").is_file():
        folder.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".tiny-{model}-", dir=folder.parent))
        try:
            TINY_BUILDERS[model](scratch)
            try:
                scratch.rename(folder)
            except OSError:  # another process finished first (or a stale empty folder is there)
                if not (folder / "model_index.json").is_file():
                    shutil.rmtree(folder, ignore_errors=True)
                    scratch.rename(folder)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return folder
