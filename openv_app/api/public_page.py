"""The public page of a shared video (`/v/{slug}`): plain server-rendered HTML, so chat apps'
link previews read its Open Graph and Twitter card tags without running the Reflex frontend."""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from openv_app.schemas import PublicVideo

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · OpenV</title>
<meta name="description" content="{description}">
<meta name="theme-color" content="#ffffff">
<meta property="og:type" content="video.other">
<meta property="og:site_name" content="OpenV">
<meta property="og:title" content="{title}">
<meta property="og:description" content="{description}">
<meta property="og:url" content="{page_url}">
{image_tags}<meta property="og:video" content="{video_url}">
<meta property="og:video:type" content="video/mp4">
<meta property="og:video:width" content="{width}">
<meta property="og:video:height" content="{height}">
<meta name="twitter:card" content="summary_large_image">
<meta name="twitter:title" content="{title}">
<meta name="twitter:description" content="{description}">
<style>
body {{ font-family: system-ui, sans-serif; max-width: 56rem; margin: 2rem auto; padding: 0 1rem; color: #1c1c24; }}
video {{ width: 100%; height: auto; aspect-ratio: {width} / {height}; border-radius: 0.75rem; background: #000; }}
a.make {{ display: inline-block; margin-top: 1rem; padding: 0.6rem 1rem; border-radius: 0.5rem;
          background: #6e56cf; color: #fff; text-decoration: none; }}
a.make:focus-visible {{ outline: 3px solid #1c1c24; outline-offset: 2px; }}
dl {{ display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; color: #4a4a55; }}
</style>
</head>
<body>
<main>
<h1>OpenV</h1>
<video id="shared-video" controls playsinline preload="metadata" width="{width}" height="{height}" {poster_attr}aria-label="{title}">
<source src="{video_url}" type="video/mp4">
</video>
<p id="shared-prompt">{prompt}</p>
<dl id="shared-settings">
<dt>Size</dt><dd>{width}×{height}</dd>
<dt>Frames</dt><dd>{num_frames} at {fps} fps</dd>
<dt>Steps</dt><dd>{steps}</dd>
<dt>Guidance</dt><dd>{guidance_scale}</dd>
<dt>Seed</dt><dd>{seed}</dd>
</dl>
<a class="make" id="make-your-own" href="{make_your_own}">Make your own</a>
</main>
</body>
</html>
"""

NOT_FOUND = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Not found · OpenV</title></head>
<body><main><h1>This video is not shared</h1><p>The link was revoked or never existed.</p></main></body></html>
"""


def render_public_page(video: PublicVideo, page_url: str, studio_url: str) -> str:
    title = video.prompt if len(video.prompt) <= 70 else video.prompt[:69] + "…"
    description = (
        f"An AI video made with OpenV ({video.width}×{video.height}, {video.num_frames} frames): {video.prompt}"
    )
    poster = escape(video.poster_url or "", quote=True)
    image_tags = f'<meta property="og:image" content="{poster}">\n<meta name="twitter:image" content="{poster}">\n'
    return PAGE.format(
        title=escape(title, quote=True),
        description=escape(description[:300], quote=True),
        page_url=escape(page_url, quote=True),
        image_tags=image_tags if video.poster_url else "",
        poster_attr=f'poster="{poster}" ' if video.poster_url else "",
        video_url=escape(video.video_url, quote=True),
        prompt=escape(video.prompt),
        width=video.width,
        height=video.height,
        num_frames=video.num_frames,
        fps=video.fps,
        steps=video.steps,
        guidance_scale=video.guidance_scale,
        seed=video.seed,
        make_your_own=escape(f"{studio_url}/?{urlencode({'prompt': video.prompt})}", quote=True),
    )


def render_not_found() -> str:
    return NOT_FOUND
