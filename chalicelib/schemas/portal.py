"""The client portal: a journal entry a client (or their caregiver) writes (R6); a request to
leave the practice (B11)."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from chalicelib.schemas.common import TEXT_MAX, Body


class JournalEntry(Body):
    text: Annotated[str, StringConstraints(min_length=1, max_length=TEXT_MAX)]


class LeaveRequest(Body):
    """B11: a client asks to leave the practice, saying why if they wish."""

    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=TEXT_MAX)] | None = (
        None
    )
