"""Property tests (Hypothesis) for the transition rule and the keyset cursor codec."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from openv_app.models import Video
from openv_app.services.errors import InvalidInput
from openv_app.services.queries import CURSOR_PATTERN, decode_cursor, encode_cursor
from openv_app.services.runpod_client import RunPodJob
from openv_app.services.statuses import RUNPOD_STATUSES, is_terminal
from openv_app.services.transitions import MAX_ERROR_LENGTH, MAX_STAGE_LENGTH, apply_runpod_status
from tests.support.factories import video_row

RANK = {"PENDING": 0, "PROCESSING": 1, "COMPLETED": 2, "FAILED": 2, "CANCELLED": 2}

odd_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(), st.lists(st.integers(), max_size=3)
)
outputs = st.one_of(
    odd_values,
    st.fixed_dictionaries(
        {},
        optional={
            "stage": odd_values,
            "step": odd_values,
            "total": odd_values,
            "video": odd_values,
            "poster": odd_values,
            "duration_s": odd_values,
            "error": odd_values,
            "timings": st.one_of(odd_values, st.dictionaries(st.text(max_size=5), odd_values, max_size=4)),
        },
    ),
)
reports = st.builds(
    RunPodJob,
    id=st.just("job"),
    status=st.sampled_from(sorted(RUNPOD_STATUSES)),
    output=outputs,
    error=odd_values,
    delayTime=odd_values,
    executionTime=odd_values,
)


def new_video() -> Video:
    return video_row(user_id="u", runpod_job_id="job")


@settings(max_examples=300)
@given(st.lists(reports, max_size=8))
def test_any_report_sequence_moves_forward_only_and_stores_only_what_fits(sequence):
    video = new_video()
    for report in sequence:
        before = (video.status, video.progress, video.completed_at)
        changed = apply_runpod_status(video, report)
        assert RANK[video.status] >= RANK[before[0]]
        if is_terminal(before[0]):
            assert not changed and (video.status, video.progress, video.completed_at) == before
        assert 0 <= video.progress <= 100 and (video.progress >= before[1] or not changed)
        assert video.stage is None or (isinstance(video.stage, str) and len(video.stage) <= MAX_STAGE_LENGTH)
        assert video.error is None or (len(video.error) <= MAX_ERROR_LENGTH and "\x00" not in video.error)
        assert video.duration_s is None or video.duration_s == video.duration_s  # finite, not NaN
        for milliseconds in (video.delay_ms, video.execution_ms):  # fit a BIGINT column
            assert milliseconds is None or 0 <= milliseconds <= 10**12
        # The same report again is a duplicate: it changes nothing.
        assert apply_runpod_status(video, report) is False


@given(st.datetimes(timezones=st.timezones()), st.uuids())
def test_a_cursor_decodes_to_what_was_encoded(created_at, video_id):
    video = new_video()
    video.id, video.created_at = video_id, created_at
    try:
        expected = created_at.astimezone(UTC)
    except OverflowError:  # outside what a UTC timestamp can hold
        return
    assert decode_cursor(encode_cursor(video)) == (expected, video_id)


@given(st.datetimes(timezones=st.timezones()), st.uuids())
def test_an_encoded_cursor_has_the_declared_pattern(created_at, video_id):
    video = new_video()
    video.id, video.created_at = video_id, created_at
    assert re.fullmatch(CURSOR_PATTERN, encode_cursor(video))


@given(st.from_regex(CURSOR_PATTERN, fullmatch=True))
def test_every_cursor_of_the_declared_pattern_decodes(cursor):
    created_at, video_id = decode_cursor(cursor)  # no InvalidInput: the API may declare the pattern
    assert created_at.utcoffset() == timedelta(0) and str(video_id) == cursor.split("_")[1]


@given(st.text())
def test_any_text_is_a_cursor_or_a_400(text):
    try:
        created_at, video_id = decode_cursor(text)
    except InvalidInput as error:
        assert error.field == "before"
    else:
        assert created_at.utcoffset() == timedelta(0) and isinstance(video_id, uuid.UUID)
