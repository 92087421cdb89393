"""Uploads to signed URLs with HTTP PUT, retrying transient failures."""

from __future__ import annotations

import time

import httpx

_TRANSIENT = frozenset({408, 429, 500, 502, 503, 504})


class UploadError(RuntimeError):
    pass


def put_file(url: str, data: bytes, content_type: str, attempts: int = 4, backoff_s: float = 0.5) -> None:
    # httpx's transport retries only failed connections; status-based retries are ours.
    with httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0), transport=httpx.HTTPTransport(retries=2)) as client:
        for attempt in range(1, attempts + 1):
            try:
                response = client.put(url, content=data, headers={"content-type": content_type, "x-upsert": "true"})
            except httpx.HTTPError as error:
                failure = f"{type(error).__name__}: {error}"
            else:
                if response.is_success:
                    return
                failure = f"HTTP {response.status_code}: {response.text[:200]}"
                if response.status_code not in _TRANSIENT:
                    break
            if attempt < attempts:
                time.sleep(backoff_s * 2 ** (attempt - 1))
    raise UploadError(f"upload failed: {failure}")
