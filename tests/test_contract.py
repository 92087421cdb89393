"""One job contract (worker/contract.py): whatever the app accepts, the worker accepts unchanged."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from openv_app.schemas import GenerationRequest
from openv_app.services.errors import InvalidInput
from worker.contract import JobInput, JobOutput, Progress, ProgressReport
from worker.handler import validation_message

# Values around and beyond every bound, valid and not.
fields = st.fixed_dictionaries(
    {},
    optional={
        "prompt": st.one_of(st.text(max_size=30), st.text(min_size=3990, max_size=4010)),
        "negative_prompt": st.text(max_size=30),
        "model": st.sampled_from(["wan2.1-t2v-1.3b", "sora", ""]),
        "width": st.one_of(st.integers(0, 2000), st.sampled_from([112, 128, 1280, 1296])),
        "height": st.one_of(st.integers(0, 2000), st.sampled_from([112, 128, 1280, 1296])),
        "num_frames": st.integers(0, 200),
        "fps": st.integers(0, 40),
        "steps": st.integers(-1, 120),
        "guidance_scale": st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-1, 25)),
        "seed": st.one_of(st.none(), st.integers(-1, 2**33)),
    },
)


@settings(max_examples=500)
@given(fields)
def test_a_request_the_app_accepts_is_a_job_the_worker_accepts_unchanged(data):
    try:
        request = GenerationRequest.parse(data, max_prompt_length=4000)
    except InvalidInput:
        return
    settings_sent = {**request.model_dump(), "seed": request.seed or 0}
    progress_url = "https://app.example/api/progress?token=t"
    job = JobInput.model_validate(
        {**settings_sent, "upload": {"video": "https://storage/v.mp4"}, "progress_url": progress_url}
    )
    assert job.model_dump(exclude={"upload", "progress_url"}) == settings_sent
    assert job.progress_url == progress_url


def test_the_worker_names_the_field_the_app_would():
    bad = {"prompt": "ok", "width": 100}
    try:
        GenerationRequest.parse(bad, max_prompt_length=1000)
    except InvalidInput as error:
        app_field = error.field
    from pydantic import ValidationError

    try:
        JobInput.model_validate(bad)
    except ValidationError as error:
        worker_message = validation_message(error)
    assert app_field == "width" and worker_message.startswith("invalid input: width:")


def test_output_and_progress_shapes_round_trip():
    output = JobOutput(
        video="v",
        poster=None,
        seed=1,
        width=128,
        height=128,
        num_frames=9,
        fps=8,
        duration_s=1.125,
        engine="tiny",
        timings={"total_s": 0.5},
    )
    assert JobOutput.model_validate(output.model_dump()) == output
    assert Progress.model_validate({"stage": "denoising", "step": 1, "total": 4}).step == 1
    report = ProgressReport(job_id="job-1", stage="encoding", step=4, total=4)
    assert report.model_dump() == {"stage": "encoding", "step": 4, "total": 4, "job_id": "job-1"}
    assert ProgressReport.model_validate_json(report.model_dump_json()) == report
    for job_id in ("", "j" * 256):
        with pytest.raises(ValidationError):
            ProgressReport(job_id=job_id, stage="loading", step=0, total=4)


@pytest.mark.parametrize(
    "url,ok",
    [
        (None, True),
        ("http://127.0.0.1:8000/api/progress?token=abc", True),
        ("HTTPS://app.example/p", True),
        ("https://app.example/p?token=" + "t" * (2000 - 28), True),
        ("https://app.example/p?token=" + "t" * (2001 - 28), False),
        ("ftp://app.example/p", False),
        ("file:///etc/passwd", False),
        ("https:///no-host", False),
        ("not a url", False),
        ("", False),
    ],
)
def test_progress_url_is_an_optional_http_url(url, ok):
    settings_sent = {"prompt": "a fox", "progress_url": url}
    if ok:
        assert JobInput.model_validate(settings_sent).progress_url == url
    else:
        with pytest.raises(ValidationError, match="progress_url"):
            JobInput.model_validate(settings_sent)
