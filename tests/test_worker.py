"""The RunPod worker on the CPU, offline: tiny Wan pipeline, encoding, handler contract, uploads."""

from __future__ import annotations

import base64
import io
import json

import av
import httpx
import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from tests.support.factories import tiny_handler_input
from tests.support.servers import ServerThread, wait_until
from worker import handler as worker_handler
from worker import progress
from worker.encode import encode_mp4, encode_poster
from worker.engines import EngineConfig, GenerationParams, load_engine, snap_frames, snap_size
from worker.upload import UploadError, put_file


@pytest.fixture
def tiny_engine(tiny_weights):
    return load_engine(EngineConfig.from_env())


@pytest.fixture
def progress_log():
    updates = []
    progress.set_local_reporter(lambda job, update: updates.append(update))
    yield updates
    progress.set_local_reporter(None)


def params(seed: int) -> GenerationParams:
    return GenerationParams("a red fox", "", 128, 96, 9, 3, 5.0, seed)


def box_order(mp4: bytes) -> list[str]:
    """Top-level MP4 box types in file order."""
    boxes, offset = [], 0
    while offset + 8 <= len(mp4):
        size = int.from_bytes(mp4[offset : offset + 4], "big")
        boxes.append(mp4[offset + 4 : offset + 8].decode("latin-1"))
        if size < 8:
            break
        offset += size
    return boxes


def test_tiny_pipeline_is_the_wan_pipeline_loaded_from_disk(tiny_weights, tiny_engine):
    index = json.loads((tiny_weights / "model_index.json").read_text())
    assert index["_class_name"] == "WanPipeline"
    assert type(tiny_engine.pipeline).__name__ == "WanPipeline"
    assert not any("huggingface" in p.read_text(errors="ignore") for p in tiny_weights.rglob("*.json"))


def test_same_seed_same_frames_other_seed_other_frames(tiny_engine):
    first = tiny_engine.generate(params(1), lambda step, total: None)
    again = tiny_engine.generate(params(1), lambda step, total: None)
    other = tiny_engine.generate(params(2), lambda step, total: None)
    assert first.shape == (9, 96, 128, 3) and first.dtype == np.uint8
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_sizes_snap_to_what_wan_accepts():
    assert [snap_size(v) for v in (100, 128, 130, 480, 833)] == [96, 128, 128, 480, 832]
    assert [snap_frames(v) for v in (1, 8, 9, 33, 80, 81)] == [5, 9, 9, 33, 81, 81]


def test_mp4_decodes_to_requested_frames_size_fps_with_moov_first():
    frames = np.random.default_rng(0).integers(0, 255, (17, 96, 128, 3), dtype=np.uint8)
    mp4 = encode_mp4(frames, fps=16)
    order = box_order(mp4)
    assert order.index("moov") < order.index("mdat")
    with av.open(io.BytesIO(mp4)) as container:
        stream = container.streams.video[0]
        decoded = list(container.decode(stream))
        assert stream.codec_context.name == "h264"
        assert stream.average_rate == 16
        assert decoded[0].format.name == "yuv420p"
    assert len(decoded) == 17 and (decoded[0].width, decoded[0].height) == (128, 96)
    poster = encode_poster(frames)
    assert poster[:2] == b"\xff\xd8"  # JPEG


def test_handler_inline_output_and_progress_in_order(tiny_weights, progress_log):
    result = worker_handler.handler({"id": "job-1", "input": tiny_handler_input(steps=3)})
    assert "error" not in result, result
    assert result["video"].startswith("data:video/mp4;base64,")
    mp4 = base64.b64decode(result["video"].split(",", 1)[1])
    with av.open(io.BytesIO(mp4)) as container:
        assert container.streams.video[0].frames == 9
    assert (result["width"], result["height"], result["num_frames"], result["fps"]) == (128, 128, 9, 8)
    assert result["duration_s"] == pytest.approx(9 / 8)
    assert {"load_s", "generate_s", "encode_s", "total_s"} <= set(result["timings"])
    stages = [u["stage"] for u in progress_log]
    assert stages == ["loading", "denoising", "denoising", "denoising", "encoding"]
    assert [u["step"] for u in progress_log if u["stage"] == "denoising"] == [1, 2, 3]


@pytest.mark.parametrize(
    "bad,field",
    [
        ({"prompt": ""}, "prompt"),
        ({"width": 5000}, "width"),
        ({"steps": 0}, "steps"),
        ({"seed": -3}, "seed"),
        ({"num_frames": "many"}, "num_frames"),
        ({"upload": {"video": ""}}, "upload.video"),
    ],
)
def test_bad_input_returns_an_error_naming_the_field(bad, field):
    result = worker_handler.handler({"id": "job", "input": tiny_handler_input(**bad)})
    assert set(result) == {"error"}
    assert result["error"].startswith(f"invalid input: {field}")
    assert "Traceback" not in result["error"]


def test_missing_input_is_an_error():
    assert "prompt" in worker_handler.handler({"id": "job"})["error"]


class FlakyStore:
    """A PUT target that fails `failures` times with 503, then stores."""

    def __init__(self, failures: int, status: int = 503) -> None:
        self.failures, self.status, self.calls, self.stored = failures, status, 0, {}

    async def handle(self, request):
        self.calls += 1
        if self.calls <= self.failures:
            return Response(status_code=self.status)
        self.stored[request.url.path] = (await request.body(), request.headers["content-type"])
        return Response(status_code=200)


def test_uploads_retry_transient_failures():
    store = FlakyStore(failures=2)
    with ServerThread(Starlette(routes=[Route("/{name}", store.handle, methods=["PUT"])])) as server:
        put_file(f"{server.url}/v.mp4?token=t", b"video-bytes", "video/mp4", backoff_s=0.01)
    assert store.calls == 3
    assert store.stored["/v.mp4"] == (b"video-bytes", "video/mp4")


def test_uploads_fail_cleanly():
    forbidden = FlakyStore(failures=99, status=403)
    with ServerThread(Starlette(routes=[Route("/{name}", forbidden.handle, methods=["PUT"])])) as server:
        with pytest.raises(UploadError, match="403"):
            put_file(f"{server.url}/v.mp4", b"x", "video/mp4", backoff_s=0.01)
        assert forbidden.calls == 1  # a 403 is not retried
        result = worker_handler.handler(
            {"id": "j", "input": tiny_handler_input(upload={"video": f"{server.url}/v.mp4"})}
        )
    assert result == {"error": "upload failed: HTTP 403: "}
    with pytest.raises(UploadError):
        put_file("http://127.0.0.1:9/nothing", b"x", "video/mp4", attempts=2, backoff_s=0.01)


def test_real_handler_end_to_end_through_the_app(app_factory, runpod_factory, tiny_weights):
    """Submit over HTTP → local endpoint runs the real worker → webhook → COMPLETED, file stored."""
    app = app_factory(runpod_factory(worker_handler.handler))
    request = {"prompt": "a paper boat on a lake", "width": 128, "height": 128, "num_frames": 9, "fps": 8, "steps": 3}
    video = httpx.post(f"{app.url}/api/runpod", json=request).json()
    done = wait_until(
        lambda: (
            (b := httpx.get(f"{app.url}/api/runpod/{video['id']}").json())["status"] in ("COMPLETED", "FAILED") and b
        ),
        timeout=60,
    )
    assert done["status"] == "COMPLETED", done["error"]
    assert done["duration_s"] == pytest.approx(9 / 8)
    with av.open(io.BytesIO(httpx.get(done["video_url"]).content)) as container:
        assert container.streams.video[0].frames == 9
    assert httpx.get(done["poster_url"]).headers["content-type"] == "image/jpeg"
