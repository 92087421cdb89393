"""Scrapes of the production app's `/metrics`, as the operator's Prometheus makes them."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.processes import PROD_METRICS_TOKEN

Samples = list[tuple[str, dict[str, str], float]]


def scrape(url: str) -> Samples:
    response = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {PROD_METRICS_TOKEN}"}, timeout=10)
    assert response.status_code == 200, response.text
    return [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    ]


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(
        value for found, found_labels, value in samples if found == name and labels.items() <= found_labels.items()
    )
