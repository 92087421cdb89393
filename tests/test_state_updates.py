"""The build's rewrite of Reflex's state.js (openv_app/state_updates.py): deltas from the server
are dispatched inside one React transition, and nothing else in the file changes."""

from __future__ import annotations

from pathlib import Path

import pytest
import reflex_base

from openv_app.state_updates import StateCodeChanged, dispatch_deltas_in_transitions

REFLEX_STATE_JS = Path(reflex_base.__file__).parent / ".templates" / "web" / "utils" / "state.js"


def test_reflexs_own_state_js_dispatches_each_delta_inside_a_transition():
    source = REFLEX_STATE_JS.read_text(encoding="utf-8")
    rewritten = dispatch_deltas_in_transitions(source)
    assert 'import { startTransition, useCallback, useEffect, useRef, useState } from "react";' in rewritten
    handler = rewritten[rewritten.index('socket.current.on("event"') :]
    transition = handler.index("startTransition(() => {")
    assert transition < handler.index("dispatch[substate](delta[substate]);") < handler.index("});", transition)
    assert rewritten.count("dispatch[substate](delta[substate])") == 1
    lines = {line.strip() for line in source.splitlines()}
    removed = lines - {line.strip() for line in rewritten.splitlines()}
    assert removed == {'import { useCallback, useEffect, useRef, useState } from "react";'}


def test_a_second_compile_leaves_the_rewritten_file_as_it_is():
    once = dispatch_deltas_in_transitions(REFLEX_STATE_JS.read_text(encoding="utf-8"))
    assert dispatch_deltas_in_transitions(once) == once


@pytest.mark.parametrize(
    "change",
    [
        lambda source: source.replace("dispatch[substate](delta[substate]);", "applyAll(dispatch, delta);"),
        lambda source: source.replace('from "react";', 'from "preact/compat";', 1),
    ],
)
def test_a_reflex_whose_state_js_changed_shape_fails_the_build(change):
    with pytest.raises(StateCodeChanged):
        dispatch_deltas_in_transitions(change(REFLEX_STATE_JS.read_text(encoding="utf-8")))
