"""The secret-token core that invites, resets, passcodes and caregiver invites share (R13)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib import clock, ids
from chalicelib.db import Tx
from chalicelib.errors import Conflict
from chalicelib.services import tokens
from tests.support.records import token_of

SUBJECT = "invite#org_1#cl_1"
TTL = timedelta(days=30)


def _issue(subject: str = SUBJECT, ttl: timedelta = TTL) -> tokens.Issued:
    tx = Tx()
    issued = tokens.issue(tx, "invite", subject, ttl=ttl, org_id="org_1", client_id="cl_1")
    tx.commit()
    return issued


def _consume(token: tokens.Token) -> None:
    tx = Tx()
    tokens.consume(tx, token)
    tx.commit()


def test_a_token_is_random_and_stored_only_as_its_hash(aws: None) -> None:  # R13
    issued = _issue()
    assert len(issued.secret) >= 22  # ≥ 128 bits in url-safe base64
    assert issued.token.token_hash == ids.token_hash(issued.secret) != issued.secret
    stored = tokens.find(issued.secret, "invite")
    assert stored is not None
    assert issued.secret not in str(stored.attribute_values)


def test_a_newer_token_kills_the_older_one_in_the_same_write(aws: None) -> None:  # R13
    first = _issue()
    second = _issue()
    old = tokens.find(first.secret, "invite")
    assert old is not None
    assert tokens.status_of(old) == "superseded"
    live = tokens.live(SUBJECT)
    assert live is not None
    assert live.token_hash == second.token.token_hash
    with pytest.raises(Conflict):
        _consume(old)


def test_a_token_is_consumed_once(aws: None) -> None:  # R13: two tabs, one success
    issued = _issue()
    token = token_of(issued.secret, "invite")
    _consume(token)
    with pytest.raises(Conflict):
        _consume(token)
    assert tokens.status_of(token_of(issued.secret, "invite")) == "used"
    assert tokens.live(SUBJECT) is None


def test_an_expired_token_cannot_be_consumed_and_never_blocks_a_new_one(aws: None) -> None:  # B1
    issued = _issue(ttl=timedelta(seconds=-1))
    token = token_of(issued.secret, "invite")
    assert tokens.status_of(token) == "expired"
    with pytest.raises(Conflict):
        _consume(token)
    fresh = _issue()
    assert tokens.status_of(token_of(fresh.secret, "invite")) == "live"
    # The expired one keeps saying why it is dead, not "superseded".
    assert tokens.status_of(token_of(issued.secret, "invite")) == "expired"


def test_a_used_token_stays_used_when_a_new_one_is_issued(aws: None) -> None:  # B1
    first = _issue()
    _consume(token_of(first.secret, "invite"))
    _issue()
    assert tokens.status_of(token_of(first.secret, "invite")) == "used"


def test_revoking_ends_the_live_token(aws: None) -> None:  # B1
    issued = _issue()
    tx = Tx()
    assert tokens.revoke(tx, SUBJECT) is not None
    tx.commit()
    assert tokens.status_of(token_of(issued.secret, "invite")) == "revoked"
    assert tokens.live(SUBJECT) is None


def test_a_secret_of_another_kind_is_not_found(aws: None) -> None:
    issued = _issue()
    assert tokens.find(issued.secret, "reset") is None
    assert tokens.find("x" * 500, "invite") is None


def test_history_lists_a_subjects_tokens_in_a_window(aws: None) -> None:  # B1, R20
    for _ in range(3):
        _issue()
    assert [t.status for t in tokens.history(SUBJECT)] == ["superseded", "superseded", "live"]
    assert tokens.history(SUBJECT, since=clock.now() + timedelta(minutes=1)) == []
