"""Follow-up invites (R14, R44): sent on the days the practice sets while the newest invite is
unused, each once, by the scheduled trigger.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib import clock, config, db, logs
from chalicelib.db import Tx
from chalicelib.errors import Conflict
from chalicelib.models.emails import EmailJob
from chalicelib.models.profiles import ClientProfile, ProfileStatus
from chalicelib.models.tokens import Token, TokenStatus
from chalicelib.rules.actors import SYSTEM
from chalicelib.sealing import Sealed
from chalicelib.services import audit, outbox, tokens
from chalicelib.services.invites.invites import email_context, schedule_next_follow_up


class _AlreadyFollowedUp(Conflict):
    def __init__(self) -> None:
        super().__init__("This follow-up has been sent.")


def send_due_follow_ups(now: datetime | None = None) -> int:
    """The follow-up trigger: Query the hours that may hold due follow-ups, send each once.

    A follow-up resends the same link rather than a new one: a new invite would kill the link
    of every email the client already has (the one they may be about to open), and the
    practice's time to live keeps counting from when staff invited. It is not a staff send
    (R20). Each follow-up moves the invite to its next due hour, or out of the index, under the
    condition that it is still where it was read, so overlapping ticks send nothing twice."""
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
    wanted = (
        token.sealed_secret is not None  # the link the first email carried, sealed (R53)
        and tokens.status_of(token, now) == TokenStatus.LIVE
        and profile is not None
        and profile.status == ProfileStatus.ACTIVE  # R14: never after archive
        and profile.activated_at is None  # nor after acceptance
        and profile.identity_id == token.identity_id
    )
    days = (was_at - token.created_at).days
    left = wanted and schedule_next_follow_up(token, after_days=days)
    tx = Tx()
    tx.update(
        token,
        [Token.follow_up_hour.set(token.follow_up_hour), Token.follow_up_at.set(token.follow_up_at)]
        if left
        # R53: no follow-up is left to send the link, so its sealed copy goes.
        else [
            Token.follow_up_hour.remove(),
            Token.follow_up_at.remove(),
            Token.sealed_secret.remove(),
        ],
        condition=Token.follow_up_at == was_at,
        on_conflict=_AlreadyFollowedUp,
    )
    jobs: list[EmailJob] = []
    if wanted:
        assert profile is not None
        jobs.append(_queue_follow_up(tx, profile, token))
    try:
        tx.commit()
    except _AlreadyFollowedUp:
        return 0
    if jobs:
        logs.event("invite.followed_up", org_id=token.org_id, client_id=token.client_id)
    return len(jobs)


def _queue_follow_up(tx: Tx, profile: ClientProfile, token: Token) -> EmailJob:
    """The same link again: the token keeps it sealed for its follow-ups (R53), the one copy
    of it anywhere but in the emails already sent."""
    assert token.sealed_secret is not None
    audit.record(
        tx,
        org_id=profile.org_id,
        action="invite.followed_up",
        actor=SYSTEM,
        client_id=profile.client_id,
    )
    return outbox.queue(
        tx,
        org_id=profile.org_id,
        kind="invite",
        client_id=profile.client_id,
        to=profile.email,
        context=email_context(profile, token, follow_up=True),
        secret=Sealed(token.sealed_secret, token.token_hash),
    )
