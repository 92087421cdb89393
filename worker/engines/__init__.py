"""Text/image-to-video engines behind one small interface, one engine per model family.

- Real weights (`OPENV_ENGINE=weights`, the default when `OPENV_WEIGHTS_DIR` is set): the
  worker serves one model, `OPENV_MODEL` (default wan2.1-t2v-1.3b), loaded once per process
  from `OPENV_WEIGHTS_DIR` by its family's engine (`wan.py`, `ltx.py`). One RunPod endpoint
  per model; a job for another model is refused ("model unavailable: ...").
- `tiny` (the default without weights): every model, each with a tiny random pipeline of its
  real classes (`tiny.py`), loaded from disk the same way. Tests and the local endpoint use it.

Nothing here downloads anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from worker.contract import DEFAULT_MODEL, MODEL_SPECS, MODELS
from worker.engines.base import (
    Engine,
    GenerationParams,
    ModelUnavailable,
    StepCallback,
    WeightsMissing,
    snap_frames,
    snap_size,
)
from worker.engines.tiny import TINY_BUILDERS, build_tiny_ltx, build_tiny_wan, build_tiny_wan22_ti2v, tiny_weights_dir

__all__ = [
    "TINY_BUILDERS",
    "Engine",
    "EngineConfig",
    "GenerationParams",
    "ModelUnavailable",
    "StepCallback",
    "WeightsMissing",
    "build_tiny_ltx",
    "build_tiny_wan",
    "build_tiny_wan22_ti2v",
    "load_engine",
    "snap_frames",
    "snap_size",
    "tiny_weights_dir",
]

ENGINES = ("weights", "tiny")
LEGACY_ENGINES = {"wan": "weights"}  # OPENV_ENGINE=wan predates the model choice


@dataclass(frozen=True)
class EngineConfig:
    name: str  # "weights" or "tiny"
    model: str  # the model a "weights" worker serves (OPENV_MODEL); "tiny" serves every model
    weights_dir: Path | None
    device: str
    first_block_cache: float  # 0 = off; else the residual-diff threshold (Wan only)
    compile_blocks: bool  # Wan only

    @classmethod
    def from_env(cls) -> EngineConfig:
        weights = os.environ.get("OPENV_WEIGHTS_DIR")
        name = os.environ.get("OPENV_ENGINE") or ("weights" if weights else "tiny")
        import torch

        return cls(
            name=LEGACY_ENGINES.get(name, name),
            model=os.environ.get("OPENV_MODEL") or DEFAULT_MODEL,
            weights_dir=Path(weights) if weights else None,
            device=os.environ.get("OPENV_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu"),
            first_block_cache=float(os.environ.get("OPENV_FIRST_BLOCK_CACHE", "0")),
            compile_blocks=os.environ.get("OPENV_COMPILE", "0") == "1",
        )

    def check_serves(self, model: str) -> None:
        """Raise ModelUnavailable unless this worker can run `model`."""
        if self.name not in ENGINES:
            raise ValueError(f"unknown OPENV_ENGINE {self.name!r} (use 'weights' or 'tiny')")
        if self.name == "weights" and self.model not in MODEL_SPECS:
            raise ModelUnavailable(f"OPENV_MODEL={self.model!r} is not one of {', '.join(MODELS)}")
        if self.name == "weights" and model != self.model:
            raise ModelUnavailable(f"this worker serves {self.model}, not {model} (one endpoint per model)")


def load_engine(config: EngineConfig, model: str | None = None) -> Engine:
    """The process's engine for `model` (default: the one it serves), loaded once: a RunPod
    worker serves many jobs per load."""
    return _load_engine(config, model or config.model)


@lru_cache
def _load_engine(config: EngineConfig, model: str) -> Engine:
    config.check_serves(model)
    family = MODEL_SPECS[model].family
    if config.name == "tiny":
        weights_dir, name = tiny_weights_dir(model), "tiny"
    elif config.weights_dir is None:
        raise WeightsMissing(f"OPENV_MODEL={model} needs OPENV_WEIGHTS_DIR (a local diffusers folder of its weights)")
    else:
        weights_dir, name = config.weights_dir, family
    if family == "ltx":
        from worker.engines.ltx import DiffusersLTXEngine

        return DiffusersLTXEngine(name, weights_dir, config.device, model=model)
    from worker.engines.wan import DiffusersWanEngine

    if name == "tiny":
        return DiffusersWanEngine(name, weights_dir, config.device, model=model)
    return DiffusersWanEngine(
        name, weights_dir, config.device, config.first_block_cache, config.compile_blocks, model=model
    )
