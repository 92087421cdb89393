"""Frames to a browser-playable MP4 (H.264, yuv420p, faststart) and a JPEG poster, via PyAV."""

from __future__ import annotations

import io
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image


def encode_mp4(frames: np.ndarray, fps: int, crf: int = 20) -> bytes:
    """`frames`: uint8 RGB (n, height, width, 3) with even sides."""
    _, height, width, _ = frames.shape
    with tempfile.TemporaryDirectory() as folder:
        # faststart rewrites the file to move `moov` first, so it needs a real, seekable file.
        path = Path(folder) / "video.mp4"
        with av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
            stream = container.add_stream("libx264", rate=Fraction(fps))
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.options = {"crf": str(crf), "preset": "medium"}
            for rgb in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        return path.read_bytes()


def encode_poster(frames: np.ndarray, quality: int = 88) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(frames[len(frames) // 2]).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
