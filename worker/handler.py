"""The RunPod serverless handler: prompt in, MP4 + poster uploaded, metadata out.

On RunPod: `python -u handler.py` (runpod.serverless.start). Locally the local endpoint
imports `handler` and runs it the same way.
"""

from __future__ import annotations

import base64
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from worker.contract import JobInput, JobOutput, Progress, UploadTargets, first_error
from worker.encode import encode_mp4, encode_poster
from worker.engines import EngineConfig, GenerationParams, ModelUnavailable, WeightsMissing, load_engine
from worker.progress import finish, report_progress
from worker.start_image import StartImageRefused, StartImageUnavailable, fetch_start_image
from worker.upload import UploadError, put_file

log = logging.getLogger("worker")

# Without upload URLs a small video comes back inline; a large one must be uploaded.
INLINE_LIMIT_BYTES = 8 * 1024 * 1024


def validation_message(error: ValidationError) -> str:
    message, _ = first_error(error.errors())
    return f"invalid input: {message}"


def handler(job: dict[str, Any]) -> dict[str, Any]:
    try:
        params = JobInput.model_validate(job.get("input") or {})
    except ValidationError as error:
        return {"error": validation_message(error)}
    try:
        return generate(job, params)
    except (WeightsMissing, ModelUnavailable) as error:
        return {"error": f"model unavailable: {error}"}
    except StartImageRefused as error:
        return {"error": f"invalid input: start_image_url: {error}"}
    except StartImageUnavailable as error:  # not a refusal: the app runs the job again
        return {"error": str(error)}
    except UploadError as error:  # not a refusal: the app runs the job again (contract.is_refusal)
        return {"error": str(error)}
    except Exception as error:  # a clear one-line error, never a traceback dump
        log.exception("generation failed")
        return {"error": f"generation failed: {type(error).__name__}: {error}"}
    finally:
        # The result (webhook or /status) supersedes progress: pending direct reports are dropped.
        finish(str(job.get("id", "")))


def generate(job: dict[str, Any], params: JobInput) -> dict[str, Any]:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    config = EngineConfig.from_env()
    config.check_serves(params.model)  # before any work: a job for another model is refused at once
    report_progress(job, Progress(stage="loading", step=0, total=params.steps).model_dump())
    start_image = None
    if params.start_image_url is not None:
        mark = time.perf_counter()
        start_image = fetch_start_image(params.start_image_url, params.width, params.height, params.image_fit)
        timings["image_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    engine = load_engine(config, params.model)
    timings["load_s"] = time.perf_counter() - mark

    request = GenerationParams(
        prompt=params.prompt,
        negative_prompt=params.negative_prompt,
        width=params.width,
        height=params.height,
        num_frames=params.num_frames,
        steps=params.steps,
        guidance_scale=params.guidance_scale,
        seed=params.seed,
        fps=params.fps,
        image=start_image,
    )

    def on_step(step: int, total: int) -> None:
        report_progress(job, Progress(stage="denoising", step=step, total=total).model_dump())

    mark = time.perf_counter()
    frames = engine.generate(request, on_step)
    timings["generate_s"] = time.perf_counter() - mark

    report_progress(job, Progress(stage="encoding", step=params.steps, total=params.steps).model_dump())
    mark = time.perf_counter()
    video = encode_mp4(frames, params.fps)
    poster = encode_poster(frames)
    timings["encode_s"] = time.perf_counter() - mark

    mark = time.perf_counter()
    video_ref, poster_ref = store(params.upload, video, poster)
    timings["upload_s"] = time.perf_counter() - mark
    timings["total_s"] = time.perf_counter() - started

    num_frames, height, width, _ = frames.shape
    return JobOutput(
        video=video_ref,
        poster=poster_ref,
        seed=params.seed,
        width=width,
        height=height,
        num_frames=num_frames,
        fps=params.fps,
        duration_s=round(num_frames / params.fps, 3),
        engine=engine.name,
        timings={name: round(value, 3) for name, value in timings.items()},
    ).model_dump()


def store(upload: UploadTargets | None, video: bytes, poster: bytes) -> tuple[str, str | None]:
    """Upload to the signed URLs and return where the files went (the URL without its query)."""
    if upload is None:
        if len(video) > INLINE_LIMIT_BYTES:
            raise UploadError(
                f"the video is {len(video)} bytes, over the inline limit of {INLINE_LIMIT_BYTES}; pass upload URLs"
            )
        return (
            "data:video/mp4;base64," + base64.b64encode(video).decode(),
            "data:image/jpeg;base64," + base64.b64encode(poster).decode(),
        )
    put_file(upload.video, video, "video/mp4")
    poster_ref = None
    if upload.poster:
        put_file(upload.poster, poster, "image/jpeg")
        poster_ref = _without_query(upload.poster)
    return _without_query(upload.video), poster_ref


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


if __name__ == "__main__":
    import runpod

    # Load the model before taking jobs so a missing weights folder fails the worker at start
    # (a tiny worker loads each model's tiny pipeline when a job first asks for it).
    load_engine(EngineConfig.from_env())
    runpod.serverless.start({"handler": handler})
