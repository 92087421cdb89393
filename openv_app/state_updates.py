"""State updates from the server render in slices that leave the page responsive.

Reflex applies each delta that arrives over the websocket with a plain React dispatch, which
React renders as one blocking task: with a full library that is ~185 ms at 4× CPU slowdown on a
phone, on every delta (the first load, every progress push), and input that arrives meanwhile
waits. Inside `startTransition` the same render yields to the browser every few milliseconds
and is started over if the user types or clicks meanwhile; no update is lost, only its paint
may come a frame later. Reflex 0.10 has no option for it, so this build plugin rewrites
`utils/state.js` before the frontend is compiled, and the build fails if that code changes shape.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from reflex.plugins import Plugin

STATE_JS = "utils/state.js"
REACT_IMPORT = 'import { useCallback, useEffect, useRef, useState } from "react";'
DISPATCH_LOOP = """        for (const substate in delta) {
          dispatch[substate](delta[substate]);
        }"""
IN_A_TRANSITION = """        startTransition(() => {
          for (const substate in delta) {
            dispatch[substate](delta[substate]);
          }
        });"""


class StateCodeChanged(RuntimeError):
    """Reflex's state.js no longer has the code this plugin rewrites."""


def dispatch_deltas_in_transitions(source: str) -> str:
    if IN_A_TRANSITION in source:  # already rewritten by an earlier compile
        return source
    if source.count(REACT_IMPORT) != 1 or source.count(DISPATCH_LOOP) != 1:
        raise StateCodeChanged(f"{STATE_JS}: the React import or the delta dispatch loop was not found")
    react_import = REACT_IMPORT.replace("useCallback,", "startTransition, useCallback,")
    return source.replace(REACT_IMPORT, react_import).replace(DISPATCH_LOOP, IN_A_TRANSITION)


@dataclasses.dataclass
class StateUpdatesInTransitionsPlugin(Plugin):
    def pre_compile(self, **context: Any) -> None:
        context["add_modify_task"](STATE_JS, dispatch_deltas_in_transitions)
