"""Follow-up invites (R14, R44): sent on the days the practice sets while the newest invite is
unused, each once, by the scheduled trigger; each is a new link that kills the earlier one.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from chalicelib import clock, config, db, logs
from chalicelib.db import Tx
from chalicelib.errors import Conflict
from chalicelib.models.orgs import Organization
from chalicelib.models.profiles import ClientProfile, ProfileStatus
from chalicelib.models.tokens import Token, TokenStatus
from chalicelib.services import checkpoints, outbox, tokens
from chalicelib.services.checkpoints import MISSED, Budget
from chalicelib.services.invites import invites


class _AlreadyFollowedUp(Conflict):
    def __init__(self) -> None:
        super().__init__("This follow-up has been sent.")


FOLLOW_UPS_TRIGGER = "follow_ups"


def send_due_follow_ups(now: datetime | None = None, budget: Budget | None = None) -> int:
    """The follow-up trigger: Query the hours that may hold due follow-ups, send each once.

    As the seed product does, each follow-up is a new link and the earlier link dies when it
    is created (R13, R14): the secret is never kept to be sent again, and the email says it
    replaces the earlier one. The invite's expiry and schedule keep counting from when staff
    invited. It is not a staff send (R20). Overlapping ticks send nothing twice: the new link
    moves the invite's live pointer under the condition that it is where it was read.

    The hours run from the one after the trigger's checkpoint, so a schedule that was stopped
    catches up when it comes back (issue #18)."""
    now = now or clock.now()

    def hour(name: str) -> int:
        return sum(
            _follow_up(token, now)
            for token in Token.follow_ups_due.query(name, Token.follow_up_at <= now)
        )

    return checkpoints.catch_up(
        FOLLOW_UPS_TRIGGER,
        now,
        slot=checkpoints.HOUR,
        lookback=timedelta(hours=config.FOLLOW_UP_LOOKBACK_HOURS),
        handle=hour,
        budget=budget or Budget(),
    )


def _follow_up(token: Token, now: datetime) -> int:
    was_at = token.follow_up_at
    assert was_at is not None
    profile = db.get(ClientProfile, token.org_id, token.client_id)
    org = db.get(Organization, token.org_id, "org")
    status = tokens.status_of(token, now)
    waiting = (
        org is not None
        and profile is not None
        and profile.status == ProfileStatus.ACTIVE  # R14: never after archive
        and profile.activated_at is None  # nor after acceptance
        and tokens.addressed_to(token, profile.identity_id)  # R53: sent to this login
    )
    following = invites.next_follow_up_at(
        token, after_days=(was_at - invites.invited_at(token)).days
    )
    if waiting and (status == TokenStatus.EXPIRED or (following is not None and following <= now)):
        # Issue #18: the trigger was stopped past this follow-up's moment and late makes no
        # sense (the invite has expired, or the next follow-up is due already, which goes out
        # instead): recorded `missed` (R43), the invite moved on to its next follow-up.
        assert profile is not None
        return _missed(token, profile, was_at, following if status == TokenStatus.LIVE else None)
    tx = Tx()
    if not (waiting and status == TokenStatus.LIVE):
        tx.update(
            token,
            [Token.follow_up_hour.remove(), Token.follow_up_at.remove()],
            condition=Token.follow_up_at == was_at,
            on_conflict=_AlreadyFollowedUp,
        )
        with contextlib.suppress(_AlreadyFollowedUp):
            tx.commit()
        return 0
    assert profile is not None
    assert org is not None
    invites.follow_up(tx, org, profile, token)
    try:
        tx.commit()
    except Conflict as exc:
        if exc.code != "concurrent_change":
            raise
        return 0  # another tick (or a staff resend) moved the invite on first
    logs.event("invite.followed_up", org_id=token.org_id, client_id=token.client_id)
    return 1


def _missed(
    token: Token, profile: ClientProfile, was_at: datetime, following: datetime | None
) -> int:
    tx = Tx()
    moves = (
        [
            Token.follow_up_at.set(following),
            Token.follow_up_hour.set(checkpoints.HOUR.of(following)),
        ]
        if following
        else [Token.follow_up_hour.remove(), Token.follow_up_at.remove()]
    )
    tx.update(token, moves, condition=Token.follow_up_at == was_at, on_conflict=_AlreadyFollowedUp)
    outbox.record_suppressed(
        tx,
        org_id=token.org_id,
        kind="invite",
        reason=MISSED,
        client_id=profile.client_id,
        to=profile.email,
        context={"follow_up": True},
    )
    with contextlib.suppress(_AlreadyFollowedUp):
        tx.commit()
        logs.event("invite.follow_up_missed", org_id=token.org_id, client_id=token.client_id)
    return 0
