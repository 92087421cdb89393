"""Sending a video's job to RunPod: the worker's input (its settings, signed upload URLs, the
start image's signed URL, the progress callback) and the `/run` call with the webhook and the
job's execution policy."""

from __future__ import annotations

from dataclasses import dataclass

from openv_app.models import Video
from openv_app.schemas import settings_of
from openv_app.services.endpoints import Endpoints
from openv_app.services.runpod_client import RunPodJob
from openv_app.services.signing import callback_url
from openv_app.services.storage import Storage, video_paths
from openv_app.settings import Settings
from worker.contract import JobInput, UploadTargets

# Between signing the start image's URL and RunPod accepting the job.
START_IMAGE_URL_MARGIN_S = 300


@dataclass
class RunPodQueue:
    settings: Settings
    storage: Storage
    runpod: Endpoints  # `run` sends the job to its model's endpoint
    job_ttl_s: int

    def callback(self, route: str, video: Video) -> str:
        """Where this attempt of the video's job reports back (`webhook` or `progress`)."""
        settings = self.settings
        return callback_url(settings.public_base_url, settings.secret, route, str(video.id), video.attempts)

    async def send(self, video: Video) -> RunPodJob:
        """Queue the video's job; raises RunPodError (RunPodUnconfirmed: it may have been queued)
        or StorageError."""
        video_path, poster_path = video_paths(video.user_id, str(video.id))
        upload = UploadTargets(
            video=await self.storage.create_upload_url(video_path),
            poster=await self.storage.create_upload_url(poster_path),
        )
        # The worker fetches the start image when the job starts: within the job's ttl.
        start_image_url = None
        if video.start_image_path:
            lifetime_s = self.job_ttl_s + START_IMAGE_URL_MARGIN_S
            start_image_url = await self.storage.create_download_url(video.start_image_path, lifetime_s=lifetime_s)
        job_input = JobInput(
            **settings_of(video),
            start_image_url=start_image_url,
            upload=upload,
            progress_url=self.callback("progress", video),
        )
        return await self.runpod.run(
            job_input.model_dump(),
            webhook=self.callback("webhook", video),
            execution_timeout_ms=self.settings.runpod_execution_timeout_s * 1000,
            ttl_ms=self.job_ttl_s * 1000,
        )
