"""`data-live="true"` on a page's outermost element once the page has hydrated and its load events
have run. The prerendered page paints before that (its scripts download after the first paint,
openv_app/first_paint.py), and what is typed into it then is not the state's yet: browser tests
wait for the marker."""

from __future__ import annotations

import reflex as rx

LIVE_ATTRS = {"data-live": rx.State.is_hydrated}
