"""Form presets the UI offers (aspect × resolution, durations), mapped to sizes and frame counts
each model accepts: sizes snap to the model's size multiple and bounds, durations to its frame
rule (`frame_step` × k + 1) at its frame rate."""

from __future__ import annotations

from worker.contract import DEFAULT_MODEL, MODEL_SPECS, ModelSpec

DEFAULT_SPEC = MODEL_SPECS[DEFAULT_MODEL]
FPS = DEFAULT_SPEC.default_fps

# aspect -> resolution -> (width, height) before a model's snapping (Wan's own sizes: 832×480 …).
SIZES: dict[str, dict[str, tuple[int, int]]] = {
    "16:9": {"720p": (1280, 720), "480p": (832, 480), "240p": (416, 240)},
    "9:16": {"720p": (720, 1280), "480p": (480, 832), "240p": (240, 416)},
    "1:1": {"720p": (960, 960), "480p": (624, 624), "240p": (320, 320)},
}
ASPECTS = list(SIZES)
RESOLUTIONS = ["720p", "480p", "240p"]

# The durations offered, in seconds at the model's frame rate.
DURATIONS: dict[str, int] = {"1 s": 1, "2 s": 2, "3 s": 3, "5 s": 5}


def _snap(value: int, spec: ModelSpec) -> int:
    """Down to the model's size multiple, within its bounds."""
    snapped = value // spec.size_multiple * spec.size_multiple
    low = -(-spec.min_size // spec.size_multiple) * spec.size_multiple
    high = spec.max_size // spec.size_multiple * spec.size_multiple
    return min(max(snapped, low), high)


def size_for(aspect: str, resolution: str, spec: ModelSpec = DEFAULT_SPEC) -> tuple[int, int]:
    width, height = SIZES[aspect][resolution]
    return _snap(width, spec), _snap(height, spec)


def resolutions_for(spec: ModelSpec = DEFAULT_SPEC) -> list[str]:
    """Up to the model's native resolution (the short side of its default size): a 480p model is
    not offered 720p."""
    native = min(spec.default_width, spec.default_height)
    return [name for name in RESOLUTIONS if min(size_for("16:9", name, spec)) <= native]


def native_resolution(spec: ModelSpec = DEFAULT_SPEC) -> str:
    return resolutions_for(spec)[0]


def frames_for(duration: str, spec: ModelSpec = DEFAULT_SPEC) -> int:
    """The frame count nearest `duration` at the model's frame rate that its rule allows."""
    step = spec.frame_step
    k = round((DURATIONS[duration] * spec.default_fps - 1) / step)
    low, high = -(-(spec.min_frames - 1) // step), (spec.max_frames - 1) // step
    return step * min(max(k, low), high) + 1


def durations_for(spec: ModelSpec = DEFAULT_SPEC) -> list[str]:
    """The durations the model can make (each a different frame count)."""
    offered, seen = [], set()
    for name in DURATIONS:
        frames = frames_for(name, spec)
        if frames not in seen and abs(frames / spec.default_fps - DURATIONS[name]) <= 0.5:
            offered.append(name)
            seen.add(frames)
    return offered


def closest_duration(num_frames: int, spec: ModelSpec = DEFAULT_SPEC) -> str:
    return min(durations_for(spec), key=lambda name: abs(frames_for(name, spec) - num_frames))


def closest_size(width: int, height: int, spec: ModelSpec = DEFAULT_SPEC) -> tuple[str, str]:
    """The (aspect, resolution) preset nearest a video's size."""
    pairs = [(aspect, resolution) for aspect in ASPECTS for resolution in resolutions_for(spec)]
    return min(
        pairs,
        key=lambda pair: sum(
            abs(a - b) for a, b in zip(size_for(pair[0], pair[1], spec), (width, height), strict=True)
        ),
    )
