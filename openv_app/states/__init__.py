"""Reflex states: thin, every rule lives in the services. Nothing secret is in a public var
(Reflex sends every non-underscore var to the browser)."""
