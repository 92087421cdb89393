"""Supabase Storage behind the app's Storage interface, with storage3 (the supabase client's
storage part). The bucket is private: the worker uploads with signed upload URLs and the
browser plays and downloads through signed, expiring URLs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import httpx
from starlette.responses import Response, StreamingResponse
from storage3 import AsyncStorageClient
from storage3.exceptions import StorageApiError, StorageException
from storage3.types import CreateSignedUploadUrlOptions, URLOptions

from openv_app.services.storage import FileTooLarge, StorageError, content_type_for
from openv_app.settings import Settings


def _already_exists(error: StorageApiError) -> bool:
    # Storage answers a duplicate bucket with statusCode "409" and error "Duplicate".
    return (
        str(error.status) == "409"
        or "duplicate" in str(error.code).lower()
        or "already exists" in error.message.lower()
    )


def _is_not_found(error: StorageApiError) -> bool:
    # Storage answers status as a string ("404") and code as "not_found" or a sentence.
    return str(error.status) == "404" or "not found" in str(error.code).lower().replace("_", " ")


class SupabaseStorage:
    def __init__(
        self, url: str, service_key: str, bucket: str, ttl_s: int, http_client: httpx.AsyncClient | None = None
    ) -> None:
        self.bucket = bucket
        self.ttl_s = ttl_s
        self._http = http_client or httpx.AsyncClient(timeout=httpx.Timeout(15.0, connect=5.0))
        self._client = AsyncStorageClient(
            f"{url.rstrip('/')}/storage/v1/",
            {"apiKey": service_key, "Authorization": f"Bearer {service_key}"},
            http_client=self._http,
        )
        self._bucket_ready = False
        self._bucket_lock = asyncio.Lock()

    # Supabase's signed upload URLs are valid for two hours.
    upload_url_lifetime_s = 2 * 3600

    @classmethod
    def from_settings(cls, settings: Settings) -> SupabaseStorage:
        # Settings refuses STORAGE_BACKEND=supabase without both.
        assert settings.supabase_url and settings.supabase_service_role_key
        return cls(
            settings.supabase_url,
            settings.supabase_service_role_key.get_secret_value(),
            settings.supabase_bucket,
            settings.signed_url_ttl_s,
        )

    async def ensure_bucket(self) -> None:
        """Create the bucket, private, if it does not exist yet.

        Safe when several processes do it at once: "already exists" is success.
        """
        if self._bucket_ready:
            return
        async with self._bucket_lock:  # one check per process, however many submits wait
            if self._bucket_ready:
                return
            try:
                await self._client.get_bucket(self.bucket)
            except StorageApiError as error:
                if not _is_not_found(error):
                    raise StorageError(f"storage bucket check failed: {error.message}") from error
                try:
                    await self._client.create_bucket(self.bucket, options={"public": False})
                except StorageApiError as create_error:
                    if not _already_exists(create_error):
                        raise StorageError(
                            f"could not create the storage bucket: {create_error.message}"
                        ) from create_error
                except StorageException as create_error:
                    raise StorageError(f"could not create the storage bucket: {create_error}") from create_error
            self._bucket_ready = True

    async def create_upload_url(self, path: str) -> str:
        await self.ensure_bucket()
        try:
            # upsert must be the string "true": a retried job overwrites its own files.
            signed = await self._client.from_(self.bucket).create_signed_upload_url(
                path, CreateSignedUploadUrlOptions(upsert="true")
            )
        except StorageException as error:
            raise StorageError(f"could not sign an upload URL: {error}") from error
        return signed["signed_url"]

    async def create_download_url(
        self, path: str, download_name: str | None = None, lifetime_s: int | None = None
    ) -> str:
        options: URLOptions | None = {"download": download_name} if download_name else None
        expires_in = max(lifetime_s or 0, self.ttl_s)
        try:
            signed = await self._client.from_(self.bucket).create_signed_url(path, expires_in, options)
        except StorageException as error:
            raise StorageError(f"could not sign a download URL: {error}") from error
        url = signed.get("signedURL")
        if not url:
            raise StorageError(f"storage signed no download URL for {path}")
        return url

    async def store(self, path: str, data: bytes, content_type: str) -> None:
        await self.ensure_bucket()
        try:
            await self._client.from_(self.bucket).upload(path, data, {"content-type": content_type, "upsert": "false"})
        except StorageException as error:
            raise StorageError(f"could not store {path}: {error}") from error

    async def exists(self, path: str) -> bool:
        await self.ensure_bucket()
        try:
            return await self._client.from_(self.bucket).exists(path)
        except StorageException as error:
            raise StorageError(f"could not look for {path}: {error}") from error

    async def read(self, path: str, max_bytes: int) -> bytes:
        _, _, chunks = await self.stream(path, None)
        data = bytearray()
        try:
            async for chunk in chunks:
                data += chunk
                if len(data) > max_bytes:
                    raise FileTooLarge(f"{path}: more than {max_bytes} bytes")
        finally:
            await chunks.aclose()  # closes the response
        return bytes(data)

    async def delete(self, paths: list[str]) -> None:
        try:
            await self._client.from_(self.bucket).remove(paths)
        except StorageApiError as error:
            if not _is_not_found(error):
                raise StorageError(f"could not delete files: {error.message}") from error
        except StorageException as error:
            raise StorageError(f"could not delete files: {error}") from error

    async def list_files(self) -> list[str]:
        """Every file in the bucket: the root holds one folder per user, each folder the video
        files and an `images` folder (Storage lists one level at a time: folders have no id)."""

        async def walk(prefix: str) -> list[str]:
            found: list[str] = []
            for entry in await self._list(prefix):
                path = f"{prefix}/{entry['name']}" if prefix else entry["name"]
                found += [path] if entry.get("id") is not None else await walk(path)
            return found

        try:
            return await walk("")
        except StorageException as error:
            raise StorageError(f"could not list files: {error}") from error

    async def _list(self, prefix: str, page: int = 1000) -> list[dict]:
        entries: list[dict] = []
        while True:
            batch = await self._client.from_(self.bucket).list(prefix, {"limit": page, "offset": len(entries)})
            entries += batch
            if len(batch) < page:
                return entries

    async def aclose(self) -> None:
        await self._http.aclose()

    async def stream(
        self, path: str, byte_range: str | None
    ) -> tuple[int, dict[str, str], AsyncGenerator[bytes, None]]:
        """Proxies the file through a short-lived signed URL, passing a `Range` on."""
        url = await self.create_download_url(path)
        request = self._http.build_request("GET", url, headers={"range": byte_range} if byte_range else None)
        try:
            response = await self._http.send(request, stream=True)
        except httpx.HTTPError as error:
            raise StorageError(f"could not read {path}: {error}") from error
        if response.status_code not in (200, 206):
            await response.aclose()
            raise StorageError(f"could not read {path}: storage answered {response.status_code}")
        passed = {
            name: response.headers[name]
            for name in ("content-length", "content-range", "accept-ranges")
            if name in response.headers
        }

        async def chunks() -> AsyncGenerator[bytes, None]:
            try:
                async for chunk in response.aiter_bytes():
                    yield chunk
            finally:
                await response.aclose()

        return response.status_code, passed, chunks()

    async def serve(self, path: str, byte_range: str | None) -> Response:
        status, headers, chunks = await self.stream(path, byte_range)
        return StreamingResponse(chunks, status_code=status, headers=headers, media_type=content_type_for(path))
