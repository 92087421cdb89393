"""The models this instance offers (each served by a RunPod endpoint of its own), with what each
takes: bounds and defaults from the worker's registry (worker/model_specs.py).

Public, like the studio's form that lists them: it tells which models an instance runs and their
limits, nothing about anyone, and it lets a client build a valid request before signing in.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from openv_app.api.deps import Service
from worker.contract import MODEL_SPECS, ModelSpec


class IntRange(BaseModel):
    min: int
    max: int


class FloatRange(BaseModel):
    min: float
    max: float


class SizeBounds(IntRange):
    """`width` and `height` alike."""

    multiple_of: int


class FrameBounds(IntRange):
    step: int = Field(description="num_frames is step × k + 1")


class ModelBounds(BaseModel):
    size: SizeBounds
    num_frames: FrameBounds
    fps: IntRange
    steps: IntRange
    guidance_scale: FloatRange


class ModelDefaults(BaseModel):
    """What a request for the model that leaves a setting out gets."""

    width: int
    height: int
    num_frames: int
    fps: int
    steps: int
    guidance_scale: float


class ModelOut(BaseModel):
    id: str
    name: str
    description: str
    accepts_image: bool = Field(description="takes a start image (the video's first frame)")
    accepts_text_only: bool = Field(description="runs from the prompt alone")
    default: bool = Field(description="a request that names no model gets this one")
    bounds: ModelBounds
    defaults: ModelDefaults


class ModelList(BaseModel):
    models: list[ModelOut]
    default_model: str


def model_out(spec: ModelSpec, default: bool) -> ModelOut:
    return ModelOut(
        id=spec.id,
        name=spec.name,
        description=spec.description,
        accepts_image=spec.accepts_image,
        accepts_text_only=spec.accepts_text_only,
        default=default,
        bounds=ModelBounds(
            size=SizeBounds(min=spec.min_size, max=spec.max_size, multiple_of=spec.size_multiple),
            num_frames=FrameBounds(min=spec.min_frames, max=spec.max_frames, step=spec.frame_step),
            fps=IntRange(min=spec.min_fps, max=spec.max_fps),
            steps=IntRange(min=spec.min_steps, max=spec.max_steps),
            guidance_scale=FloatRange(min=spec.min_guidance, max=spec.max_guidance),
        ),
        defaults=ModelDefaults(**spec.defaults()),
    )


router = APIRouter(prefix="/api/models", tags=["models"])


@router.get("", response_model=ModelList)
async def list_models(service: Service) -> ModelList:
    """The models this instance offers, each on its own RunPod endpoint: `model` of a
    generation request is one of these ids."""
    endpoints = service.endpoints
    return ModelList(
        models=[model_out(MODEL_SPECS[model], model == endpoints.default_model) for model in endpoints.models()],
        default_model=endpoints.default_model,
    )
