"""A start image's bytes: checking an upload (the bytes decide, not the declared type), taking a
clip's last frame, and the one way both are stored: an upright sRGB JPEG without metadata.
Plain functions that block (decoding): `services/images.py` runs them in a worker thread.

Limits: the upload body (`MAX_UPLOAD_BYTES`, read by the caller), the pixels a header may
declare (the worker's own `MAX_IMAGE_PIXELS`, checked before decoding: a decompression bomb
never reaches memory), the shortest side (`MIN_SIDE`). What is stored is at most
`MAX_STORED_PIXELS` (far more than the largest video frame needs).
"""

from __future__ import annotations

import io
import math
import secrets
import uuid
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime

import av
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from openv_app.models import utcnow
from openv_app.services.errors import Conflict, InvalidInput, UnsupportedMediaType
from worker.start_image import MAX_IMAGE_PIXELS

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MIN_SIDE = 64
MAX_STORED_PIXELS = 2048 * 2048
JPEG_QUALITY = 95
# The declared type and the formats its bytes may be (MPO: many cameras' JPEGs). Only these
# decoders are ever tried on an upload.
IMAGE_TYPES = {"image/jpeg": ("JPEG", "MPO"), "image/png": ("PNG",), "image/webp": ("WEBP",)}
_DECODERS = ["JPEG", "PNG", "WEBP"]
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@dataclass(frozen=True)
class EncodedImage:
    data: bytes
    width: int
    height: int


def media_type(content_type: str | None) -> str:
    """The declared type, if it is one of the image types taken (415 otherwise)."""
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared not in IMAGE_TYPES:
        raise UnsupportedMediaType(
            f"content-type: must be one of {', '.join(IMAGE_TYPES)}, with the image as the body",
            field="content-type",
        )
    return declared


def prepare_upload(data: bytes, content_type: str | None) -> EncodedImage:
    """Check an uploaded image and re-encode it for storing; InvalidInput names what is wrong."""
    declared = media_type(content_type)
    if not data:
        raise InvalidInput("body: empty (send the image's bytes as the body)", field="body")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data), formats=_DECODERS)  # reads the header only
            _check_header(opened, declared)
            _draft(opened)
            opened.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise InvalidInput("body: the image is too large to decode (a decompression bomb?)", field="body") from error
    except UnidentifiedImageError as error:
        raise InvalidInput("body: not a JPEG, PNG or WebP image", field="body") from error
    except InvalidInput:
        raise
    except Exception as error:  # truncated or corrupt data
        raise InvalidInput("body: not a readable image (it may be damaged)", field="body") from error
    return encode(_upright(opened))


def _check_header(opened: Image.Image, declared: str) -> None:
    if opened.format not in IMAGE_TYPES[declared]:
        actual = next(name for name, formats in IMAGE_TYPES.items() if opened.format in formats)
        raise InvalidInput(
            f"content-type: the body is a {opened.format} image ({actual}), not {declared}", field="content-type"
        )
    width, height = opened.size
    if width * height > MAX_IMAGE_PIXELS:
        raise InvalidInput(
            f"body: the image is {width}x{height} pixels, over the limit of {MAX_IMAGE_PIXELS}", field="body"
        )
    if min(width, height) < MIN_SIDE:
        raise InvalidInput(
            f"body: the image is {width}x{height} pixels; each side must be at least {MIN_SIDE}", field="body"
        )


def _draft(opened: Image.Image) -> None:
    """A large JPEG is decoded at 1/2, 1/4 or 1/8 scale straight away (still at least the
    stored size): less memory and time for what would be scaled down anyway."""
    if opened.format in ("JPEG", "MPO") and opened.mode in ("RGB", "L"):
        width, height = _stored_size(*opened.size)
        opened.draft(opened.mode, (width, height))


def _upright(image: Image.Image) -> Image.Image:
    """EXIF orientation applied, colours in sRGB, transparency flattened onto black (as the
    worker does)."""
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block: the pixels as they are
        pass
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "CMYK"):
        try:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(image, profile, _SRGB, outputMode="RGB")
            if converted is not None:
                image = converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # an unreadable profile: the pixels as they are
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (0, 0, 0))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def _stored_size(width: int, height: int) -> tuple[int, int]:
    if width * height <= MAX_STORED_PIXELS:
        return width, height
    scale = math.sqrt(MAX_STORED_PIXELS / (width * height))
    return max(1, int(width * scale)), max(1, int(height * scale))


def encode(image: Image.Image) -> EncodedImage:
    """An RGB image as stored: at most MAX_STORED_PIXELS, a high-quality JPEG (4:4:4), no EXIF,
    no ICC profile, no text: nothing of the original file but its pixels."""
    size = _stored_size(*image.size)
    if size != image.size:
        image = image.resize(size, Image.Resampling.LANCZOS)
    clean = Image.new("RGB", image.size)
    clean.paste(image.convert("RGB"))
    buffer = io.BytesIO()
    clean.save(buffer, format="JPEG", quality=JPEG_QUALITY, subsampling=0, optimize=True)
    return EncodedImage(buffer.getvalue(), *clean.size)


def last_frame(mp4: bytes) -> EncodedImage:
    """The last frame of a stored MP4 (all frames are decoded: a clip is short)."""
    last = None
    try:
        with av.open(io.BytesIO(mp4), mode="r") as container:
            for frame in container.decode(video=0):
                last = frame
            image = last.to_image() if last is not None else None
    except (av.FFmpegError, IndexError, ValueError) as error:
        raise Conflict("the video's file cannot be read", field="video_id") from error
    if image is None:
        raise Conflict("the video's file has no frames", field="video_id")
    return encode(image)


# --- image ids: UUIDv7, whose first 48 bits are the upload time (RFC 9562) -----------------------


def new_image_id(now: datetime | None = None) -> uuid.UUID:
    """A random id that also tells when it was made: the orphan sweep spares fresh uploads."""
    ms = int((now or utcnow()).timestamp() * 1000) & (2**48 - 1)
    value = ms << 80 | 0x7 << 76 | secrets.randbits(12) << 64 | 0b10 << 62 | secrets.randbits(62)
    return uuid.UUID(int=value)


def made_at(image_id: uuid.UUID) -> datetime | None:
    """When an image id was made (None for an id that is no UUIDv7)."""
    if image_id.version != 7:
        return None
    return datetime.fromtimestamp((image_id.int >> 80) / 1000, UTC)
