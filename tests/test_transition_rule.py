"""The status transition rule: every order and repetition of reports gives the same result,
and the one-statement SQL form of the rule does exactly what the in-memory form does."""

import itertools
import uuid

import pytest
import sqlalchemy as sa

from openv_app.db import Database, make_async_engine
from openv_app.models import Video
from openv_app.services.runpod_client import RunPodJob
from openv_app.services.statuses import VideoStatus, may_move, status_from_runpod
from openv_app.services.transitions import apply_runpod_status, transition_update
from tests.support.factories import video_row
from tests.support.loops import in_own_loop

DONE = {"video": "u/v.mp4", "poster": "u/v.jpg", "duration_s": 2.0, "timings": {"total_s": 1.0}}
REPORTS = {
    "IN_QUEUE": RunPodJob(id="job", status="IN_QUEUE"),
    "IN_PROGRESS_30": RunPodJob(id="job", status="IN_PROGRESS", output={"stage": "denoising", "step": 3, "total": 10}),
    "IN_PROGRESS_70": RunPodJob(id="job", status="IN_PROGRESS", output={"stage": "denoising", "step": 7, "total": 10}),
    "COMPLETED": RunPodJob(id="job", status="COMPLETED", output=DONE),
}


VIDEO_ID = uuid.UUID("00000000-0000-0000-0000-000000000001")


def new_video() -> Video:
    return video_row(id=VIDEO_ID, user_id="u", steps=10, runpod_job_id="job")


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
    assert video.status == VideoStatus.PROCESSING


@pytest.mark.parametrize(
    "first,second",
    [("FAILED", "COMPLETED"), ("COMPLETED", "FAILED"), ("CANCELLED", "COMPLETED"), ("TIMED_OUT", "CANCELLED")],
)
def test_first_terminal_status_wins(first, second):
    video = new_video()
    apply_runpod_status(video, RunPodJob(id="job", status=first, output=DONE, error="boom"))
    status = video.status
    assert apply_runpod_status(video, RunPodJob(id="job", status=second, output=DONE, error="other")) is False
    assert video.status == status


def test_completed_without_video_is_failed_with_reason():
    video = new_video()
    apply_runpod_status(video, RunPodJob(id="job", status="COMPLETED", output={"error": "out of memory"}))
    assert video.status == VideoStatus.FAILED
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


# --- the SQL form agrees with the in-memory form ---------------------------------------------

SQL_REPORTS = [
    *REPORTS.values(),
    RunPodJob(id="job", status="IN_PROGRESS", output={"stage": "encoding", "step": 7, "total": 10}),
    RunPodJob(id="job", status="COMPLETED", output={"error": "no video"}),
    RunPodJob(id="job", status="FAILED", error="boom"),
    RunPodJob(id="job", status="CANCELLED"),
    RunPodJob(id="job", status="TIMED_OUT", delayTime=1200, executionTime=600_000),
    RunPodJob(id="job", status="COMPLETED", output=DONE, delayTime=3000, executionTime=41_000),
    RunPodJob(id="job", status="IN_PROGRESS", output={"step": 9, "total": 10}, delayTime=3000, executionTime=1e99),
]
COMPARED = (
    "status",
    "runpod_status",
    "progress",
    "stage",
    "video_path",
    "poster_path",
    "duration_s",
    "timings",
    "error",
    "delay_ms",
    "execution_ms",
)


def snapshot(video: Video) -> tuple:
    return tuple(getattr(video, name) for name in COMPARED) + (video.completed_at is not None,)


@in_own_loop
async def test_sql_transition_matches_the_in_memory_rule(database_url):
    """Every sequence of three reports: same changed/unchanged answers, same final row."""
    db = Database(make_async_engine(database_url))
    try:
        for sequence in itertools.product(SQL_REPORTS, repeat=3):
            in_memory = new_video()
            in_memory.id, in_memory.runpod_job_id = uuid.uuid4(), f"job-{uuid.uuid4()}"
            async with db.transaction() as connection:
                await connection.execute(sa.insert(Video.__table__).values(in_memory.model_dump(exclude_none=True)))
            stored = in_memory.model_copy()
            for report in sequence:
                changed_in_memory = apply_runpod_status(in_memory, report)
                rows = await db.rows(*transition_update(in_memory.id, in_memory.runpod_job_id, report))
                assert bool(rows) == changed_in_memory, (sequence, report)
                if rows:
                    stored = Video.model_validate(rows[0])
            assert snapshot(stored) == snapshot(in_memory), sequence
    finally:
        await db.engine.dispose()


@in_own_loop
async def test_sql_transition_adopts_a_job_id_not_stored_yet_but_never_another(database_url):
    db = Database(make_async_engine(database_url))
    try:
        video = new_video()
        video.runpod_job_id = None
        async with db.transaction() as connection:
            await connection.execute(sa.insert(Video.__table__).values(video.model_dump(exclude_none=True)))
        done = RunPodJob(id="early-job", status="COMPLETED", output=DONE)
        [row] = await db.rows(*transition_update(video.id, "early-job", done))
        assert (row["runpod_job_id"], row["status"]) == ("early-job", "COMPLETED")
        assert (
            await db.rows(*transition_update(video.id, "other-job", RunPodJob(id="other-job", status="FAILED"))) == []
        )
    finally:
        await db.engine.dispose()


def test_queue_and_gpu_time_are_kept_from_the_final_report_only():
    video = new_video()
    apply_runpod_status(
        video,
        RunPodJob(id="job", status="IN_PROGRESS", output={"step": 1, "total": 4}, delayTime=2500, executionTime=900),
    )
    assert (video.delay_ms, video.execution_ms) == (None, None)  # still growing
    apply_runpod_status(
        video, RunPodJob(id="job", status="COMPLETED", output=DONE, delayTime=2500, executionTime=41_000)
    )
    assert (video.delay_ms, video.execution_ms) == (2500, 41_000)
    odd = new_video()
    apply_runpod_status(odd, RunPodJob(id="job", status="FAILED", delayTime=-5, executionTime=10**400))
    assert (odd.status, odd.delay_ms, odd.execution_ms) == ("FAILED", None, None)
