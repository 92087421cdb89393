"""Page speed: Lighthouse on the production build, studio, Explore and a shared page.

Builds the frontend and serves the app as `make prod` does (`reflex run --env prod
--single-port`, one port; PostgreSQL in a scratch database, no Redis, local storage, dev
sign-in), seeds six finished videos of the dev user with real posters and MP4s (one of them
shared), then runs Lighthouse (pinned, installed into `.tools/lighthouse/`) with the system
Chromium on each page in the mobile profile (Lighthouse's default: simulated slow 4G, 4× CPU
slowdown) and the desktop one (`--preset=desktop`), `--runs` times each, and prints the median of
each figure.

    bash -c 'source scripts/setup.sh && python -m bench.page'     # or: make bench-page
    options: --runs 3 --pages studio,explore,shared --profiles mobile,desktop --json out.json
             --cpu-slowdown calibrated (or a number; Lighthouse's own is 4)

Lighthouse's mobile profile slows the CPU down by 4×, relative to the host: a phone on a fast
host, a slower one on a slow host. Its docs calibrate 4× for a high-end desktop (benchmark index
1,500–2,000), which it then turns into a mid-tier phone; `--cpu-slowdown calibrated` instead
slows this host down to that phone (index ~440: the host's index, measured by the warm-up run,
divided by it), so that figures from different hosts can be compared. The table gives the host's
index and the slowdown used.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from openv_app.db import make_sync_engine
from openv_app.models import utcnow
from openv_app.services.auth import DEV_USER_ID
from openv_app.services.storage import video_paths
from openv_app.settings import PROJECT_ROOT
from tests.support.databases import BENCH_ADMIN_URL, migrate, scratch_database
from tests.support.factories import insert_videos, video_row
from tests.support.processes import production_app
from worker.encode import encode_mp4, encode_poster

LIGHTHOUSE_VERSION = "12.2.3"  # 13 wants a newer lock/Node set-up than this project pins
LIGHTHOUSE_DIR = PROJECT_ROOT / ".tools/lighthouse"
LIGHTHOUSE = LIGHTHOUSE_DIR / "node_modules/.bin/lighthouse"
CHROME_PATH = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
PROMPTS = [
    "a kestrel hovering over a wheat field at dawn",
    "rain on a neon-lit street in Tokyo, slow dolly forward",
    "a paper boat drifting down a gutter stream",
    "time-lapse of clouds rolling over a mountain ridge",
    "a cat stretching on a sunny windowsill",
    "waves breaking on black volcanic sand",
]
# Lighthouse's default 4x slowdown on a high-end desktop (index 1,500-2,000) in its docs' table
# of device classes: a mid-tier phone (125-800).
MID_TIER_PHONE_INDEX = 1750 / 4
COLUMNS = ["host index", "CPU ×", "perf", "a11y", "best-pr.", "FCP s", "LCP s", "CLS", "TBT ms", "JS KiB",
           "unused JS KiB"]  # fmt: skip


def install_lighthouse() -> None:
    """Lighthouse from the npm registry into its own prefix (so setup.sh's install keeps it)."""
    if LIGHTHOUSE.exists():
        return
    LIGHTHOUSE_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["npm", "install", "--prefix", ".", "--silent", "--no-audit", "--no-fund", "--no-save", "-E",
         f"lighthouse@{LIGHTHOUSE_VERSION}"],
        cwd=LIGHTHOUSE_DIR,
        check=True,
    )  # fmt: skip


def seed(database_url: str, storage: Path) -> str:
    """Six finished 16:9 videos of the dev user with their files; returns the shared one's slug."""
    slug = "bench-" + uuid.uuid4().hex
    rows = []
    for index, prompt in enumerate(PROMPTS):
        # Wan2.1-T2V-1.3B's 480p size: posters as large as real ones.
        frames = np.zeros((8, 480, 832, 3), dtype=np.uint8)
        frames[..., index % 3] = np.linspace(40, 220, 832, dtype=np.uint8)[None, None, :]
        frames[..., (index + 1) % 3] = np.linspace(200, 30, 480, dtype=np.uint8)[None, :, None]
        video_id = uuid.uuid4()
        video_path, poster_path = video_paths(DEV_USER_ID, str(video_id))
        for path, data in ((video_path, encode_mp4(frames, 8)), (poster_path, encode_poster(frames))):
            (storage / path).parent.mkdir(parents=True, exist_ok=True)
            (storage / path).write_bytes(data)
        done = utcnow() - timedelta(minutes=index)
        rows.append(
            video_row(
                id=video_id, user_id=DEV_USER_ID, prompt=prompt, width=832, height=480, num_frames=8, fps=8,
                status="COMPLETED", runpod_status="COMPLETED", runpod_job_id=f"bench-page-{video_id}",
                progress=100, duration_s=1.0, delay_ms=2100, execution_ms=41000, video_path=video_path,
                poster_path=poster_path, created_at=done, updated_at=done, completed_at=done,
                share_slug=slug if index == 0 else None,
            )
        )  # fmt: skip
    engine = make_sync_engine(database_url)
    try:
        for row in rows:  # one at a time: only the shared one has a slug
            insert_videos(engine, [row])
    finally:
        engine.dispose()
    return slug


def lighthouse(url: str, profile: str, out: Path, cpu_slowdown: float | None = None) -> dict[str, Any]:
    args = [
        str(LIGHTHOUSE), url, "--quiet", "--output=json", f"--output-path={out}",
        "--only-categories=performance,accessibility,best-practices",
        "--chrome-flags=--headless=new --no-sandbox",
    ]  # fmt: skip
    if profile == "desktop":
        args.append("--preset=desktop")
    elif cpu_slowdown is not None:
        args.append(f"--throttling.cpuSlowdownMultiplier={cpu_slowdown}")
    subprocess.run(args, env={**os.environ, "CHROME_PATH": CHROME_PATH}, check=True, timeout=300)
    return json.loads(out.read_text())


def calibrated_slowdown(host_index: float) -> float:
    """The CPU slowdown that makes this host a mid-tier phone; never a speed-up."""
    return max(1.0, round(host_index / MID_TIER_PHONE_INDEX, 1))


def figures(report: dict[str, Any]) -> dict[str, float]:
    audits, categories = report["audits"], report["categories"]
    scripts = [i for i in audits["resource-summary"]["details"]["items"] if i["resourceType"] == "script"]
    unused = audits["unused-javascript"].get("details") or {}
    return {
        "host index": report["environment"]["benchmarkIndex"],
        "CPU ×": report["configSettings"]["throttling"]["cpuSlowdownMultiplier"],
        "perf": round(100 * (categories["performance"]["score"] or 0)),
        "a11y": round(100 * (categories["accessibility"]["score"] or 0)),
        "best-pr.": round(100 * (categories["best-practices"]["score"] or 0)),
        "FCP s": audits["first-contentful-paint"]["numericValue"] / 1000,
        "LCP s": audits["largest-contentful-paint"]["numericValue"] / 1000,
        "CLS": audits["cumulative-layout-shift"]["numericValue"],
        "TBT ms": audits["total-blocking-time"]["numericValue"],
        "JS KiB": (scripts[0]["transferSize"] if scripts else 0) / 1024,
        "unused JS KiB": unused.get("overallSavingsBytes", 0) / 1024,
    }


def failing(report: dict[str, Any]) -> list[str]:
    """The audits that cost accessibility or best-practices points, by id."""
    refs = [ref for name in ("accessibility", "best-practices") for ref in report["categories"][name]["auditRefs"]]
    return [ref["id"] for ref in refs if ref["weight"] and (report["audits"][ref["id"]]["score"] or 0) < 1]


def shifted(report: dict[str, Any]) -> list[str]:
    """What moved after paint: each layout shift's element and score, largest first."""
    items = (report["audits"].get("layout-shifts", {}).get("details") or {}).get("items", [])
    return [f"{item['node'].get('selector', '?')} {item['score']:.3f}" for item in items[:3] if "node" in item]


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {column: statistics.median(run[column] for run in runs) for column in COLUMNS}


def print_table(rows: dict[tuple[str, str], dict[str, float]]) -> None:
    print("| page | profile | " + " | ".join(COLUMNS) + " |")
    print("|---|---|" + "---|" * len(COLUMNS))
    for (page, profile), values in rows.items():
        cells = [
            f"{values[c]:.0f}" if c in ("host index", "perf", "a11y", "best-pr.", "TBT ms", "JS KiB", "unused JS KiB")
            else f"{values[c]:.3f}" if c == "CLS" else f"{values[c]:.1f}" if c == "CPU ×" else f"{values[c]:.2f}"
            for c in COLUMNS
        ]  # fmt: skip
        print(f"| {page} | {profile} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pages", default="studio,explore,shared")
    parser.add_argument("--profiles", default="mobile,desktop")
    parser.add_argument("--json", type=Path, help="also write every run's figures here")
    parser.add_argument("--reports", type=Path, help="keep Lighthouse's full reports in this folder")
    parser.add_argument("--cpu-slowdown", default="4", help="mobile profile's CPU slowdown: a number or 'calibrated'")
    args = parser.parse_args()
    if args.cpu_slowdown != "calibrated" and not args.cpu_slowdown.replace(".", "", 1).isdigit():
        parser.error("--cpu-slowdown: a number or 'calibrated'")
    install_lighthouse()
    with tempfile.TemporaryDirectory() as folder, scratch_database(BENCH_ADMIN_URL, "openv_page") as database:
        work = args.reports or Path(folder)
        work.mkdir(parents=True, exist_ok=True)
        migrate(database)
        slug = seed(database, work / "storage")
        log = work / "reflex.log"
        env = {"LOCAL_STORAGE_DIR": str(work / "storage"), "RUNPOD_API_KEY": ""}
        with production_app(database, "bench-secret", log, **env) as url:
            paths = {"studio": "/", "explore": "/explore/", "shared": f"/v/{slug}"}
            every: dict[tuple[str, str], list[dict[str, float]]] = {}
            host_indexes = [  # a first, uncounted run per page
                lighthouse(url + paths[page], "desktop", work / "warm-up.json")["environment"]["benchmarkIndex"]
                for page in args.pages.split(",")
            ]
            calibrate = args.cpu_slowdown == "calibrated"
            slowdown = calibrated_slowdown(statistics.median(host_indexes)) if calibrate else float(args.cpu_slowdown)
            for profile in args.profiles.split(","):
                for page in args.pages.split(","):
                    for run in range(args.runs):
                        out = work / f"{page}-{profile}-{run}.json"
                        report = lighthouse(url + paths[page], profile, out, slowdown)
                        every.setdefault((page, profile), []).append(figures(report))
                        shown = {key: round(value, 3) for key, value in every[(page, profile)][-1].items()}
                        print(page, profile, run, shown, failing(report), shifted(report), flush=True)
    version = subprocess.run([CHROME_PATH, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"\nLighthouse {LIGHTHOUSE_VERSION}, {version}, medians of {args.runs} runs (after a warm-up run per page)\n")
    print_table({key: medians(runs) for key, runs in every.items()})
    if args.json:
        args.json.write_text(json.dumps({f"{p}/{q}": runs for (p, q), runs in every.items()}, indent=1))


if __name__ == "__main__":
    main()
