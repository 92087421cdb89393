"""Every model the worker serves, on the CPU and offline: each tiny pipeline is its model's
real diffusers class loaded from disk, image-capable models make clips from a start image
served over HTTP, every model's bounds hold in the contract, and bad start images are refused
with a clear error."""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib

import av
import httpx
import numpy as np
import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tests.support.factories import tiny_handler_input
from tests.support.servers import ServerThread, wait_until
from worker import handler as worker_handler
from worker import progress, start_image
from worker.contract import MODEL_SPECS, MODELS, is_refusal
from worker.engines import EngineConfig, GenerationParams, load_engine, tiny_weights_dir
from worker.start_image import StartImageRefused, decode_image, fit_image

PIPELINE_CLASSES = {
    "wan2.1-t2v-1.3b": ("WanPipeline", None),
    "wan2.2-ti2v-5b": ("WanPipeline", "WanImageToVideoPipeline"),
    "ltx-video-distilled": ("LTXConditionPipeline", "LTXConditionPipeline"),
}
IMAGE_MODELS = [model for model in MODELS if MODEL_SPECS[model].accepts_image]


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def declared_png(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height but whose data is a few bytes: a bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def gradient(width: int = 300, height: int = 200, tint: tuple[int, int, int] = (255, 0, 0)) -> Image.Image:
    ramp = np.linspace(0, 1, width)[None, :, None] * np.array(tint)[None, None, :]
    return Image.fromarray(np.broadcast_to(ramp, (height, width, 3)).astype(np.uint8))


class ImageHost:
    """Files served at /{name}; `status` and `chunked` per name."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, int, bool]] = {}

    def put(self, name: str, body: bytes, status: int = 200, chunked: bool = False) -> str:
        self.files[name] = (body, status, chunked)
        return name

    async def serve(self, request: Request) -> Response:
        body, status, chunked = self.files.get(request.path_params["name"], (b"", 404, False))
        if chunked:

            async def pieces():
                for start in range(0, len(body), 65536):
                    yield body[start : start + 65536]

            return StreamingResponse(pieces(), status_code=status, media_type="image/png")
        return Response(body, status_code=status, media_type="image/png")


@pytest.fixture(scope="module")
def image_host():
    host = ImageHost()
    with ServerThread(Starlette(routes=[Route("/{name}", host.serve)])) as server:
        host.url = server.url  # type: ignore[attr-defined]
        yield host


def url_of(host: ImageHost, name: str) -> str:
    return f"{host.url}/{name}?token=secret"  # type: ignore[attr-defined]


@pytest.fixture
def no_progress():
    progress.set_local_reporter(lambda job, update: None)
    yield
    progress.set_local_reporter(None)


def decoded_frames(result: dict) -> list:
    mp4 = base64.b64decode(result["video"].split(",", 1)[1])
    with av.open(io.BytesIO(mp4)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


# --- each tiny pipeline is its model's real class, from disk -----------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_each_tiny_pipeline_is_its_models_class_loaded_from_disk(tiny_weights, model):
    folder = tiny_weights_dir(model)
    index = json.loads((folder / "model_index.json").read_text())
    text_class, image_class = PIPELINE_CLASSES[model]
    assert index["_class_name"] == text_class
    assert not any("huggingface" in path.read_text(errors="ignore") for path in folder.rglob("*.json"))
    engine = load_engine(EngineConfig.from_env(), model)
    assert (engine.name, engine.model) == ("tiny", model)
    assert type(engine.pipeline).__name__ == text_class  # type: ignore[attr-defined]
    if model.startswith("wan2.2"):
        assert index["expand_timesteps"] is True
        assert type(engine.image_pipeline).__name__ == image_class  # type: ignore[attr-defined]
        assert engine.image_pipeline.transformer is engine.pipeline.transformer  # type: ignore[attr-defined]


# --- start images through the real handler -----------------------------------------------------


@pytest.mark.parametrize("model", IMAGE_MODELS)
def test_image_models_make_a_clip_from_a_start_image(tiny_weights, image_host, no_progress, model):
    spec = MODEL_SPECS[model]
    frames = spec.frame_step + 1
    red = url_of(image_host, image_host.put(f"red-{model}.png", png(gradient())))
    job = tiny_handler_input(model=model, width=160, height=128, num_frames=frames, steps=2, start_image_url=red)
    result = worker_handler.handler({"id": "image-job", "input": job})
    assert "error" not in result, result
    decoded = decoded_frames(result)
    assert len(decoded) == frames == result["num_frames"]
    assert decoded[0].shape == (128, 160, 3) and (result["width"], result["height"]) == (160, 128)
    assert "image_s" in result["timings"]


@pytest.mark.parametrize("model", IMAGE_MODELS)
def test_the_start_image_conditions_the_clip(tiny_weights, model):
    engine = load_engine(EngineConfig.from_env(), model)
    spec = MODEL_SPECS[model]

    def clip(image: Image.Image | None) -> np.ndarray:
        params = GenerationParams("a red fox", "", 64, 64, spec.frame_step + 1, 2, 3.0, 5, fps=24, image=image)
        return engine.generate(params, lambda step, total: None)

    text_only, red, green = clip(None), clip(gradient(64, 64)), clip(gradient(64, 64, (0, 255, 0)))
    assert text_only.shape == red.shape == (spec.frame_step + 1, 64, 64, 3)
    assert not np.array_equal(text_only, red) and not np.array_equal(red, green)
    assert np.array_equal(red, clip(gradient(64, 64)))  # same image, same seed: same clip


def test_text_only_models_refuse_a_start_image(image_host):
    url = url_of(image_host, image_host.put("any.png", png(gradient())))
    result = worker_handler.handler({"id": "j", "input": tiny_handler_input(start_image_url=url)})
    assert result == {
        "error": "invalid input: start_image_url: wan2.1-t2v-1.3b takes no start image (it makes video from text only)"
    }


@pytest.mark.parametrize(
    "name,body,status,chunked,message",
    [
        ("text.png", b"this is not an image", 200, False, "not a readable image"),
        ("svg.png", b"<svg xmlns='http://www.w3.org/2000/svg'/>", 200, False, "not a readable image"),
        ("missing.png", None, 404, False, "could not download it (HTTP 404)"),
        ("huge.png", b"\0" * 2048, 200, False, "over the limit of 1024 bytes"),
        ("huge-chunked.png", b"\0" * 300_000, 200, True, "over the limit of 1024 bytes"),
        ("bomb.png", declared_png(60_000, 60_000), 200, False, "too large to decode"),
        ("big.png", declared_png(8000, 6000), 200, False, "8000x6000 pixels, over the limit"),
    ],
)
def test_bad_start_images_are_refused_clearly(
    tiny_weights, image_host, monkeypatch, name, body, status, chunked, message
):
    if name.startswith("huge"):
        monkeypatch.setattr(start_image, "MAX_IMAGE_BYTES", 1024)
    if body is not None:
        image_host.put(name, body, status, chunked)
    job = tiny_handler_input(model="ltx-video-distilled", start_image_url=url_of(image_host, name))
    result = worker_handler.handler({"id": "j", "input": job})
    assert set(result) == {"error"}
    assert result["error"].startswith("invalid input: start_image_url: ") and message in result["error"]
    assert is_refusal(result["error"]) and "secret" not in result["error"]


def test_an_unreachable_image_host_is_worth_another_attempt(image_host):
    image_host.put("busy.png", b"", 503)
    for url in (url_of(image_host, "busy.png"), "http://127.0.0.1:9/nothing.png"):
        job = tiny_handler_input(model="ltx-video-distilled", start_image_url=url)
        error = worker_handler.handler({"id": "j", "input": job})["error"]
        assert error.startswith("start image download failed: ") and not is_refusal(error)


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/a.png", "data:image/png;base64,AAAA", "https:///no-host", ""]
)
def test_start_image_url_must_be_http(url):
    job = tiny_handler_input(model="wan2.2-ti2v-5b", start_image_url=url)
    result = worker_handler.handler({"id": "j", "input": job})
    assert result["error"].startswith("invalid input: start_image_url: ")


def test_start_images_are_upright_and_fitted():
    # A landscape JPEG whose EXIF says "rotate 90° clockwise to view": decoded as portrait.
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    gradient(200, 100).save(buffer, format="JPEG", exif=exif)
    assert decode_image(buffer.getvalue()).size == (100, 200)
    # Transparency is flattened onto black.
    clear = decode_image(png(Image.new("RGBA", (8, 8), (255, 255, 255, 0))))
    assert clear.mode == "RGB" and clear.getpixel((4, 4)) == (0, 0, 0)
    wide = Image.new("RGB", (300, 100), (0, 0, 255))
    wide.paste((255, 255, 255), (100, 0, 200, 100))  # a white middle third
    cropped = np.asarray(fit_image(wide, 64, 64, "crop"))
    assert cropped.shape == (64, 64, 3) and cropped.min() > 200  # only the white middle is left
    padded = np.asarray(fit_image(wide, 64, 64, "pad"))
    assert padded.shape == (64, 64, 3)
    assert padded[:10].max() == 0 and padded[-10:].max() == 0  # black bars above and below
    assert padded[32, 2, 2] > 200 and padded[32, 32].min() > 200  # the image in the middle band
    with pytest.raises(StartImageRefused):
        decode_image(b"GIF89a broken")


# --- one endpoint per model --------------------------------------------------------------------


def test_a_weights_worker_refuses_other_models(tiny_weights, monkeypatch):
    monkeypatch.setenv("OPENV_ENGINE", "weights")
    monkeypatch.setenv("OPENV_MODEL", "wan2.1-t2v-1.3b")
    monkeypatch.setenv("OPENV_WEIGHTS_DIR", str(tiny_weights))
    job = tiny_handler_input(model="ltx-video-distilled")
    error = worker_handler.handler({"id": "j", "input": job})["error"]
    assert (
        error
        == "model unavailable: this worker serves wan2.1-t2v-1.3b, not ltx-video-distilled (one endpoint per model)"
    )
    assert is_refusal(error)
    # The served model runs from the weights folder with its family's engine.
    result = worker_handler.handler({"id": "j", "input": tiny_handler_input(steps=1)})
    assert result.get("engine") == "wan", result
    # Weights of another model than OPENV_MODEL are refused, not run.
    monkeypatch.setenv("OPENV_MODEL", "wan2.2-ti2v-5b")
    error = worker_handler.handler({"id": "j", "input": tiny_handler_input(model="wan2.2-ti2v-5b")})["error"]
    assert error.startswith("model unavailable: the weights in ") and "not Wan2.2-TI2V-5B" in error


def test_the_local_endpoint_serves_every_model_with_a_start_image(tiny_weights, runpod_factory, image_host):
    """The local RunPod-compatible endpoint runs the real handler on each model's tiny pipeline."""
    local = runpod_factory(worker_handler.handler)
    url = url_of(image_host, image_host.put("endpoint.png", png(gradient(160, 90))))
    headers = {"authorization": f"Bearer {local.api_key}"}
    jobs = {}
    for model in MODELS:
        spec = MODEL_SPECS[model]
        job_input = tiny_handler_input(model=model, num_frames=spec.frame_step + 1, steps=2, image_fit="pad")
        if spec.accepts_image:
            job_input["start_image_url"] = url
        answer = httpx.post(f"{local.base_url}/{local.endpoint_id}/run", json={"input": job_input}, headers=headers)
        jobs[model] = answer.json()["id"]
    for model, job_id in jobs.items():
        done = wait_until(
            lambda job_id=job_id: (
                (body := httpx.get(f"{local.base_url}/{local.endpoint_id}/status/{job_id}", headers=headers).json())[
                    "status"
                ]
                in ("COMPLETED", "FAILED")
                and body
            ),
            timeout=120,
        )
        assert done["status"] == "COMPLETED", (model, done.get("error"))
        assert done["output"]["num_frames"] == MODEL_SPECS[model].frame_step + 1


def test_the_served_model_is_loaded_once_however_it_is_named(tiny_weights):
    config = EngineConfig.from_env()
    assert (
        load_engine(config) is load_engine(config, config.model) is load_engine(EngineConfig.from_env(), config.model)
    )
