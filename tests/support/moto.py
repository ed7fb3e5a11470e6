"""One moto for a whole test session: AWS made once, its data wiped or restored before each test.

Creating ten tables with their indexes, two queues, the sender and fresh boto3 clients took more
than half of the suite's time when every test did it. The resources and clients now live for the
session (one per xdist worker); what a test can change is data, and that is reset here:

- `wipe()`: every table's items, every queue's messages (visible, in flight, deleted receipts and
  the purge time) and SES's sent messages. moto answers indexes from the items, so an empty item
  map is an empty table and indexes; a test starts from exactly the world `create_all` made.
- `snapshot()` / `restore()`: the same data taken after a shared world was built and put back
  before each test of its module, so each test sees exactly a fresh build of that world.

It reaches into moto's backends, not the API, since a Scan or a receive loop per table per test
costs more than the tests themselves; `tests/test_support_moto.py` proves the reset is complete.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from moto.ses.models import ses_backends
from moto.sqs.models import sqs_backends

from chalicelib import aws, config, infra
from scripts.moto_answers import plain_dynamodb_answers
from scripts.moto_journal import undo_by_item


@dataclass(frozen=True)
class Snapshot:
    """The data of every table, queue and SES's outbox at one moment (deep copies)."""

    items: dict[str, Any]
    messages: dict[str, Any]
    ses_sent: list[Any]
    ses_count: int


def _dynamodb() -> Any:
    return dynamodb_backends[DEFAULT_ACCOUNT_ID][config.REGION]


def _sqs() -> Any:
    return sqs_backends[DEFAULT_ACCOUNT_ID][config.REGION]


def _ses() -> Any:
    return ses_backends[DEFAULT_ACCOUNT_ID][config.REGION]


@contextmanager
def session_aws() -> Iterator[None]:
    """moto for the session, Portico's resources created once, its boto3 clients kept.
    Failed transactions are undone item by item (scripts/moto_journal.py), not by copying
    every table they touch for each of their items, and DynamoDB's answers are dumped as they
    are (scripts/moto_answers.py)."""
    undo_by_item()
    plain_dynamodb_answers()
    with mock_aws():
        aws.reset()
        infra.create_all()
        yield


# The world restored in the running test: a test starts from one world, never two on top of
# each other (a second restore would silently drop the first one's records).
_restored: list[str] = []


def wipe() -> None:
    """Back to the world `infra.create_all()` leaves: no items, no messages, nothing sent."""
    _restored.clear()
    for table in _dynamodb().tables.values():
        table.items.clear()
    for queue in _sqs().queues.values():
        _set_messages(queue, [])
    ses = _ses()
    ses.sent_messages.clear()
    ses.sent_message_count = 0


def snapshot() -> Snapshot:
    ses = _ses()
    return Snapshot(
        items={name: copy.deepcopy(t.items) for name, t in _dynamodb().tables.items()},
        messages={name: copy.deepcopy(q._messages) for name, q in _sqs().queues.items()},
        ses_sent=copy.deepcopy(ses.sent_messages),
        ses_count=ses.sent_message_count,
    )


def restore(taken: Snapshot, name: str) -> None:
    """Exactly the data of `taken`; the copy is fresh, so the snapshot serves the next test."""
    if _restored:
        raise RuntimeError(f"the world {name!r} would replace {_restored[0]!r}: use one of them")
    _restored.append(name)
    for table_name, table in _dynamodb().tables.items():
        table.items = copy.deepcopy(taken.items[table_name])
    for queue_name, queue in _sqs().queues.items():
        _set_messages(queue, copy.deepcopy(taken.messages[queue_name]))
    ses = _ses()
    ses.sent_messages[:] = copy.deepcopy(taken.ses_sent)
    ses.sent_message_count = taken.ses_count


def _set_messages(queue: Any, messages: list[Any]) -> None:
    with queue._messages_lock:
        queue._messages = messages
        queue._pending_messages = set()
        queue.deleted_messages = set()
        queue.last_purged_at = None
