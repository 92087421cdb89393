"""The form's start image: picked, dropped or pasted (uploaded and checked on the server), or a
finished video's last frame ("Continue this clip"). The image's fields live on GenerateState,
which sends them with the request; this state only fills them."""

from __future__ import annotations

import mimetypes

import reflex as rx

from openv_app.services.errors import AppError
from openv_app.services.images import ImageOut
from openv_app.services.wiring import get_job_service
from openv_app.states import presets
from openv_app.states.studio import GenerateState, offered_models
from worker.contract import MODEL_SPECS

UPLOAD_ID = "start-image"


def image_models() -> list[str]:
    """The offered models that take a start image, in the order the form lists them."""
    return [model for model in offered_models() if MODEL_SPECS[model].accepts_image]


class StartImageState(GenerateState):
    image_error: str = ""
    uploading: bool = False

    @rx.var
    def images_offered(self) -> bool:
        return bool(image_models())

    @rx.var
    def frame_aspect(self) -> str:
        """The chosen size's aspect ratio, for the preview's frame (CSS `aspect-ratio`)."""
        width, height = presets.size_for(self.aspect, self.resolution, MODEL_SPECS[self.model])
        return f"{width} / {height}"

    def _use_image(self, image: ImageOut) -> None:
        self.start_image_id, self.start_image_url, self.image_error = str(image.image_id), image.url, ""
        self.field_errors.pop("start_image_id", None)
        if not MODEL_SPECS[self.model].accepts_image and image_models():
            self._switch_model(image_models()[0])

    @rx.event
    async def upload_image(self, files: list[rx.UploadFile]):
        if not files:
            return
        self.uploading = True
        yield
        upload = files[0]
        content_type = upload.content_type or mimetypes.guess_type(upload.filename or "")[0]
        try:
            image = await get_job_service().images.store(self._current_user(), await upload.read(), content_type)
        except AppError as error:
            self.image_error = error.message
        else:
            self._use_image(image)
        finally:
            self.uploading = False

    @rx.event
    def remove_image(self) -> None:
        self.start_image_id, self.start_image_url, self.image_error = "", "", ""

    @rx.event
    def choose_fit(self, fit: str | list[str]) -> None:
        if isinstance(fit, str) and fit in ("crop", "pad"):
            self.image_fit = fit

    @rx.event
    async def continue_from(self, video_id: str):
        """A finished video's last frame as the start image, its prompt in the form."""
        service = get_job_service()
        try:
            user = self._current_user()
            video = await service.queries.get_video(user, video_id)
            image = await service.images.last_frame(user, video_id)
        except AppError as error:
            self.form_error = error.message
            return None
        self.prompt = video.prompt
        self._use_image(image)
        return rx.call_script("document.getElementById('prompt').focus()")
