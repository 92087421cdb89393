"""Form presets the UI offers, mapped to sizes and frame counts the model accepts."""

from __future__ import annotations

FPS = 16

# aspect -> resolution -> (width, height); all multiples of 16 as GenerationRequest requires.
SIZES: dict[str, dict[str, tuple[int, int]]] = {
    "16:9": {"480p": (832, 480), "240p": (416, 240)},
    "9:16": {"480p": (480, 832), "240p": (240, 416)},
    "1:1": {"480p": (624, 624), "240p": (320, 320)},
}
ASPECTS = list(SIZES)
RESOLUTIONS = ["480p", "240p"]

# seconds -> frames (4k+1 at 16 fps)
DURATIONS: dict[str, int] = {"1 s": 17, "2 s": 33, "3 s": 49, "5 s": 81}


def size_for(aspect: str, resolution: str) -> tuple[int, int]:
    return SIZES[aspect][resolution]


def frames_for(duration: str) -> int:
    return DURATIONS[duration]
