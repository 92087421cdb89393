"""The worker's shipped dependency set is the tested one: worker/requirements.txt alone, in a
clean virtualenv, runs the real handler on the tiny engine (what worker/Dockerfile installs)."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from openv_app.settings import PROJECT_ROOT

DOCKERFILE = PROJECT_ROOT / "worker" / "Dockerfile"
REQUIREMENTS = PROJECT_ROOT / "worker" / "requirements.txt"
RUN_HANDLER = """
import http.server, io, json, threading
import runpod  # the SDK the image starts with
from PIL import Image
from worker import progress
updates = []
progress.set_local_reporter(lambda job, update: updates.append(update["stage"]))
from worker.handler import handler
job = {"prompt": "a fox in snow", "width": 128, "height": 128, "num_frames": 9, "fps": 8, "steps": 2, "seed": 3}
result = handler({"id": "j", "input": job})
# An image-to-video job: the start image served over HTTP, fetched and decoded by the worker.
class Image_(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = io.BytesIO()
        Image.new("RGB", (200, 120), (200, 40, 40)).save(body, format="JPEG")
        self.send_response(200)
        self.send_header("content-length", str(len(body.getvalue())))
        self.end_headers()
        self.wfile.write(body.getvalue())
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Image_)
threading.Thread(target=server.serve_forever, daemon=True).start()
image_job = {**job, "model": "ltx-video-distilled", "start_image_url": f"http://127.0.0.1:{server.server_port}/a.jpg"}
image_result = handler({"id": "k", "input": image_job})
print(json.dumps({"result": result, "stages": updates[:4], "image_result": image_result}))
"""


def test_the_image_installs_exactly_the_worker_requirements_on_the_tested_python():
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert [line for line in text.splitlines() if "pip install" in line] == [
        "RUN pip install --no-cache-dir -r /app/worker/requirements.txt"
    ]
    pins = dict(line.split("==") for line in REQUIREMENTS.read_text().splitlines() if "==" in line)
    app_pins = dict(
        line.split("==") for line in (PROJECT_ROOT / "requirements.txt").read_text().splitlines() if "==" in line
    )
    # The app's tests run the worker too: same versions on both sides.
    assert {name: version for name, version in pins.items() if app_pins.get(name) != version} == {}
    assert sys.version_info[:2] == (3, 11)


def test_worker_requirements_alone_run_the_handler(tmp_path: Path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", "-r", str(REQUIREMENTS)],
        check=True,
        timeout=900,
    )
    env = {
        **os.environ,
        "OPENV_ENGINE": "tiny",
        "OPENV_TINY_DIR": str(tmp_path / "tiny"),
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    run = subprocess.run(
        [str(venv / "bin" / "python"), "-c", RUN_HANDLER],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    output = json.loads(run.stdout.strip().splitlines()[-1])
    result = output["result"]
    assert "error" not in result, result
    mp4 = base64.b64decode(result["video"].split(",", 1)[1])
    assert mp4[4:8] == b"ftyp" and (result["width"], result["num_frames"]) == (128, 9)
    assert output["stages"] == ["loading", "denoising", "denoising", "encoding"]
    image_result = output["image_result"]
    assert "error" not in image_result, image_result
    assert (image_result["width"], image_result["num_frames"], image_result["engine"]) == (128, 9, "tiny")
