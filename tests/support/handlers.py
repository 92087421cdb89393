"""Small RunPod handlers for the local endpoint in tests (the real worker has its own tests)."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from worker.encode import encode_mp4, encode_poster
from worker.progress import report_progress
from worker.upload import put_file


def quick_video_handler(job: dict[str, Any]) -> dict[str, Any]:
    """Reports progress, uploads a real 1-second MP4 and poster, returns the worker's output shape."""
    for step in range(1, 3):
        report_progress(job, {"stage": "denoising", "step": step, "total": 2})
        time.sleep(0.05)
    return upload_tiny_video(job["input"])


def upload_tiny_video(job_input: dict[str, Any]) -> dict[str, Any]:
    """Uploads a real 1-second MP4 and poster to the job's signed URLs; the worker's output shape."""
    frames = np.zeros((8, 64, 64, 3), dtype=np.uint8)
    frames[:, :, :, 0] = np.linspace(0, 255, 8, dtype=np.uint8)[:, None, None]
    put_file(job_input["upload"]["video"], encode_mp4(frames, 8), "video/mp4")
    put_file(job_input["upload"]["poster"], encode_poster(frames), "image/jpeg")
    return {
        "video": "uploaded",
        "poster": "uploaded",
        "seed": job_input["seed"],
        "width": 64,
        "height": 64,
        "num_frames": 8,
        "fps": 8,
        "duration_s": 1.0,
        "timings": {"total_s": 0.1},
    }


class GatedHandler:
    """Holds each job IN_PROGRESS until released, so tests can act on a running job."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()

    def __call__(self, job: dict[str, Any]) -> dict[str, Any]:
        report_progress(job, {"stage": "denoising", "step": 1, "total": 4})
        self.started.set()
        self.release.wait(timeout=30)
        return quick_video_handler(job)


def failing_handler(job: dict[str, Any]) -> dict[str, Any]:
    return {"error": "invalid input: width: too large"}


def scripted_handler(job: dict[str, Any]) -> dict[str, Any]:
    """The real worker, except prompts that script a failure or a slow job for browser tests."""
    from worker.handler import handler

    prompt = job["input"].get("prompt", "")
    if "please fail" in prompt:
        return {"error": "the GPU caught fire (scripted failure)"}
    if "take your time" in prompt:
        time.sleep(4)
    return handler(job)


class StartImageHandler:
    """The worker's side of a start image: fetches the job's `start_image_url` as the real
    worker does (worker/start_image.py), keeps what it got, then uploads a tiny clip. Its first
    `refuse_first` jobs are refused instead (a refusal is not retried: the video fails)."""

    def __init__(self, refuse_first: int = 0) -> None:
        self.inputs: list[dict[str, Any]] = []
        self.images: list[Any] = []
        self.refuse_first = refuse_first

    def __call__(self, job: dict[str, Any]) -> dict[str, Any]:
        from worker.start_image import fetch_start_image

        job_input = job["input"]
        self.inputs.append(job_input)
        if len(self.inputs) <= self.refuse_first:
            return {"error": "invalid input: prompt: refused by the test"}
        if job_input.get("start_image_url"):
            url, size = job_input["start_image_url"], (job_input["width"], job_input["height"])
            self.images.append(fetch_start_image(url, *size, job_input["image_fit"]))
        return upload_tiny_video(job_input)
