"""One job contract (worker/contract.py): whatever the app accepts, the worker accepts unchanged."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from openv_app.schemas import GenerationRequest
from openv_app.services.errors import InvalidInput
from worker.contract import (
    MODEL_SPECS,
    MODELS,
    GenerationSettings,
    JobInput,
    JobOutput,
    ModelSpec,
    Progress,
    ProgressReport,
)
from worker.handler import validation_message

# Values around and beyond every bound, valid and not.
fields = st.fixed_dictionaries(
    {},
    optional={
        "prompt": st.one_of(st.text(max_size=30), st.text(min_size=3990, max_size=4010)),
        "negative_prompt": st.text(max_size=30),
        "model": st.sampled_from([*MODELS, "sora", ""]),
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
    # The app sends the settings; a start image goes as its own signed URL, never the id.
    settings_sent = {**request.model_dump(exclude={"start_image_id"}), "seed": request.seed or 0}
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


# --- each model's own bounds ---------------------------------------------------------------------


def _multiples(low: int, high: int, step: int, offset: int = 0) -> st.SearchStrategy[int]:
    return st.integers(-(-(low - offset) // step), (high - offset) // step).map(lambda k: k * step + offset)


@st.composite
def valid_settings(draw: st.DrawFn) -> dict:
    """Settings within one model's bounds; some left out (its defaults then apply)."""
    spec = draw(st.sampled_from(list(MODEL_SPECS.values())))
    values = {
        "prompt": draw(
            st.text(
                st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1, max_size=20
            ).filter(str.strip)
        ),
        "width": draw(_multiples(spec.min_size, spec.max_size, spec.size_multiple)),
        "height": draw(_multiples(spec.min_size, spec.max_size, spec.size_multiple)),
        "num_frames": draw(_multiples(spec.min_frames, spec.max_frames, spec.frame_step, offset=1)),
        "fps": draw(st.integers(spec.min_fps, spec.max_fps)),
        "steps": draw(st.integers(spec.min_steps, spec.max_steps)),
        "guidance_scale": draw(st.floats(spec.min_guidance, spec.max_guidance)),
        "seed": draw(st.integers(0, 2**32 - 1)),
        "image_fit": draw(st.sampled_from(["crop", "pad"])),
    }
    if spec.accepts_image and (not spec.accepts_text_only or draw(st.booleans())):
        values["start_image_url"] = "https://storage.example/start.png?token=t"
    kept = {name: value for name, value in values.items() if name == "prompt" or draw(st.booleans())}
    return {**kept, "model": spec.id}


def as_request(data: dict) -> dict:
    """The same settings as a user asks for them: an uploaded image's id for the start image's
    URL, which only the app makes (it signs its own storage's URL for the worker)."""
    request = {name: value for name, value in data.items() if name != "start_image_url"}
    if "start_image_url" in data:
        request["start_image_id"] = "0190a5a0-0000-7000-8000-000000000000"
    return request


def fits(spec: ModelSpec, field: str, value: float) -> bool:
    """The model's bounds restated field by field: the oracle for the contract's checks."""
    if field in ("width", "height"):
        return spec.min_size <= value <= spec.max_size and value % spec.size_multiple == 0
    if field == "num_frames":
        return spec.min_frames <= value <= spec.max_frames and (value - 1) % spec.frame_step == 0
    low, high = {
        "fps": (spec.min_fps, spec.max_fps),
        "steps": (spec.min_steps, spec.max_steps),
        "guidance_scale": (spec.min_guidance, spec.max_guidance),
    }[field]
    return low <= value <= high


@settings(max_examples=300)
@given(valid_settings())
def test_settings_within_a_models_bounds_are_accepted_unchanged(data):
    spec = MODEL_SPECS[data["model"]]
    job = JobInput.model_validate(data)
    expected = {**spec.defaults(), "negative_prompt": "", "seed": 0, "start_image_url": None, "image_fit": "crop"}
    assert job.model_dump(exclude={"upload", "progress_url"}) == {**expected, **data}
    request = GenerationRequest.parse(as_request(data), max_prompt_length=4000)
    assert request.model_dump(exclude={"seed", "prompt", "start_image_id"}) == job.model_dump(
        exclude={"seed", "prompt", "upload", "progress_url", "start_image_url"}
    ) | {"start_image_url": None}
    assert (request.start_image_id is not None) == (job.start_image_url is not None)


@settings(max_examples=500)
@given(
    valid_settings(),
    st.sampled_from(["width", "height", "num_frames", "fps", "steps", "guidance_scale"]),
    st.integers(0, 1400),
)
def test_settings_outside_a_models_bounds_are_refused_naming_the_field(data, field, value):
    spec = MODEL_SPECS[data["model"]]
    data = {**data, field: value}
    if fits(spec, field, value):
        assert getattr(JobInput.model_validate(data), field) == value
        return
    with pytest.raises(ValidationError) as refused:
        JobInput.model_validate(data)
    assert validation_message(refused.value).startswith(f"invalid input: {field}: ")
    with pytest.raises(InvalidInput) as app_refused:
        GenerationRequest.parse(as_request(data), max_prompt_length=4000)
    assert app_refused.value.field == field


@pytest.mark.parametrize("model", MODELS)
def test_a_start_image_is_taken_only_by_models_that_accept_one(model):
    spec = MODEL_SPECS[model]
    data = {"prompt": "a fox", "model": model, "start_image_url": "https://storage.example/a.png"}
    if spec.accepts_image:
        assert JobInput.model_validate(data).start_image_url == data["start_image_url"]
    else:
        with pytest.raises(ValidationError) as refused:
            JobInput.model_validate(data)
        assert validation_message(refused.value) == (
            f"invalid input: start_image_url: {model} takes no start image (it makes video from text only)"
        )
    if spec.accepts_text_only:
        assert JobInput.model_validate({"prompt": "a fox", "model": model}).start_image_url is None


def test_left_out_settings_take_the_models_defaults():
    ltx = GenerationSettings(prompt="x", model="ltx-video-distilled")
    assert (ltx.width, ltx.height, ltx.num_frames, ltx.fps, ltx.steps, ltx.guidance_scale) == (
        768,
        512,
        121,
        24,
        8,
        1.0,
    )
    wan22 = GenerationSettings(prompt="x", model="wan2.2-ti2v-5b", width=832, height=480)
    assert (wan22.width, wan22.height, wan22.fps, wan22.steps) == (832, 480, 24, 50)
    default = GenerationSettings(prompt="x")
    assert (default.model, default.width, default.height, default.num_frames, default.fps) == (
        "wan2.1-t2v-1.3b",
        832,
        480,
        33,
        16,
    )
    assert MODELS[0] == "wan2.1-t2v-1.3b" and set(MODELS) == set(MODEL_SPECS)


def test_frame_rule_messages_name_the_model_and_examples():
    with pytest.raises(ValidationError) as refused:
        JobInput.model_validate({"prompt": "x", "model": "ltx-video-distilled", "num_frames": 33 + 4})
    assert validation_message(refused.value) == (
        "invalid input: num_frames: must be 8k+1 for ltx-video-distilled (e.g. 25, 49, 97)"
    )
    with pytest.raises(ValidationError) as refused:
        JobInput.model_validate({"prompt": "x", "model": "wan2.2-ti2v-5b", "width": 848})
    assert validation_message(refused.value) == "invalid input: width: must be a multiple of 32 for wan2.2-ti2v-5b"
