"""Scheduled work that survives an outage and a short run (R42, R44, B5, issue #18).

A trigger keeps a checkpoint of the last slot (hour or day) it handled whole: when it comes
back after the schedule stopped (a disabled rule, a failed deploy, a region incident) it
catches up from there, not from its look-back alone, so nothing due meanwhile stays unsent
and unrecorded. Each run works under a `Budget` (Lambda's remaining time, or a number of
pages) and saves where it stopped, so a backlog drains across runs instead of timing out in
one. The checkpoint is a hint, never a lock: every unit of work is itself done once by its
own conditional write, so two runs that overlap, or one that re-reads a slot, send nothing
twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from chalicelib import clock, db
from chalicelib.models.emails import TriggerCheckpoint

T = TypeVar("T")

# R43's reason for a scheduled email whose moment passed while its trigger was stopped, where
# going out late makes no sense (a reminder of an appointment that has started).
MISSED = "missed"

# Stop this long before Lambda would end the run: one more page (a few SQS batches, a few
# writes) fits in it with room to save the checkpoint.
LAMBDA_MARGIN_SECONDS = 10.0


@dataclass
class Budget:
    """How much one run may still do: until a moment (monotonic seconds) and/or a number of
    pages (or slots). Unbounded when neither is given (the local tick, a test's catch-up)."""

    deadline: float | None = None
    pages: int | None = None
    spent: int = field(default=0)

    @classmethod
    def of_lambda(cls, context: object) -> Budget:
        """Lambda's remaining time less a margin; unbounded outside Lambda (Chalice's local
        server gives no context, or one without the method)."""
        remaining: Callable[[], int] | None = getattr(context, "get_remaining_time_in_millis", None)
        if remaining is None:
            return cls()
        seconds = remaining() / 1000 - LAMBDA_MARGIN_SECONDS
        return cls(deadline=time.monotonic() + max(seconds, 0.0))

    @classmethod
    def seconds(cls, seconds: float) -> Budget:
        return cls(deadline=time.monotonic() + seconds)

    def left(self) -> bool:
        if self.pages is not None and self.spent >= self.pages:
            return False
        return self.deadline is None or time.monotonic() < self.deadline

    def spend(self) -> None:
        self.spent += 1


@dataclass(frozen=True)
class Slot:
    """How a trigger's index files its work: by UTC hour or by UTC day."""

    format: str
    step: timedelta

    def of(self, moment: datetime) -> str:
        return moment.astimezone(UTC).strftime(self.format)

    def start(self, name: str) -> datetime:
        return datetime.strptime(name, self.format).replace(tzinfo=UTC)

    def between(self, first: str, last: str) -> Iterator[str]:
        moment, end = self.start(first), self.start(last)
        while moment <= end:
            yield self.of(moment)
            moment += self.step


HOUR = Slot("%Y-%m-%dT%H", timedelta(hours=1))
DAY = Slot("%Y-%m-%d", timedelta(days=1))


def _read(trigger: str) -> TriggerCheckpoint | None:
    return db.get(TriggerCheckpoint, TriggerCheckpoint.key_for(trigger))


def catch_up(
    trigger: str,
    now: datetime,
    *,
    slot: Slot,
    lookback: timedelta,
    handle: Callable[[str], int],
    budget: Budget,
) -> int:
    """Handle each slot from the one after the checkpoint (or `lookback` ago, whichever is
    earlier: the look-back still covers an index that lags) up to now's, oldest first, while
    the budget lasts; then record the last slot handled whole (one before now's, which may
    still fill). Returns what `handle` counted."""
    current = slot.of(now)
    first = slot.of(now - lookback)
    checkpoint = _read(trigger)
    handled_before = checkpoint.handled if checkpoint else None
    if handled_before:
        resume = slot.of(slot.start(handled_before) + slot.step)
        first = min(first, resume)
    count, handled = 0, None
    for name in slot.between(first, current):
        if not budget.left():
            break
        count += handle(name)
        budget.spend()
        if name < current:
            handled = name
    if handled and (handled_before is None or handled > handled_before):
        TriggerCheckpoint(
            TriggerCheckpoint.key_for(trigger),
            handled=handled,
            cursor=checkpoint.cursor if checkpoint else None,
            updated_at=clock.now(),
        ).save()
    return count


Key = dict[str, Any]


def sweep(
    trigger: str,
    read_page: Callable[[Key | None], tuple[list[T], Key | None]],
    handle: Callable[[list[T]], int],
    budget: Budget,
) -> int:
    """Read a paged list from where the last run stopped, a page at a time while the budget
    lasts, handing each page to `handle`; save where it stopped (None once the list's end is
    reached: the next run starts from the top). Returns what `handle` counted."""
    start = cursor(trigger)
    count = 0
    while budget.left():
        items, start = read_page(start)
        count += handle(items)
        budget.spend()
        if start is None:
            break
    save_cursor(trigger, start)
    return count


def cursor(trigger: str) -> dict[str, Any] | None:
    """Where a sweep reads next (None: from the top)."""
    checkpoint = _read(trigger)
    return checkpoint.cursor if checkpoint else None


def save_cursor(trigger: str, position: dict[str, Any] | None) -> None:
    TriggerCheckpoint(
        TriggerCheckpoint.key_for(trigger), cursor=position, updated_at=clock.now()
    ).save()
