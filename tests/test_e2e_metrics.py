"""`/metrics` of the production app with two backend workers: whichever worker serves a scrape,
it reports every worker's counts (Prometheus' multiprocess mode), the database's job gauges
once, and each live worker's own gauges; the app's log lines are JSON."""

from __future__ import annotations

import ctypes.util
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector

from openv_app.services.stats import STATS_MAX_AGE_S
from tests.support.metrics import scrape, total
from tests.support.processes import PROD_WORKERS, backend_workers
from tests.support.servers import wait_until

REQUEST = {"prompt": "a paper boat on a pond", "width": 128, "height": 128, "num_frames": 9, "fps": 8, "steps": 3}
HEALTH = "/api/health/live"


def health_checks_per_process(metrics_dir: Path) -> dict[str, float]:
    """What each process's own counter file (`counter_<pid>.db`) holds for the liveness route."""
    counts = {}
    for path in metrics_dir.glob("counter_*.db"):
        samples = [sample for m in MultiProcessCollector.merge([str(path)], accumulate=False) for sample in m.samples]
        counts[path.stem.split("_")[-1]] = sum(
            s.value for s in samples if s.name == "openv_http_requests_total" and s.labels.get("route") == HEALTH
        )
    return counts


def test_a_scrape_reports_every_workers_counts_and_the_jobs_once(prod_app):
    before, per_process_before = scrape(prod_app.url), health_checks_per_process(prod_app.metrics_dir)

    video = httpx.post(f"{prod_app.url}/api/runpod", json=REQUEST, timeout=30).json()
    wait_until(
        lambda: httpx.get(f"{prod_app.url}/api/runpod/{video['id']}", timeout=10).json()["status"] == "COMPLETED",
        timeout=120,
        interval=0.5,
    )
    # A new connection each, several at once: the workers share them out.
    checks = 40
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: httpx.get(f"{prod_app.url}{HEALTH}", timeout=10).status_code, range(checks)))
    assert answers == [200] * checks

    def scrape_once_the_job_is_counted() -> list | None:
        found = scrape(prod_app.url)
        completed = [
            value for name, labels, value in found if name == "openv_jobs" and labels == {"status": "COMPLETED"}
        ]
        return found if completed and completed[0] >= 1 else None

    # A worker reads the job gauges from the database at most every STATS_MAX_AGE_S: a scrape
    # served by the worker that served `before` may report that reading until it is that old.
    after = wait_until(scrape_once_the_job_is_counted, timeout=STATS_MAX_AGE_S + 10, interval=0.5)
    per_process_after = health_checks_per_process(prod_app.metrics_dir)

    def added(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    # Counted exactly once each, whichever worker answered, by route template.
    assert added("openv_http_requests_total", method="GET", route=HEALTH, status="200") == checks
    served_by = [pid for pid, count in per_process_after.items() if count > per_process_before.get(pid, 0)]
    assert len(served_by) >= 2, per_process_after
    assert added("openv_http_requests_total", method="POST", route="/api/runpod", status="201") == 1
    assert added("openv_http_requests_total", route="/api/runpod/{video_id}") >= 1
    assert not [labels for _, labels, _ in after if video["id"] in labels.get("route", "")]
    # The job's life: queued on RunPod once, reports from the worker and RunPod's webhook.
    assert added("openv_runpod_requests_total", operation="run", outcome="ok") == 1
    assert added("openv_runpod_request_duration_seconds_count", operation="run") == 1
    assert added("openv_report_handling_seconds_count", source="webhook") >= 1
    assert added("openv_report_handling_seconds_count", source="progress", outcome="changed") >= 1
    assert added("openv_report_handling_seconds_count", outcome="rejected") == 0

    # The database's gauges come once (no pid label), not once per worker.
    [completed] = [value for name, labels, value in after if name == "openv_jobs" and labels == {"status": "COMPLETED"}]
    assert completed >= 1
    assert [labels for name, labels, _ in after if name == "openv_jobs_in_flight"] == [{}]
    assert [labels for name, labels, _ in after if name == "openv_poll_lag_seconds"] == [{}]

    # Each live worker's own gauges, one series per process: a worker killed earlier in the run
    # (test_e2e_faults) is gone, and the supervisor, which has no pool, has none.
    port = urlsplit(prod_app.url).port
    assert port is not None
    workers = {str(process.pid) for process in backend_workers(port)}
    assert len(workers) == PROD_WORKERS
    for gauge in ("openv_db_pool_size", "openv_db_pool_checked_out", "openv_open_tabs", "openv_heap_in_use_bytes"):
        assert {labels["pid"] for name, labels, _ in after if name == gauge} == workers, gauge
    assert all(value == 10 for name, _, value in after if name == "openv_db_pool_size")
    assert all(value > 20 * 2**20 for name, _, value in after if name == "openv_heap_in_use_bytes")  # a loaded app
    assert total(after, "openv_tab_pushes_total") >= 0


@pytest.mark.skipif(ctypes.util.find_library("jemalloc") is None, reason="no jemalloc on this system")
def test_the_backend_workers_run_on_jemalloc(prod_app):
    port = urlsplit(prod_app.url).port
    assert port is not None
    workers = backend_workers(port)
    assert len(workers) == PROD_WORKERS
    for worker in workers:
        assert any("libjemalloc" in region.path for region in worker.memory_maps()), worker.pid


def test_the_apps_log_lines_are_json(prod_app):
    # Each worker's first refresh of its tabs logs at INFO (openv_app.reflex_tokens, relinking).
    lines = [line for line in prod_app.log.read_text().splitlines() if '"logger": "openv_app.' in line]
    assert lines
    for line in lines:
        record = json.loads(line)
        assert {"time", "level", "logger", "message"} <= record.keys()
