"""File storage behind one interface: a local folder served by the app (default) or Supabase.

The worker never holds storage keys: it uploads with HTTP PUT to a signed, expiring URL.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlencode

import anyio
from starlette.responses import FileResponse, Response

from openv_app.services.signing import sign, signature_matches

CONTENT_TYPES = {".mp4": "video/mp4", ".jpg": "image/jpeg"}


class StorageError(Exception):
    """A storage operation failed; the caller may retry later."""


class FileNotStored(StorageError):
    """No file is stored at this path."""


class FileTooLarge(StorageError):
    """An upload went past the size limit; nothing was stored."""


class Storage(Protocol):
    # At most this long after `create_upload_url` the URL stops working.
    upload_url_lifetime_s: int

    async def create_upload_url(self, path: str) -> str: ...

    async def create_download_url(
        self, path: str, download_name: str | None = None, lifetime_s: int | None = None
    ) -> str:
        """A signed GET URL, valid for the storage's usual ttl or at least `lifetime_s`."""

    async def store(self, path: str, data: bytes, content_type: str) -> None:
        """Store a file the app made itself (a start image)."""

    async def exists(self, path: str) -> bool: ...

    async def read(self, path: str, max_bytes: int) -> bytes:
        """A stored file's bytes (FileNotStored if missing, FileTooLarge past `max_bytes`)."""

    async def delete(self, paths: list[str]) -> None:
        """Remove files; a file already gone is not an error."""

    async def list_files(self) -> list[str]:
        """Every stored file's path (for the orphan sweep)."""

    async def aclose(self) -> None:
        """Release network clients at shutdown."""

    async def serve(self, path: str, byte_range: str | None) -> Response:
        """An HTTP response with a stored file's bytes, honouring a `Range` (for seeking)."""


URL_EXPIRY_STEP_S = 300


def stable_expiry(ttl_s: int) -> int:
    """Now + ttl, rounded up to a 5-minute step: URLs made moments apart are identical, so the
    browser keeps its cached poster and video across list refreshes."""
    deadline = int(time.time()) + ttl_s
    return -(-deadline // URL_EXPIRY_STEP_S) * URL_EXPIRY_STEP_S


def video_paths(user_id: str, video_id: str) -> tuple[str, str]:
    return f"{user_id}/{video_id}.mp4", f"{user_id}/{video_id}.jpg"


IMAGE_FOLDER = "images"


def image_path(user_id: str, image_id: uuid.UUID | str) -> str:
    """Where a user's start image lives (always re-encoded as JPEG by services/images.py)."""
    return f"{user_id}/{IMAGE_FOLDER}/{image_id}.jpg"


def image_id_of(path: str) -> uuid.UUID | None:
    """The image a stored path is (`{user_id}/images/{image_id}.jpg`), if it is one."""
    parts = path.split("/")
    if len(parts) != 3 or parts[1] != IMAGE_FOLDER or not parts[2].endswith(".jpg"):
        return None
    try:
        image_id = uuid.UUID(parts[2].removesuffix(".jpg"))
    except ValueError:
        return None
    return image_id if image_path(parts[0], image_id) == path else None


def content_type_for(path: str) -> str:
    return CONTENT_TYPES.get(Path(path).suffix, "application/octet-stream")


class LocalStorage:
    """Files in a local folder; the app serves `/api/storage/{path}` with signed query strings."""

    def __init__(self, root: Path, base_url: str, secret: str, ttl_s: int) -> None:
        self.root = root.resolve()
        self.base_url = base_url
        self._secret = secret
        self.ttl_s = ttl_s
        self.upload_url_lifetime_s = ttl_s + URL_EXPIRY_STEP_S  # expiries are rounded up

    @staticmethod
    def _message(method: str, path: str, expires: str, download: str | None) -> str:
        """Everything the URL controls is signed: method, path, expiry, attachment name."""
        return f"{method}\n{path}\n{expires}\n{download or ''}"

    def _signed_url(self, method: str, path: str, download: str | None = None, lifetime_s: int | None = None) -> str:
        expires = str(stable_expiry(max(lifetime_s or 0, self.ttl_s)))
        query = {"expires": expires, "sig": sign(self._secret, self._message(method, path, expires, download))}
        if download:
            query["download"] = download
        return f"{self.base_url}/api/storage/{quote(path)}?{urlencode(query)}"

    def signature_is_valid(
        self, method: str, path: str, expires: str | None, sig: str | None, download: str | None = None
    ) -> bool:
        # ASCII digits only, and short: int() would take other scripts' digits and refuse
        # (with an error) numbers of thousands of digits.
        if not expires or not (expires.isascii() and expires.isdigit() and len(expires) <= 12):
            return False
        if int(expires) < time.time():
            return False
        return signature_matches(self._secret, self._message(method, path, expires, download), sig)

    def file_path(self, path: str) -> Path:
        """The file for a storage path; refuses paths that escape the root."""
        candidate = (self.root / path).resolve()
        if self.root not in candidate.parents:
            raise StorageError(f"invalid storage path: {path!r}")
        return candidate

    async def write(self, path: str, chunks: AsyncIterable[bytes], max_bytes: int) -> int:
        """Stream an upload to disk (file I/O in a worker thread); returns its size.

        Written to a `.part` file first, so readers never see a half-written file.
        """
        target = self.file_path(path)
        partial = target.with_suffix(target.suffix + f".{uuid.uuid4().hex}.part")
        size = 0
        try:
            await anyio.to_thread.run_sync(lambda: target.parent.mkdir(parents=True, exist_ok=True))
            async with await anyio.open_file(partial, "wb") as file:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise FileTooLarge(f"{path}: more than {max_bytes} bytes")
                    await file.write(chunk)
            await anyio.to_thread.run_sync(partial.replace, target)
        except OSError as error:
            raise StorageError(f"could not store {path}: {error}") from error
        finally:
            await anyio.to_thread.run_sync(lambda: partial.unlink(missing_ok=True))
        return size

    async def create_upload_url(self, path: str) -> str:
        return self._signed_url("PUT", path)

    async def create_download_url(
        self, path: str, download_name: str | None = None, lifetime_s: int | None = None
    ) -> str:
        return self._signed_url("GET", path, download_name, lifetime_s)

    async def store(self, path: str, data: bytes, content_type: str) -> None:
        async def whole() -> AsyncIterator[bytes]:
            yield data

        await self.write(path, whole(), len(data))

    async def exists(self, path: str) -> bool:
        file = self.file_path(path)
        return await anyio.to_thread.run_sync(file.is_file)

    async def read(self, path: str, max_bytes: int) -> bytes:
        def read_file() -> bytes:
            file = self.file_path(path)
            if not file.is_file():
                raise FileNotStored(path)
            if file.stat().st_size > max_bytes:
                raise FileTooLarge(f"{path}: more than {max_bytes} bytes")
            return file.read_bytes()

        try:
            return await anyio.to_thread.run_sync(read_file)
        except OSError as error:
            raise StorageError(f"could not read {path}: {error}") from error

    async def delete(self, paths: list[str]) -> None:
        def unlink_all() -> None:
            for path in paths:
                self.file_path(path).unlink(missing_ok=True)

        try:
            await anyio.to_thread.run_sync(unlink_all)
        except OSError as error:
            raise StorageError(str(error)) from error

    async def aclose(self) -> None:
        pass  # no network client

    async def serve(self, path: str, byte_range: str | None, download_name: str | None = None) -> Response:
        """Starlette's FileResponse reads the `Range` header itself (`byte_range` is for the
        backends that pass it on); a download name makes it an attachment."""
        file = self.file_path(path)
        if not file.is_file():
            raise FileNotStored(path)
        return FileResponse(
            file,
            media_type=content_type_for(path),
            filename=download_name,
            content_disposition_type="attachment" if download_name else "inline",
        )

    async def list_files(self) -> list[str]:
        def walk() -> list[str]:
            return [str(file.relative_to(self.root)) for file in self.root.rglob("*") if file.is_file()]

        try:
            return await anyio.to_thread.run_sync(walk)
        except OSError as error:
            raise StorageError(str(error)) from error
