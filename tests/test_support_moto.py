"""The session's one moto gives each test a world as empty as a fresh one (tests/support/moto.py).

If a wipe missed a table, a queue's messages or SES's outbox, tests would pass or fail by the
order they ran in; these tests fail instead. Unique claims are the sharpest probe: a slug or an
email claimed by an earlier test would answer 409 (R1, R12).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from chalicelib import config, ids
from chalicelib.db import Tx
from chalicelib.errors import Conflict
from chalicelib.models import TABLE_OWNERS
from chalicelib.models.audit import AuditEvent
from chalicelib.models.identities import Identity
from chalicelib.models.orgs import Organization
from chalicelib.models.sessions import Session
from chalicelib.services import local_stage
from tests.support import moto
from tests.support.api import Api, sign_up_practice
from tests.support.email import add_client, book, queue_depth, ses_sent_count
from tests.support.records import identity_of, stored


def _item_counts() -> dict[str, int]:
    tables = dynamodb_backends[DEFAULT_ACCOUNT_ID][config.REGION].tables
    return {name: len(table) for name, table in tables.items()}


def _busy_world(api: Api) -> None:
    """Something in every kind of place: items, a queued email, a sent one."""
    practice = sign_up_practice(api, "wiped")
    client_id = add_client(api, practice, "Maya", "maya@example.com")
    book(api, practice, [client_id])
    local_stage.drain()  # sent through SES
    book(api, practice, [client_id])  # and one left on the queue
    assert ses_sent_count() > 0
    assert queue_depth() > 0


def test_a_wipe_leaves_every_table_queue_and_outbox_empty(api: Api) -> None:
    _busy_world(api)
    assert sum(_item_counts().values()) > 0

    moto.wipe()

    assert set(_item_counts()) == {owner.Meta.table_name for owner in TABLE_OWNERS}
    assert _item_counts() == dict.fromkeys(_item_counts(), 0)
    assert queue_depth() == 0
    assert queue_depth(config.EMAIL_DEAD_LETTER_QUEUE) == 0
    assert ses_sent_count() == 0
    # R1, R12: the practice's slug and the admin's email are free again
    again = sign_up_practice(api, "wiped")
    assert api.get("/v1/me", again.admin_token).status == 200


def test_a_restore_gives_back_exactly_the_snapshot_and_not_what_came_after(api: Api) -> None:
    practice = sign_up_practice(api, "kept")
    taken = moto.snapshot()
    counts = _item_counts()
    _busy_world(api)  # changes after the snapshot

    moto.restore(taken, "kept")

    assert _item_counts() == counts
    assert queue_depth() == 0
    assert ses_sent_count() == 0
    assert api.get("/v1/me", practice.admin_token).status == 200
    clients = api.get(f"/v1/orgs/{practice.id}/clients", practice.admin_token)
    assert clients.body["clients"] == []


def test_one_test_cannot_stand_on_two_worlds(api: Api) -> None:
    taken = moto.snapshot()
    moto.restore(taken, "first")
    with pytest.raises(RuntimeError, match="'second' would replace 'first'"):
        moto.restore(taken, "second")


def _every_item() -> dict[str, list[str]]:
    tables = dynamodb_backends[DEFAULT_ACCOUNT_ID][config.REGION].tables
    return {
        name: sorted(json.dumps(item.to_json(), sort_keys=True) for item in table.all_items())
        for name, table in tables.items()
    }


def test_a_failed_transaction_leaves_every_item_as_it_was(api: Api) -> None:
    # scripts/moto_journal.py: moto undoes a failed TransactWriteItems item by item, as its own
    # whole-table copies did (and DynamoDB does): a new item, a changed one and a deleted one,
    # written after the failing check in moto's order, are all as before
    practice = sign_up_practice(api, "journal")
    identity = identity_of(practice.admin_email)
    session = stored(Session, ids.token_hash(practice.admin_token))
    before = _every_item()
    tx = Tx()
    tx.check(
        Organization,
        practice.id,
        "org",
        condition=Organization.org_id.does_not_exist(),
        on_conflict=lambda: Conflict("refused"),
    )
    tx.save(
        AuditEvent(
            AuditEvent.subject_for(practice.id, None),
            "2099-01-01T00:00:00Z#ev_new",
            event_id="ev_new",
            org_id=practice.id,
            action="test.new",
            actor="system",
            at=datetime(2099, 1, 1, tzinfo=UTC),
        )
    )
    tx.update(identity, [Identity.last_org_id.set("org_elsewhere")])
    tx.delete(session)
    with pytest.raises(Conflict, match="refused"):
        tx.commit()
    assert _every_item() == before
