"""HMAC-SHA256 signatures: per-video webhook tokens and the local storage's signed URLs."""

from __future__ import annotations

import hashlib
import hmac


def sign(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def signature_matches(secret: str, message: str, signature: str | None) -> bool:
    # compare_digest refuses non-ASCII text (TypeError): such a signature is simply wrong.
    if not signature or not signature.isascii():
        return False
    return hmac.compare_digest(sign(secret, message), signature)


def webhook_token(secret: str, video_id: str) -> str:
    return sign(secret, f"webhook:{video_id}")


def webhook_token_matches(secret: str, video_id: str, token: str | None) -> bool:
    return signature_matches(secret, f"webhook:{video_id}", token)


def callback_url(base_url: str, secret: str, route: str, video_id: str, attempt: int) -> str:
    """Where RunPod (the webhook) or the worker (direct progress) reports on one attempt of a
    video's job: the per-video token authenticates it, the attempt tells a retried job's
    reports from the current one's."""
    token = webhook_token(secret, video_id)
    return f"{base_url}/api/runpod/{route}?video_id={video_id}&attempt={attempt}&token={token}"
