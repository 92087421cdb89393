"""A choice of models, each on its own RunPod endpoint: RUNPOD_ENDPOINTS, routing every RunPod
call by the video's model, refusing a model no endpoint serves, `GET /api/models`, the form's
presets per model, and (Hypothesis) that what the app accepts for a model its worker accepts."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from pydantic import ValidationError

from openv_app.models import Video
from openv_app.schemas import GenerationRequest, settings_of
from openv_app.services.endpoints import Endpoints, ModelUnavailable
from openv_app.services.errors import InvalidInput
from openv_app.services.poller import poll_once
from openv_app.services.runpod_client import RunPodClient
from openv_app.services.signing import callback_url
from openv_app.settings import Settings
from openv_app.states import presets
from tests.support.factories import insert_videos, video_row
from tests.support.handlers import GatedHandler, quick_video_handler
from tests.support.servers import wait_until
from worker.contract import DEFAULT_MODEL, MODEL_SPECS, MODELS, JobInput

WAN, WAN22, LTX = "wan2.1-t2v-1.3b", "wan2.2-ti2v-5b", "ltx-video-distilled"
# Small, valid settings for each model (LTX: sizes ×32, frames 8k+1, at least 8 fps, ≤ 20 steps).
SMALL = {
    WAN: {"width": 256, "height": 144, "num_frames": 9, "fps": 8, "steps": 4},
    LTX: {"width": 256, "height": 128, "num_frames": 9, "fps": 8, "steps": 4},
}


# --- RUNPOD_ENDPOINTS ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        '{"wan2.1-t2v-1.3b": "abc123", "ltx-video-distilled": "def-456"}',
        "wan2.1-t2v-1.3b=abc123, ltx-video-distilled=def-456",
        " ltx-video-distilled = def-456 ,wan2.1-t2v-1.3b=abc123, ",
    ],
)
def test_runpod_endpoints_read_as_json_or_pairs_in_the_registrys_order(monkeypatch, value):
    monkeypatch.setenv("RUNPOD_ENDPOINTS", value)
    monkeypatch.setenv("RUNPOD_API_KEY", "rp-key")
    config = Settings(_env_file=None)
    assert config.model_endpoints == {WAN: "abc123", LTX: "def-456"}
    assert list(config.model_endpoints) == [WAN, LTX]


@pytest.mark.parametrize(
    "value,says",
    [
        ("sora=abc", "unknown model 'sora'"),
        ('{"wan2.1-t2v-1.3b": "abc/../x"}', "is not a RunPod endpoint id"),
        ("wan2.1-t2v-1.3b=", "is not a RunPod endpoint id"),
        ('{"wan2.1-t2v-1.3b": 7}', "is not a RunPod endpoint id"),
        ("wan2.1-t2v-1.3b", "is not model=endpoint_id"),
        ('{"wan2.1-t2v-1.3b": "a"', "is not valid JSON"),
        ('["wan2.1-t2v-1.3b"]', "is not model=endpoint_id"),
        ("wan2.1-t2v-1.3b=a,wan2.1-t2v-1.3b=b", "names wan2.1-t2v-1.3b twice"),
    ],
)
def test_a_bad_runpod_endpoints_stops_the_app_naming_the_variable(monkeypatch, value, says):
    monkeypatch.setenv("RUNPOD_ENDPOINTS", value)
    with pytest.raises(ValidationError, match="RUNPOD_ENDPOINTS") as refused:
        Settings(_env_file=None)
    assert says in str(refused.value)


def test_a_bad_runpod_endpoint_id_stops_the_app_naming_it(monkeypatch):
    monkeypatch.setenv("RUNPOD_ENDPOINT_ID", "abc?x=1")
    with pytest.raises(ValidationError, match="RUNPOD_ENDPOINT_ID"):
        Settings(_env_file=None)


def test_without_runpod_endpoints_the_endpoint_serves_the_default_model_or_locally_every_model():
    assert Settings(_env_file=None, runpod_api_key="k", runpod_endpoint_id="abc").model_endpoints == {
        DEFAULT_MODEL: "abc"
    }
    assert Settings(_env_file=None).model_endpoints == dict.fromkeys(MODELS, "local")  # the local endpoint
    # Set, RUNPOD_ENDPOINTS decides, with the local endpoint too.
    assert Settings(_env_file=None, runpod_endpoints=f"{LTX}=local").model_endpoints == {LTX: "local"}


# --- routing ---------------------------------------------------------------------------------------


def test_one_client_per_endpoint_and_each_model_routed_to_its_own():
    config = Settings(
        _env_file=None,
        runpod_api_key="rp-key",
        runpod_base_url="https://api.runpod.ai/v2",
        runpod_endpoints=f"{WAN}=wan-ep,{WAN22}=shared-ep,{LTX}=shared-ep",
    )
    endpoints = Endpoints.from_settings(config)
    assert endpoints.models() == [WAN, WAN22, LTX] and endpoints.default_model == WAN
    assert endpoints.for_model(WAN).endpoint_url == "https://api.runpod.ai/v2/wan-ep"
    assert endpoints.for_model(LTX).endpoint_url == "https://api.runpod.ai/v2/shared-ep"
    assert endpoints.for_model(LTX) is endpoints.for_model(WAN22)  # one client per endpoint
    assert len(endpoints.all()) == 2


def test_a_model_no_endpoint_serves_is_refused_naming_the_field():
    endpoints = Endpoints({LTX: RunPodClient("http://127.0.0.1:9/v2", "ltx", "k")})
    with pytest.raises(ModelUnavailable) as refused:
        endpoints.for_model(WAN)
    assert refused.value.field == "model"
    assert refused.value.message == f"model: {WAN} is not available on this instance (available: {LTX})"
    with pytest.raises(InvalidInput, match="must be one of ltx-video-distilled"):
        endpoints.checked_request({"prompt": "x", "model": "sora"})
    # A request naming no model gets the instance's default, not the registry's.
    assert endpoints.checked_request({"prompt": "x"}) == {"prompt": "x", "model": LTX}
    assert endpoints.checked_request("not a dict") == "not a dict"


# --- over HTTP: two endpoints, one per model -------------------------------------------------------


@pytest.fixture
def two_endpoints(app_factory, runpod_factory):
    """The app with Wan2.1 and LTX each on a local endpoint of its own. LTX's worker holds its
    first job running until the test releases it, and its endpoint sends no webhooks: only
    asking it (`/status`) finishes its jobs."""
    gate = GatedHandler()
    wan = runpod_factory(quick_video_handler)
    ltx = runpod_factory(gate, webhook_attempts=0)
    wan.endpoint_id, ltx.endpoint_id = "wan-endpoint", "ltx-endpoint"
    app = app_factory(endpoints={WAN: wan, LTX: ltx})
    return app, wan, ltx, gate


def submit(app, model: str | None, **extra) -> httpx.Response:
    body = {"prompt": f"a kite, made by {model}", **SMALL[model or WAN], **extra}
    return httpx.post(f"{app.url}/api/runpod", json=body | ({"model": model} if model else {}), timeout=30)


def status_of(app, video_id: str) -> dict:
    return httpx.get(f"{app.url}/api/runpod/{video_id}").json()


def runpod_calls(endpoint: str, operation: str) -> float:
    labels = {"endpoint": endpoint, "operation": operation, "outcome": "ok"}
    return REGISTRY.get_sample_value("openv_runpod_requests_total", labels) or 0.0


def test_each_job_goes_to_its_models_endpoint_and_so_do_cancel_retries_polls_and_health(two_endpoints):
    app, wan, ltx, gate = two_endpoints
    runs_before = runpod_calls("ltx-endpoint", "run")
    on_wan, on_ltx, unnamed = submit(app, WAN).json(), submit(app, LTX).json(), submit(app, None).json()
    assert set(wan.endpoint.jobs) == {on_wan["runpod_job_id"], unnamed["runpod_job_id"]}
    assert set(ltx.endpoint.jobs) == {on_ltx["runpod_job_id"]}
    assert ltx.endpoint.jobs[on_ltx["runpod_job_id"]].input["model"] == LTX
    assert unnamed["model"] == WAN  # the instance's default
    assert runpod_calls("ltx-endpoint", "run") == runs_before + 1  # RunPod's metrics name the endpoint

    # Health: each model's endpoint, telling about its own worker.
    assert gate.started.wait(10)
    for video in (on_wan, unnamed):
        wait_until(lambda: status_of(app, video["id"])["status"] == "COMPLETED", timeout=20)  # by webhook
    health = httpx.get(f"{app.url}/api/runpod").json()
    assert set(health) == {WAN, LTX}
    assert health[LTX]["workers"] == {"idle": 0, "running": 1} and health[WAN]["workers"] == {"idle": 1, "running": 0}

    # Cancel on LTX's endpoint; the retry (a new video, same settings) is queued there too.
    assert httpx.post(f"{app.url}/api/runpod/{on_ltx['id']}/cancel", json={}).json()["status"] == "CANCELLED"
    assert ltx.endpoint.jobs[on_ltx["runpod_job_id"]].status == "CANCELLED"
    retried = httpx.post(f"{app.url}/api/runpod/{on_ltx['id']}/retry", json={}).json()
    assert retried["model"] == LTX and retried["runpod_job_id"] in ltx.endpoint.jobs

    # An automatic retry (RunPod says the worker died) is queued on the same endpoint.
    died = {"id": retried["runpod_job_id"], "status": "FAILED", "error": "worker exited with exit code 137"}
    assert httpx.post(callback_url(app.url, "test-webhook-secret", "webhook", retried["id"], 0), json=died).is_success
    again = status_of(app, retried["id"])
    assert again["attempts"] == 1 and again["runpod_job_id"] in ltx.endpoint.jobs
    assert len(ltx.endpoint.jobs) == 3 and len(wan.endpoint.jobs) == 2

    # Polls: no webhook comes from LTX's endpoint; asking it (not Wan's) completes the job.
    gate.release.set()
    wait_until(lambda: ltx.endpoint.jobs[again["runpod_job_id"]].status == "COMPLETED", timeout=30)
    wait_until(lambda: app.run(poll_once(app.service)) >= 0 and status_of(app, retried["id"])["status"] == "COMPLETED")


def test_jobs_of_a_model_no_longer_served_are_cancelled_locally_and_fail_when_polled(two_endpoints, engine):
    """The operator took the model's endpoint away while its jobs were in flight."""
    app, wan, ltx, _ = two_endpoints
    orphaned = [
        video_row(user_id="dev-user", model=WAN22, status="PROCESSING", runpod_status="IN_PROGRESS", runpod_job_id=job)
        for job in ("job-polled", "job-cancelled")
    ]
    polled, cancelled = insert_videos(engine, orphaned)
    response = httpx.post(f"{app.url}/api/runpod/{cancelled.id}/cancel", json={})
    assert response.status_code == 200 and response.json()["status"] == "CANCELLED"  # no endpoint asked
    app.run(poll_once(app.service))
    failed = status_of(app, str(polled.id))
    assert failed["status"] == "FAILED" and f"no longer has a RunPod endpoint for {WAN22}" in failed["error"]
    assert not wan.endpoint.jobs and not ltx.endpoint.jobs


def test_a_model_without_an_endpoint_is_400_naming_the_field(two_endpoints):
    app, wan, ltx, _ = two_endpoints
    refused = httpx.post(f"{app.url}/api/runpod", json={"prompt": "a comet", "model": WAN22})
    assert refused.status_code == 400
    assert refused.json() == {
        "error": f"model: {WAN22} is not available on this instance (available: {WAN}, {LTX})",
        "field": "model",
    }
    unknown = httpx.post(f"{app.url}/api/runpod", json={"prompt": "a comet", "model": "sora"})
    assert unknown.status_code == 400 and unknown.json()["field"] == "model"
    assert not wan.endpoint.jobs and not ltx.endpoint.jobs
    assert httpx.get(f"{app.url}/api/videos").json()["videos"] == []  # nothing stored


def test_api_models_lists_exactly_the_configured_ones_with_bounds_and_defaults(two_endpoints):
    app, *_ = two_endpoints
    response = httpx.get(f"{app.url}/api/models")  # public: no session needed
    assert response.status_code == 200
    body = response.json()
    assert [model["id"] for model in body["models"]] == [WAN, LTX] and body["default_model"] == WAN
    ltx = body["models"][1]
    assert ltx["name"] == "LTX-Video distilled" and ltx["accepts_image"] is True and ltx["default"] is False
    assert ltx["bounds"]["size"] == {"min": 128, "max": 1280, "multiple_of": 32}
    assert ltx["bounds"]["num_frames"] == {"min": 9, "max": 257, "step": 8}
    assert ltx["bounds"]["steps"] == {"min": 1, "max": 20} and ltx["bounds"]["guidance_scale"] == {"min": 1, "max": 5}
    assert ltx["defaults"] == MODEL_SPECS[LTX].defaults()
    schema = httpx.get(f"{app.url}/api/openapi.json").json()
    documented = schema["paths"]["/api/models"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert documented == {"$ref": "#/components/schemas/ModelList"}


# --- the form's presets, and what the app accepts, against each model's worker contract ---------


@pytest.mark.parametrize("model", MODELS)
def test_every_preset_of_the_form_is_a_request_the_model_and_its_worker_accept(model):
    spec = MODEL_SPECS[model]
    assert presets.native_resolution(spec) in presets.resolutions_for(spec)
    for aspect in presets.ASPECTS:
        for resolution in presets.resolutions_for(spec):
            for duration in presets.durations_for(spec):
                width, height = presets.size_for(aspect, resolution, spec)
                request = {"prompt": "x", "model": model, "width": width, "height": height}
                request |= {"num_frames": presets.frames_for(duration, spec), "fps": spec.default_fps}
                accepted = GenerationRequest.parse(request, 1000)
                JobInput.model_validate({**accepted.model_dump(), "seed": 1})


def size(spec):
    return st.one_of(
        st.integers(spec.min_size // spec.size_multiple, spec.max_size // spec.size_multiple).map(
            lambda k: k * spec.size_multiple
        ),
        st.integers(0, 2000),  # mostly refused
    )


@st.composite
def requests(draw) -> dict:
    """Requests for any model: mostly within its bounds, sometimes not, some fields left out."""
    spec = MODEL_SPECS[draw(st.sampled_from(MODELS))]
    frames = st.integers(0, spec.max_frames // spec.frame_step).map(lambda k: k * spec.frame_step + 1)
    fields = {
        "width": size(spec),
        "height": size(spec),
        "num_frames": st.one_of(frames, st.integers(0, 300)),
        "fps": st.integers(spec.min_fps - 2, spec.max_fps + 2),
        "steps": st.integers(spec.min_steps - 1, spec.max_steps + 5),
        "guidance_scale": st.floats(spec.min_guidance - 1, spec.max_guidance + 1, allow_nan=False),
        "seed": st.one_of(st.none(), st.integers(0, 2**32 - 1)),
        "negative_prompt": st.text(max_size=20),
    }
    chosen = draw(st.dictionaries(st.sampled_from(sorted(fields)), st.just(None), max_size=len(fields)))
    request = {name: draw(fields[name]) for name in chosen}
    return {"prompt": draw(st.text(min_size=1, max_size=40)), "model": spec.id, **request}


@settings(max_examples=400, deadline=None)
@given(requests())
def test_what_the_app_accepts_for_a_model_its_worker_contract_accepts_unchanged(request):
    try:
        accepted = GenerationRequest.parse(request, 1000)
    except InvalidInput:
        return
    # As the app stores it (a seed chosen when left out) and sends it (queueing.RunPodQueue.send).
    video = Video(user_id="u", **accepted.model_dump(exclude={"seed"}), seed=accepted.seed or 7)
    sent = settings_of(video)
    job = JobInput.model_validate({**sent, "upload": {"video": "https://storage.example/v.mp4"}})
    assert {name: getattr(job, name) for name in sent} == sent
    assert job.model == request["model"]
