"""The start image of an image-to-video job: downloaded from `start_image_url`, checked,
decoded and fitted to the video's width x height.

Refusals (`StartImageRefused`, told as "invalid input: start_image_url: ..."): an answer of
4xx, a body over `MAX_IMAGE_BYTES`, something that is not a JPEG/PNG/WebP/GIF/BMP image, an
image over `MAX_IMAGE_PIXELS` (checked from its header, before decoding: a decompression
bomb never reaches memory). A failure worth another attempt (`StartImageUnavailable`): no
connection, a timeout, a 5xx/408/429 answer.

The URL is fetched as given (after the contract's http(s) check): the app should only send
URLs of its own storage (signed URLs), never one a user typed, since the worker's network may
reach places the user's cannot.
"""

from __future__ import annotations

import io
import warnings
from typing import Literal

import httpx
from PIL import Image, ImageOps

MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000  # e.g. 8000 x 5000; far above any video size here
FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP"})  # MPO: many cameras' JPEGs
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
_TRANSIENT = frozenset({408, 425, 429})


class StartImageRefused(ValueError):
    """The image cannot be used: asking again gives the same answer."""


class StartImageUnavailable(RuntimeError):
    """The image could not be fetched now: worth another attempt."""


def fetch_start_image(url: str, width: int, height: int, fit: Literal["crop", "pad"] = "crop") -> Image.Image:
    return fit_image(decode_image(download_image(url)), width, height, fit)


def download_image(url: str, max_bytes: int | None = None) -> bytes:
    max_bytes = max_bytes or MAX_IMAGE_BYTES
    where = url.split("?", 1)[0]  # a signed URL's query is a credential: never logged or told
    try:
        with httpx.Client(timeout=TIMEOUT, follow_redirects=True, max_redirects=5) as client:
            with client.stream("GET", url, headers={"accept": "image/*"}) as response:
                status = response.status_code
                if status >= 500 or status in _TRANSIENT:
                    raise StartImageUnavailable(f"start image download failed: HTTP {status} from {where}")
                if not response.is_success:
                    raise StartImageRefused(f"could not download it (HTTP {status})")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise StartImageRefused(_too_large(int(declared), max_bytes))
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise StartImageRefused(_too_large(None, max_bytes))
                return bytes(body)
    except httpx.TooManyRedirects as error:
        raise StartImageRefused("could not download it (too many redirects)") from error
    except httpx.HTTPError as error:  # connection, timeout, protocol
        raise StartImageUnavailable(f"start image download failed: {type(error).__name__} from {where}") from error


def _too_large(size: int | None, max_bytes: int) -> str:
    limit = f"{max_bytes // 2**20} MB" if max_bytes >= 2**20 else f"{max_bytes} bytes"
    return (
        f"the image is {size} bytes, over the limit of {limit}" if size else f"the image is over the limit of {limit}"
    )


def decode_image(data: bytes, max_pixels: int | None = None) -> Image.Image:
    """RGB, upright (EXIF orientation applied), transparency flattened onto black."""
    max_pixels = max_pixels or MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data))  # reads the header only
            if opened.format not in FORMATS:
                raise StartImageRefused(f"not a supported image ({opened.format}; use JPEG, PNG or WebP)")
            width, height = opened.size
            if width * height > max_pixels:
                raise StartImageRefused(f"the image is {width}x{height} pixels, over the limit of {max_pixels}")
            opened.load()
            image = ImageOps.exif_transpose(opened)
    except StartImageRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise StartImageRefused("the image is too large to decode (a decompression bomb?)") from error
    except Exception as error:  # PIL's UnidentifiedImageError, truncated data, bad EXIF...
        raise StartImageRefused("not a readable image (use JPEG, PNG or WebP)") from error
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (0, 0, 0))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def fit_image(image: Image.Image, width: int, height: int, fit: Literal["crop", "pad"] = "crop") -> Image.Image:
    """`crop`: cut the middle to the video's aspect ratio, then resize; `pad`: resize to fit
    inside and letterbox with black."""
    if fit == "pad":
        return ImageOps.pad(image, (width, height), method=Image.Resampling.LANCZOS, color=(0, 0, 0))
    return ImageOps.fit(image, (width, height), method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))
