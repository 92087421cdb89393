"""RUNPOD_ENDPOINTS: which RunPod endpoint serves which model, as the operator writes it.

Read by `settings.py` (it turns a bad value into a start-up error naming the variable).
"""

from __future__ import annotations

import json
import re
from typing import Any

from worker.contract import MODELS

# A RunPod endpoint id: it goes into the API's URL path (`/v2/{endpoint_id}/run`).
ENDPOINT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
VARIABLE = "RUNPOD_ENDPOINTS"


def _pairs(value: Any) -> list[tuple[Any, Any]]:
    if isinstance(value, dict):
        return list(value.items())
    if not isinstance(value, str):
        raise ValueError(f'{VARIABLE} must be JSON {{"model": "endpoint_id"}} or model=endpoint_id,...')
    text = value.strip()
    if text.startswith("{"):
        try:
            pairs = json.loads(text, object_pairs_hook=list)
        except ValueError as error:
            raise ValueError(f"{VARIABLE} is not valid JSON ({error})") from error
        if not isinstance(pairs, list):
            raise ValueError(f'{VARIABLE} must be a JSON object {{"model": "endpoint_id"}}')
        return [tuple(pair) for pair in pairs]
    found = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        model, equals, endpoint = item.partition("=")
        if not equals:
            raise ValueError(f"{VARIABLE}: {item[:80]!r} is not model=endpoint_id")
        found.append((model.strip(), endpoint.strip()))
    return found


def parse_model_endpoints(value: Any) -> dict[str, str]:
    """RUNPOD_ENDPOINTS as a mapping model id -> endpoint id, from JSON (`{"model": "id"}`) or
    `model=id,model=id`: every model id one the worker knows, every endpoint id RunPod's kind,
    no model twice. Empty: {} (RUNPOD_ENDPOINT_ID decides)."""
    endpoints: dict[str, str] = {}
    for model, endpoint in _pairs(value):
        if model not in MODELS:
            raise ValueError(f"{VARIABLE}: unknown model {str(model)[:80]!r} (known: {', '.join(MODELS)})")
        if not isinstance(endpoint, str) or not ENDPOINT_ID.fullmatch(endpoint):
            raise ValueError(
                f"{VARIABLE}: the endpoint id for {model}, {str(endpoint)[:80]!r}, is not a RunPod endpoint id "
                "(letters, digits, - and _)"
            )
        if model in endpoints:
            raise ValueError(f"{VARIABLE} names {model} twice")
        endpoints[model] = endpoint
    return endpoints
