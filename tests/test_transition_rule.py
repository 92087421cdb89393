"""The status transition rule: every order and repetition of reports gives the same result."""

import itertools
import uuid

import pytest

from openv_app.models import Video
from openv_app.services.jobs import apply_runpod_status
from openv_app.services.runpod_client import RunPodJob
from openv_app.services.statuses import VideoStatus, may_move, status_from_runpod

DONE = {"video": "u/v.mp4", "poster": "u/v.jpg", "duration_s": 2.0, "timings": {"total_s": 1.0}}
REPORTS = {
    "IN_QUEUE": RunPodJob(id="job", status="IN_QUEUE"),
    "IN_PROGRESS_30": RunPodJob(id="job", status="IN_PROGRESS", output={"stage": "denoising", "step": 3, "total": 10}),
    "IN_PROGRESS_70": RunPodJob(id="job", status="IN_PROGRESS", output={"stage": "denoising", "step": 7, "total": 10}),
    "COMPLETED": RunPodJob(id="job", status="COMPLETED", output=DONE),
}


VIDEO_ID = uuid.UUID("00000000-0000-0000-0000-000000000001")


def new_video() -> Video:
    return Video(id=VIDEO_ID, user_id="u", prompt="p", model="m", width=128, height=128,
                 num_frames=9, fps=8, steps=10, guidance_scale=5, seed=1, runpod_job_id="job")


def final_state(order: list[str]) -> tuple:
    video = new_video()
    for name in order:
        apply_runpod_status(video, REPORTS[name])
    return video.status, video.progress, video.video_path, video.error


@pytest.mark.parametrize("order", list(itertools.permutations(REPORTS)))
def test_any_order_of_a_successful_job_ends_completed(order):
    assert final_state(list(order)) == (VideoStatus.COMPLETED, 100, f"u/{VIDEO_ID}.mp4", None)


def test_repeated_reports_change_nothing_more():
    once = final_state(["IN_QUEUE", "IN_PROGRESS_30", "COMPLETED"])
    twice = final_state(["IN_QUEUE", "IN_QUEUE", "IN_PROGRESS_30", "IN_PROGRESS_30", "COMPLETED", "COMPLETED"])
    assert once == twice


def test_late_progress_after_completion_is_ignored():
    video = new_video()
    assert apply_runpod_status(video, REPORTS["COMPLETED"]) is True
    completed_at = video.completed_at
    assert apply_runpod_status(video, REPORTS["IN_PROGRESS_30"]) is False
    assert apply_runpod_status(video, REPORTS["COMPLETED"]) is False
    assert (video.status, video.progress, video.completed_at) == (VideoStatus.COMPLETED, 100, completed_at)


def test_progress_never_goes_backwards():
    video = new_video()
    apply_runpod_status(video, REPORTS["IN_PROGRESS_70"])
    assert apply_runpod_status(video, REPORTS["IN_PROGRESS_30"]) is False
    assert video.progress == 70
    assert apply_runpod_status(video, REPORTS["IN_QUEUE"]) is False
    assert video.status is VideoStatus.PROCESSING


@pytest.mark.parametrize("first,second", [("FAILED", "COMPLETED"), ("COMPLETED", "FAILED"), ("CANCELLED", "COMPLETED"), ("TIMED_OUT", "CANCELLED")])
def test_first_terminal_status_wins(first, second):
    video = new_video()
    apply_runpod_status(video, RunPodJob(id="job", status=first, output=DONE, error="boom"))
    status = video.status
    assert apply_runpod_status(video, RunPodJob(id="job", status=second, output=DONE, error="other")) is False
    assert video.status is status


def test_completed_without_video_is_failed_with_reason():
    video = new_video()
    apply_runpod_status(video, RunPodJob(id="job", status="COMPLETED", output={"error": "out of memory"}))
    assert video.status is VideoStatus.FAILED
    assert video.error == "out of memory"


def test_failure_texts():
    timed_out, failed = new_video(), new_video()
    apply_runpod_status(timed_out, RunPodJob(id="job", status="TIMED_OUT"))
    apply_runpod_status(failed, RunPodJob(id="job", status="FAILED", error={"error_message": "CUDA OOM"}))
    assert "time limit" in timed_out.error
    assert failed.error == "CUDA OOM"


def test_status_mapping_table():
    assert status_from_runpod("IN_QUEUE", None) is VideoStatus.PENDING
    assert status_from_runpod("RUNNING", None) is VideoStatus.PROCESSING
    assert status_from_runpod("TIMED_OUT", None) is VideoStatus.FAILED
    assert status_from_runpod("CANCELLED", None) is VideoStatus.CANCELLED
    assert may_move("PENDING", "PENDING") and not may_move("PROCESSING", "PENDING")
