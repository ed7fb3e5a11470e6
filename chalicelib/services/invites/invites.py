"""Invites (R11, R13–R15, R20, R21, B1, B2): issue, resend, revoke, follow up, accept.

An invite is a token of kind "invite" whose subject is the profile (`invite#org#client`), so a
newer invite kills the older link in the same transaction (R13). Its email job is queued in
that transaction too, and carries the token's hash, so the worker does not send an invite whose
link died before it went out (R43). Accepting consumes the token under a condition in the
transaction that sets the password and activates the profile: two tabs, one success.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib import clock, config, db, logs, sealing
from chalicelib.db import Tx
from chalicelib.errors import Conflict
from chalicelib.models.emails import EmailJob
from chalicelib.models.orgs import Organization
from chalicelib.models.profiles import ClientProfile, ProfileStatus
from chalicelib.models.tokens import LiveToken, SendLog, Token, TokenStatus
from chalicelib.rules.actors import SYSTEM, Actor, provider_ref
from chalicelib.rules.settings import org_settings
from chalicelib.services import access, audit, outbox, records, sends, tokens
from chalicelib.services.identity import sessions

# B1: what the client record shows for its newest invite, by the token's status.
_SHOWN: dict[str, str] = {
    TokenStatus.LIVE: "pending",
    TokenStatus.USED: "accepted",
    TokenStatus.EXPIRED: "expired",
    TokenStatus.SUPERSEDED: "superseded",
    TokenStatus.REVOKED: "revoked",
}


@dataclass(frozen=True)
class InviteOutcome:
    """What became of a client's invite: `pending`, `accepted`, `expired`, `superseded`,
    `revoked`, or `not_sent` with its reason (R11, B1)."""

    status: str
    reason: str | None = None
    sent_at: datetime | None = None
    expires_at: datetime | None = None


def subject_for(org_id: str, client_id: str) -> str:
    return f"invite#{org_id}#{client_id}"


def _outcome(token: Token) -> InviteOutcome:
    return InviteOutcome(_SHOWN[tokens.status_of(token)], None, token.created_at, token.expires_at)


# Issuing ---------------------------------------------------------------------------------------


def for_new_client(
    tx: Tx, org: Organization, profile: ClientProfile, *, send: bool, actor: str = SYSTEM
) -> InviteOutcome:
    """The invite of a client just added, in the transaction that adds them (R11, R13).

    It counts as the first of R20's five sends, so its send log is written here too."""
    if profile.email is None:
        return InviteOutcome("not_sent", "no_email")  # R11: no email, no invite, no portal
    if not send:
        return InviteOutcome("not_sent", "not_requested")
    outcome = _issue(tx, org, profile, actor=actor, action="invite.issued", new_client=True)
    key = SendLog.key_for(profile.org_id, profile.client_id)
    sends.count(tx, sends.Sends(key, None, []), clock.now())
    return outcome


def _issue(
    tx: Tx,
    org: Organization,
    profile: ClientProfile,
    *,
    actor: str,
    action: str,
    follow_up_of: Token | None = None,
    new_client: bool = False,
) -> InviteOutcome:
    """A new invite for the profile, its email and its audit event, added to `tx`; the live
    one dies with it (R13). A follow-up (`follow_up_of`, R14) is a new link too, as the seed
    product's: it keeps the invite's expiry and schedule, both counted from when staff
    invited, and its email says it replaces the earlier one."""
    settings = org_settings(org)
    moment = clock.now()
    if follow_up_of is None:
        ttl = timedelta(days=settings["invite_ttl_days"])
        data: dict[str, Any] = {
            "follow_up_days": sorted(set(settings["follow_up_days"])),
            "invited_at": clock.iso(moment),
        }
        after_days = 0
    else:
        ttl = follow_up_of.expires_at - moment
        data = dict(follow_up_of.data)
        assert follow_up_of.follow_up_at is not None
        after_days = (follow_up_of.follow_up_at - invited_at(follow_up_of)).days
    issued = tokens.issue(
        tx,
        "invite",
        subject_for(profile.org_id, profile.client_id),
        ttl=ttl,
        org_id=profile.org_id,
        client_id=profile.client_id,
        identity_id=profile.identity_id,
        data=data,
        # The earlier link leaves the follow-up index as it dies.
        ending=[Token.follow_up_hour.remove(), Token.follow_up_at.remove()],
        new_subject=new_client,  # a client added in `tx` has no invite yet
    )
    token = issued.token
    link = sealing.seal(f"{config.PUBLIC_URL}/invite/{issued.secret}", token.token_hash)
    schedule_next_follow_up(token, after_days=after_days)
    outbox.queue(
        tx,
        org_id=profile.org_id,
        kind="invite",
        client_id=profile.client_id,
        to=profile.email,
        context=_email_context(profile, token, follow_up=follow_up_of is not None),
        secret=link,  # R53: sealed for the worker; R43: not sent once the link died
    )
    audit.record(
        tx,
        org_id=profile.org_id,
        action=action,
        actor=actor,
        client_id=profile.client_id,
        details={"expires_at": clock.iso(token.expires_at)},
    )
    return InviteOutcome("pending", None, token.created_at, token.expires_at)


def follow_up(tx: Tx, org: Organization, profile: ClientProfile, earlier: Token) -> None:
    """R14: a follow-up invite, a new link; `earlier` dies in the same change. Not a staff
    send, so not counted toward R20."""
    _issue(tx, org, profile, actor=SYSTEM, action="invite.followed_up", follow_up_of=earlier)


def _email_context(profile: ClientProfile, token: Token, *, follow_up: bool) -> dict[str, Any]:
    """An invite email's values but its link, which goes sealed beside them (R53)."""
    return {
        "client": {"first_name": profile.first_name},
        "expires_at": token.expires_at.isoformat(),
        "follow_up": follow_up,
    }


def invited_at(token: Token) -> datetime:
    """When staff (or an arrival) invited: follow-ups count their days from it (R14)."""
    when = token.data.get("invited_at")
    return datetime.fromisoformat(str(when)) if when else token.created_at


def schedule_next_follow_up(token: Token, *, after_days: int) -> bool:
    """File the invite under the hour of its next follow-up (R14), if one is left before it
    expires; else take it out of the index. Says whether one is left."""
    due = next_follow_up_at(token, after_days=after_days)
    token.follow_up_at = due
    token.follow_up_hour = due.strftime("%Y-%m-%dT%H") if due else None
    return due is not None


def next_follow_up_at(token: Token, *, after_days: int) -> datetime | None:
    """R14: when the invite's next follow-up after `after_days` is due, if one is left before
    it expires."""
    for days in [d for d in token.data.get("follow_up_days", []) if d > after_days]:
        due = invited_at(token) + timedelta(days=days)
        if due < token.expires_at:
            return due
    return None


# Staff: send, resend, revoke, reset (R14, R20, B1) ------------------------------------------


def _invitable(profile: ClientProfile) -> None:
    """R11, R38: who cannot get an invite, each refusal saying what to do instead."""
    if profile.status != ProfileStatus.ACTIVE:
        raise records.client_archived()
    if not profile.email or not profile.identity_id:
        raise Conflict(
            "This client has no email, so they cannot be invited. Add an email first.",
            code="no_email",
        )
    if profile.activated_at is not None:
        raise Conflict(
            "This client has already accepted an invite and signs in with their own password. "
            "If they cannot sign in, send them a password reset.",
            code="invite_accepted",
        )


def send(actor: Actor, org_id: str, client_id: str) -> InviteOutcome:
    """Staff send a client a new invite; the older link dies at that moment (R13, R14), within
    R20's limit."""
    staff = access.staff_of(actor, org_id)
    org = records.org(org_id)
    profile = records.client(org_id, client_id)
    _invitable(profile)
    now = clock.now()
    within = _sends_within_limit(profile, now)
    had = db.get(LiveToken, LiveToken.key_for(subject_for(org_id, client_id))) is not None
    tx = Tx()
    outcome = _issue(
        tx,
        org,
        profile,
        actor=provider_ref(staff.provider_id),
        action="invite.resent" if had else "invite.issued",
    )
    sends.count(tx, within, now)
    tx.commit()
    logs.event("invite.sent", org_id=org_id, client_id=client_id, actor=staff.provider_id)
    return outcome


def revoke(actor: Actor, org_id: str, client_id: str) -> None:
    """B1: staff withdraw the pending invite; its link answers "revoked" from then on."""
    staff = access.staff_of(actor, org_id)
    profile = records.client(org_id, client_id)
    tx = Tx()
    token = tokens.revoke(tx, subject_for(org_id, client_id))
    if token is None:
        raise Conflict("This client has no pending invite to revoke.", code="no_pending_invite")
    audit.record(
        tx,
        org_id=org_id,
        action="invite.revoked",
        actor=provider_ref(staff.provider_id),
        client_id=profile.client_id,
    )
    tx.commit()
    logs.event("invite.revoked", org_id=org_id, client_id=client_id, actor=staff.provider_id)


def record_reads(org_id: str, client_id: str) -> sessions.Ahead:
    """What `record` and `send` read first, read ahead with a staff session of the path's
    organization (issue #17): the profile and its invite's live pointer."""
    return sessions.in_org(org_id, lambda: _profile_and_pointer(org_id, client_id))


def _profile_and_pointer(org_id: str, client_id: str) -> list[db.Key]:
    profile = records.client_keys(org_id, client_id)
    pointer = (LiveToken, LiveToken.key_for(subject_for(org_id, client_id)), None)
    return [*profile, pointer] if profile else []


def send_reads(org_id: str, client_id: str) -> sessions.Ahead:
    """What `send` reads before its write, read ahead (issue #17): the organization, the
    profile, its send log (R20) and its invite's live pointer (R13)."""
    return sessions.in_org(
        org_id,
        lambda: [
            (Organization, org_id, "org"),
            *_profile_and_pointer(org_id, client_id),
            *(
                [(SendLog, SendLog.key_for(org_id, client_id), None)]
                if records.names_a_client(client_id)
                else []
            ),
        ],
    )


def record(actor: Actor, org_id: str, client_id: str) -> tuple[ClientProfile, InviteOutcome]:
    """The client record with its invite's status (B1): two reads beyond the profile's."""
    access.staff_of(actor, org_id)
    profile = records.client(org_id, client_id)
    return profile, status(profile)


def status(profile: ClientProfile) -> InviteOutcome:
    """The newest invite's status: the live pointer names the newest token, whatever became of
    it. An expired one shows as expired and never blocks a new one (B1)."""
    if not profile.email:
        return InviteOutcome("not_sent", "no_email")
    pointer = db.get(LiveToken, LiveToken.key_for(subject_for(profile.org_id, profile.client_id)))
    token = db.get(Token, pointer.live_hash) if pointer else None
    if token is None:
        return InviteOutcome("not_sent", None)
    return outcome_of(profile, token)


def outcome_of(profile: ClientProfile, token: Token) -> InviteOutcome:
    """What became of one of the client's invites (B1), its newest or an older one."""
    if not tokens.addressed_to(token, profile.identity_id) and (
        tokens.status_of(token) == TokenStatus.LIVE
    ):
        # R53: the email changed since; that invite's page is dead ("revoked") for it.
        return InviteOutcome("revoked", None, token.created_at, token.expires_at)
    return _outcome(token)


_LINKED = {"invite", "staff_invite"}  # emails whose link's status the email log shows (B1)


def link_statuses(jobs: list[EmailJob]) -> dict[str, str]:
    """B1: for the invite and staff invite emails among `jobs`, the status of the invite each
    carries, by job id, in one BatchGetItem whatever the page holds."""
    wanted = {
        job.job_id: job.context["token_hash"]
        for job in jobs
        if job.kind in _LINKED and job.context.get("token_hash")
    }
    if not wanted:
        return {}
    found = {token.token_hash: token for token in Token.batch_get(set(wanted.values()))}
    return {
        job_id: _SHOWN[tokens.status_of(found[token_hash])]
        for job_id, token_hash in wanted.items()
        if token_hash in found
    }


def _sends_within_limit(profile: ClientProfile, now: datetime) -> sends.Sends:
    """R20: the client's sends of the last 24 hours, or 429 when there are five already."""
    return sends.within_limit(
        SendLog.key_for(profile.org_id, profile.client_id),
        now,
        "This client was sent 5 invites or password resets in the last 24 hours; try again later.",
    )


def count_staff_send(tx: Tx, profile: ClientProfile) -> None:
    """R20 for a staff password reset: within the same five-a-day limit as invites."""
    now = clock.now()
    sends.count(tx, _sends_within_limit(profile, now), now)
