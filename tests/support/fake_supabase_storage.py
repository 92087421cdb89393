"""A local server speaking the Supabase Storage REST endpoints that storage3 calls, so the
real client library sends real requests in tests (Supabase's cloud is unreachable here)."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def storage_error(status: int, error: str, message: str) -> JSONResponse:
    # Supabase sends statusCode as a string.
    return JSONResponse({"statusCode": str(status), "error": error, "message": message}, status_code=status)


@dataclass
class FakeSupabaseStorage:
    service_key: str = "service-role-key"
    buckets: dict[str, dict] = field(default_factory=dict)
    objects: dict[tuple[str, str], tuple[bytes, str]] = field(default_factory=dict)
    upload_tokens: dict[str, tuple[str, str]] = field(default_factory=dict)
    download_tokens: dict[str, tuple[str, str]] = field(default_factory=dict)
    download_lifetimes: dict[str, list[int]] = field(default_factory=dict)  # path: each signed URL's
    fail_next: int = 0  # answer this many requests with a 500
    # Hold bucket checks this long, so that concurrent first submits all find no bucket.
    bucket_check_delay_s: float = 0.0

    def __post_init__(self) -> None:
        prefix = "/storage/v1"
        self.app = Starlette(
            routes=[
                Route(f"{prefix}/bucket/{{bucket}}", self.get_bucket, methods=["GET"]),
                Route(f"{prefix}/bucket", self.create_bucket, methods=["POST"]),
                Route(f"{prefix}/object/upload/sign/{{bucket}}/{{path:path}}", self.sign_upload, methods=["POST"]),
                Route(f"{prefix}/object/upload/sign/{{bucket}}/{{path:path}}", self.upload, methods=["PUT"]),
                Route(f"{prefix}/object/sign/{{bucket}}/{{path:path}}", self.sign_download, methods=["POST"]),
                Route(f"{prefix}/object/sign/{{bucket}}/{{path:path}}", self.download, methods=["GET"]),
                Route(f"{prefix}/object/{{bucket}}", self.remove, methods=["DELETE"]),
                Route(f"{prefix}/object/list/{{bucket}}", self.list_objects, methods=["POST"]),
                Route(f"{prefix}/object/info/{{bucket}}/{{path:path}}", self.info, methods=["GET"]),
                # Last: the generic object path would match the routes above too.
                Route(f"{prefix}/object/{{bucket}}/{{path:path}}", self.upload_with_key, methods=["POST"]),
            ]
        )

    def _refused(self, request: Request) -> Response | None:
        if self.fail_next:
            self.fail_next -= 1
            return storage_error(500, "internal", "storage is having a bad day")
        if request.headers.get("authorization") != f"Bearer {self.service_key}":
            return storage_error(403, "Unauthorized", "invalid JWT")
        return None

    async def get_bucket(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        await asyncio.sleep(self.bucket_check_delay_s)
        bucket = self.buckets.get(request.path_params["bucket"])
        if bucket is None:
            return storage_error(404, "Bucket not found", "Bucket not found")
        return JSONResponse(bucket)

    async def create_bucket(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        body = await request.json()
        if body["id"] in self.buckets:
            return storage_error(409, "Duplicate", "The resource already exists")
        now = datetime.now(UTC).isoformat()
        self.buckets[body["id"]] = {
            "id": body["id"],
            "name": body["name"],
            "owner": "",
            "public": body.get("public", False),
            "created_at": now,
            "updated_at": now,
            "file_size_limit": None,
            "allowed_mime_types": None,
        }
        return JSONResponse({"name": body["id"]})

    async def sign_upload(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        bucket, path = request.path_params["bucket"], request.path_params["path"]
        if bucket not in self.buckets:
            return storage_error(404, "Bucket not found", "Bucket not found")
        token = secrets.token_urlsafe(16)
        self.upload_tokens[token] = (bucket, path)
        return JSONResponse({"url": f"/object/upload/sign/{bucket}/{path}?token={token}"})

    async def upload(self, request: Request) -> Response:
        key = (request.path_params["bucket"], request.path_params["path"])
        if self.upload_tokens.get(request.query_params.get("token", "")) != key:
            return storage_error(400, "InvalidSignature", "invalid upload token")
        if key in self.objects and request.headers.get("x-upsert") != "true":
            return storage_error(409, "Duplicate", "The resource already exists")
        self.objects[key] = (await request.body(), request.headers.get("content-type", "text/plain"))
        return JSONResponse({"Key": "/".join(key)})

    async def upload_with_key(self, request: Request) -> Response:
        """storage3's `upload`: the service key, the file as the multipart form's `file`."""
        if refused := self._refused(request):
            return refused
        key = (request.path_params["bucket"], request.path_params["path"])
        if key[0] not in self.buckets:
            return storage_error(404, "Bucket not found", "Bucket not found")
        if key in self.objects and request.headers.get("x-upsert") != "true":
            return storage_error(409, "Duplicate", "The resource already exists")
        async with request.form() as form:
            upload = form["file"]
            assert not isinstance(upload, str)
            self.objects[key] = (await upload.read(), upload.content_type or "text/plain")
        return JSONResponse({"Key": "/".join(key), "Id": secrets.token_hex(8)})

    async def info(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        key = (request.path_params["bucket"], request.path_params["path"])
        if key not in self.objects:
            return storage_error(404, "not_found", "Object not found")
        data, content_type = self.objects[key]
        return JSONResponse({"name": key[1], "size": len(data), "content_type": content_type})

    async def sign_download(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        key = (request.path_params["bucket"], request.path_params["path"])
        if key not in self.objects:
            return storage_error(404, "not_found", "Object not found")
        body = await request.json()
        assert int(body["expiresIn"]) > 0
        self.download_lifetimes.setdefault(key[1], []).append(int(body["expiresIn"]))
        token = secrets.token_urlsafe(16)
        self.download_tokens[token] = key
        return JSONResponse({"signedURL": f"/object/sign/{key[0]}/{key[1]}?token={token}"})

    async def download(self, request: Request) -> Response:
        key = (request.path_params["bucket"], request.path_params["path"])
        if self.download_tokens.get(request.query_params.get("token", "")) != key or key not in self.objects:
            return storage_error(400, "InvalidSignature", "invalid token")
        data, content_type = self.objects[key]
        headers = {}
        if "download" in request.query_params:
            headers["content-disposition"] = f'attachment; filename="{request.query_params["download"]}"'
        return Response(data, media_type=content_type, headers=headers)

    async def remove(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        bucket = request.path_params["bucket"]
        removed = []
        for path in (await request.json())["prefixes"]:
            if self.objects.pop((bucket, path), None) is not None:
                removed.append({"name": path, "bucket_id": bucket})
        return JSONResponse(removed)

    async def list_objects(self, request: Request) -> Response:
        """Like Storage's list: a folder's direct entries; sub-folders come with id null."""
        if refused := self._refused(request):
            return refused
        body = await request.json()
        bucket, prefix = request.path_params["bucket"], body.get("prefix", "").strip("/")
        entries: dict[str, dict] = {}
        for stored_bucket, path in self.objects:
            if stored_bucket != bucket or (prefix and not path.startswith(prefix + "/")):
                continue
            rest = path[len(prefix) + 1 :] if prefix else path
            name, _, below = rest.partition("/")
            entries[name] = {"name": name, "id": None if below else f"id-{path}", "metadata": None if below else {}}
        ordered = [entries[name] for name in sorted(entries)]
        offset, limit = int(body.get("offset", 0)), int(body.get("limit", 100))
        return JSONResponse(ordered[offset : offset + limit])
