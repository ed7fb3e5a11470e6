"""The local stage's own body (API.md "Local stage only"): the tick that runs the triggers,
at a moment the caller may name."""

from __future__ import annotations

from chalicelib.schemas.common import Body, Moment


class TickBody(Body):
    now: Moment | None = None
