"""A timer that sends an event every so often while its page is open.

`rx.moment(interval=...)` did this before, and brought react-moment and moment.js (~23 KiB
gzipped, and their start-up on a phone's CPU) into the studio's first load for a timer. Built
as Reflex builds its own `WindowEventListener`: a fragment whose hook holds the timer."""

from __future__ import annotations

from typing import Any, cast

from reflex_base.components.component import field
from reflex_base.components.memoize_helpers import get_memoized_event_triggers
from reflex_base.event import EventHandler, no_args_event_spec
from reflex_base.utils.imports import ImportDict
from reflex_base.vars.base import Var
from reflex_components_core.base.fragment import Fragment


class Interval(Fragment):
    # Reflex's own spelling of an event trigger; mypy reads EventHandler as a plain class.
    on_tick: EventHandler[no_args_event_spec] = field(doc="Sent every `delay_ms` milliseconds.")  # type: ignore[type-arg,valid-type]

    delay_ms: int = field(default=60_000, is_javascript_property=False)

    @classmethod
    def create(cls, *children: Any, **props: Any) -> Interval:
        component = cast("Interval", super().create(*children, **props))
        # As in WindowEventListener: the hook must see the triggers Reflex memoizes for the page.
        component.event_triggers = {**component.event_triggers, **get_memoized_event_triggers(component)}
        return component

    def _exclude_props(self) -> list[str]:
        return [*super()._exclude_props(), *self.event_triggers.keys()]

    def add_imports(self) -> ImportDict:
        return {"react": "useEffect"}

    def add_hooks(self) -> list[str | Var[Any]]:
        on_tick = self.event_triggers.get("on_tick")
        if on_tick is None:
            return []
        return [
            Var(
                "useEffect(() => {\n"
                f"  const timer = setInterval({Var.create(on_tick)}, {int(self.delay_ms)});\n"
                "  return () => clearInterval(timer);\n"
                "}, []);"
            )
        ]


interval = Interval.create
