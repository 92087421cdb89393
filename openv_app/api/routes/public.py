"""What anyone may see without signing in: shared videos (Explore), one shared video, its
media served by the app, and its server-rendered page."""

from __future__ import annotations

import functools
import gzip
import logging
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from openv_app.api.deps import Cursor, Service
from openv_app.api.errors import errors
from openv_app.api.explore_page import first_page_html, with_first_page
from openv_app.api.public_page import render_not_found, render_public_page
from openv_app.api.routes.storage import MEDIA_RESPONSES
from openv_app.api.security_headers import frontend_build_dir
from openv_app.schemas import PublicPage, PublicVideo
from openv_app.services.errors import NotFound
from openv_app.services.gallery import shared_page
from openv_app.services.views import PUBLIC_MEDIA, public_media_path, public_view, share_url

log = logging.getLogger(__name__)
router = APIRouter(tags=["public"])


@router.get("/api/public", response_model=PublicPage, responses=errors())
async def shared_videos(
    service: Service, limit: Annotated[int, Query(ge=1, le=100)] = 24, before: Cursor = None
) -> PublicPage:
    """Videos their owners chose to share, newest first (the Explore gallery)."""
    found, next_cursor = await service.queries.shared_videos(limit, before)
    return PublicPage(videos=[public_view(service, video) for video in found], next_cursor=next_cursor)


@router.get("/api/public/{slug}", response_model=PublicVideo, responses=errors(404))
async def public_video(slug: str, service: Service) -> PublicVideo:
    """A shared video, for anyone with its link (no sign-in, no ids)."""
    return public_view(service, await service.queries.public_video(slug))


@router.get(
    "/api/public/{slug}/{name}",
    response_class=Response,
    responses={**MEDIA_RESPONSES, **errors(404, 502)},
)
async def public_media(
    slug: str,
    name: Annotated[str, Path(json_schema_extra={"enum": list(PUBLIC_MEDIA)})],
    request: Request,
    service: Service,
) -> Response:
    """A shared video's file, served by the app (ranges included, for seeking)."""
    path = public_media_path(await service.queries.public_video(slug), name)
    if not path:
        raise NotFound("no such file")
    return await service.storage.serve(path, request.headers.get("range"))


@router.get("/v/{slug}", response_class=HTMLResponse, include_in_schema=False)
async def public_page(slug: str, service: Service) -> HTMLResponse:
    """The shared video's page, rendered on the server so link previews (Open Graph, Twitter
    cards) see its title, poster and video without running JavaScript."""
    try:
        video = public_view(service, await service.queries.public_video(slug))
    except NotFound:
        return HTMLResponse(render_not_found(), status_code=404)
    page_url = share_url(service.settings.public_base_url, slug)
    return HTMLResponse(render_public_page(video, page_url, service.settings.studio_url))


@functools.cache
def built_explore_page() -> str:
    """Reflex's production build, made before the backend starts (`reflex run --env prod`)."""
    try:
        return (frontend_build_dir() / "explore" / "index.html").read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise NotFound("the frontend is not built") from error


@router.api_route("/explore/", methods=["GET", "HEAD"], response_class=HTMLResponse, include_in_schema=False)
async def explore_page(request: Request, service: Service) -> Response:
    """Explore's built page with its first page of shared videos written in, so a phone paints
    the posters without waiting for the page's JavaScript (openv_app/api/explore_page.py)."""
    page = built_explore_page()
    try:
        first = await shared_page(service, None)
    except Exception:  # noqa: BLE001  # the page still works: its state loads the gallery again
        log.warning("Explore served with placeholders: its first page could not be loaded", exc_info=True)
    else:
        served = with_first_page(page, first_page_html(first.cards, bool(first.next_cursor)))
        if served is None:  # a Reflex or Radix upgrade changed the built markup: say so, serve as built
            log.warning("Explore served as built: its page has no placeholders to replace")
        page = served or page
    return html_response(page, request.headers.get("accept-encoding", ""))


def html_response(page: str, accept_encoding: str) -> Response:
    """Gzipped when the browser takes it. By hand for this one page: the built files are served
    precompressed, and a compression middleware would also take on the API's media and ranges."""
    body = page.encode()
    if "gzip" not in accept_encoding:
        return HTMLResponse(body, headers={"Vary": "Accept-Encoding"})
    headers = {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
    return HTMLResponse(gzip.compress(body, compresslevel=6), headers=headers)
