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
from chalicelib.services import tokens
from chalicelib.services.invites import invites


class _AlreadyFollowedUp(Conflict):
    def __init__(self) -> None:
        super().__init__("This follow-up has been sent.")


def send_due_follow_ups(now: datetime | None = None) -> int:
    """The follow-up trigger: Query the hours that may hold due follow-ups, send each once.

    As the seed product does, each follow-up is a new link and the earlier link dies when it
    is created (R13, R14): the secret is never kept to be sent again, and the email says it
    replaces the earlier one. The invite's expiry and schedule keep counting from when staff
    invited. It is not a staff send (R20). Overlapping ticks send nothing twice: the new link
    moves the invite's live pointer under the condition that it is where it was read."""
    now = now or clock.now()
    sent = 0
    for back in range(config.FOLLOW_UP_LOOKBACK_HOURS, -1, -1):
        hour = (now - timedelta(hours=back)).strftime("%Y-%m-%dT%H")
        for token in Token.follow_ups_due.query(hour, Token.follow_up_at <= now):
            sent += _follow_up(token, now)
    return sent


def _follow_up(token: Token, now: datetime) -> int:
    was_at = token.follow_up_at
    assert was_at is not None
    profile = db.get(ClientProfile, token.org_id, token.client_id)
    org = db.get(Organization, token.org_id, "org")
    wanted = (
        org is not None
        and tokens.status_of(token, now) == TokenStatus.LIVE
        and profile is not None
        and profile.status == ProfileStatus.ACTIVE  # R14: never after archive
        and profile.activated_at is None  # nor after acceptance
        and tokens.addressed_to(token, profile.identity_id)  # R53: sent to this login
    )
    tx = Tx()
    if not wanted:
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
