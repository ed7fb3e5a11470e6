"""Invites (R11, R13–R15, R20, R21, B1, B2): issue, resend, revoke, follow up, accept.

An invite is a token of kind "invite" whose subject is the profile (`invite#org#client`), so a
newer invite kills the older link in the same transaction (R13). Its email job is queued in
that transaction too, and carries the token's hash, so the worker does not send an invite whose
link died before it went out (R43). Accepting consumes the token under a condition in the
transaction that sets the password and activates the profile: two tabs, one success.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chalicelib import clock, config, db, logs
from chalicelib.db import Tx
from chalicelib.errors import Conflict, Throttled
from chalicelib.models.emails import EmailJob
from chalicelib.models.identities import Identity
from chalicelib.models.orgs import Organization, Provider
from chalicelib.models.profiles import ClientProfile
from chalicelib.models.tokens import LiveToken, SendLog, Token
from chalicelib.rules.accounts import client_account_open
from chalicelib.rules.actors import SYSTEM, Actor, client_ref, provider_ref
from chalicelib.rules.passwords import new_password_errors
from chalicelib.rules.settings import org_settings
from chalicelib.services import access, audit, chat, outbox, records, throttle, tokens
from chalicelib.services.identity import accounts, identities, passwords, sessions

SEND_WINDOW = timedelta(hours=24)

# B1: what the client record shows for its newest invite, by the token's status.
_SHOWN = {
    "live": "pending",
    "used": "accepted",
    "expired": "expired",
    "superseded": "superseded",
    "revoked": "revoked",
}


@dataclass(frozen=True)
class InviteOutcome:
    """What became of a client's invite: `pending`, `accepted`, `expired`, `superseded`,
    `revoked`, or `not_sent` with its reason (R11, B1)."""

    status: str
    reason: str | None = None
    sent_at: datetime | None = None
    expires_at: datetime | None = None
    jobs: tuple[EmailJob, ...] = field(default=(), compare=False)


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
    outcome = _issue(tx, org, profile, actor=actor, action="invite.issued")
    _count_send(tx, profile, None, [], clock.now())
    return outcome


def _issue(
    tx: Tx, org: Organization, profile: ClientProfile, *, actor: str, action: str
) -> InviteOutcome:
    """A new invite for the profile, its email and its audit event, added to `tx`."""
    settings = org_settings(org)
    issued = tokens.issue(
        tx,
        "invite",
        subject_for(profile.org_id, profile.client_id),
        ttl=timedelta(days=settings["invite_ttl_days"]),
        org_id=profile.org_id,
        client_id=profile.client_id,
        identity_id=profile.identity_id,
        data={"follow_up_days": sorted(set(settings["follow_up_days"]))},
    )
    token = issued.token
    _schedule_next_follow_up(token, after_days=0)
    job = outbox.queue(
        tx,
        org_id=profile.org_id,
        kind="invite",
        client_id=profile.client_id,
        to=profile.email,
        context=_email_context(profile, issued.secret, token, follow_up=False),
    )
    token.data = {**token.data, "job_id": job.job_id}  # a follow-up resends this email's link
    audit.record(
        tx,
        org_id=profile.org_id,
        action=action,
        actor=actor,
        client_id=profile.client_id,
        details={"expires_at": clock.iso(token.expires_at)},
    )
    return InviteOutcome("pending", None, token.created_at, token.expires_at, (job,))


def _email_context(
    profile: ClientProfile, secret: str, token: Token, *, follow_up: bool
) -> dict[str, Any]:
    return {
        "client": {"first_name": profile.first_name},
        "invite_url": f"{config.PUBLIC_URL}/invite/{secret}",
        "expires_at": token.expires_at.isoformat(),
        "follow_up": follow_up,
        "token_hash": token.token_hash,  # R43: the worker checks the link still works
    }


def _schedule_next_follow_up(token: Token, *, after_days: int) -> bool:
    """File the invite under the hour of its next follow-up (R14), if one is left before it
    expires; else take it out of the index. Says whether one is left."""
    later = [d for d in token.data.get("follow_up_days", []) if d > after_days]
    for days in later:
        due = token.created_at + timedelta(days=days)
        if due < token.expires_at:
            token.follow_up_at = due
            token.follow_up_hour = due.strftime("%Y-%m-%dT%H")
            return True
    token.follow_up_at = token.follow_up_hour = None
    return False


# Staff: send, resend, revoke, reset (R14, R20, B1) ------------------------------------------


def _invitable(profile: ClientProfile) -> None:
    """R11, R38: who cannot get an invite, each refusal saying what to do instead."""
    if profile.status != "active":
        raise Conflict("This client is archived; unarchive them first.", code="client_archived")
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
    log, recent = _sends_within_limit(profile, now)
    had = db.get(LiveToken, LiveToken.key_for(subject_for(org_id, client_id))) is not None
    tx = Tx()
    outcome = _issue(
        tx,
        org,
        profile,
        actor=provider_ref(staff.provider_id),
        action="invite.resent" if had else "invite.issued",
    )
    _count_send(tx, profile, log, recent, now)
    tx.commit()
    outbox.dispatch(outcome.jobs)
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
    if token.identity_id != profile.identity_id and tokens.status_of(token) == "live":
        # R19: the email changed since; that invite's page is dead ("revoked") for it.
        return InviteOutcome("revoked", None, token.created_at, token.expires_at)
    return _outcome(token)


def link_statuses(jobs: list[EmailJob]) -> dict[str, str]:
    """B1: for the invite emails among `jobs`, the status of the invite each carries, by job
    id, in one BatchGetItem whatever the page holds."""
    wanted = {
        job.job_id: job.context["token_hash"]
        for job in jobs
        if job.kind == "invite" and job.context.get("token_hash")
    }
    if not wanted:
        return {}
    found = {token.token_hash: token for token in Token.batch_get(set(wanted.values()))}
    return {
        job_id: _SHOWN[tokens.status_of(found[token_hash])]
        for job_id, token_hash in wanted.items()
        if token_hash in found
    }


def _sends_within_limit(profile: ClientProfile, now: datetime) -> tuple[SendLog | None, list]:
    """R20: the sends of the last 24 hours, or 429 when there are five already."""
    log = db.get(SendLog, SendLog.key_for(profile.org_id, profile.client_id))
    recent = [moment for moment in (log.sent if log else []) if moment > now - SEND_WINDOW]
    if len(recent) >= config.STAFF_SENDS_PER_DAY:
        wait = min(recent) + SEND_WINDOW - now
        raise Throttled(
            "This client was sent 5 invites or password resets in the last 24 hours; try again "
            "later.",
            retry_after=max(1, math.ceil(wait.total_seconds())),
        )
    return log, recent


def _count_send(
    tx: Tx, profile: ClientProfile, log: SendLog | None, recent: list, now: datetime
) -> None:
    """Add this send to the client's log in the send's transaction, under the condition that
    the log is as read: of two racing sends, one fails whole (R20 cannot be raced past)."""
    key = SendLog.key_for(profile.org_id, profile.client_id)
    purge = now + SEND_WINDOW + timedelta(hours=1)
    if log is None:
        tx.save(
            SendLog(key, sent=[now], version=1, purge_at=purge),
            condition=SendLog.key.does_not_exist(),
            on_conflict=_send_raced,
        )
        return
    tx.update(
        log,
        [
            SendLog.sent.set([*recent, now]),
            SendLog.version.set(log.version + 1),
            SendLog.purge_at.set(purge),
        ],
        condition=SendLog.version == log.version,
        on_conflict=_send_raced,
    )


def _send_raced() -> Conflict:
    return Conflict(
        "Another invite or reset was sent to this client at the same moment; check the client's "
        "record before sending again.",
        code="concurrent_change",
    )


def count_staff_send(tx: Tx, profile: ClientProfile) -> None:
    """R20 for a staff password reset: within the same five-a-day limit as invites."""
    now = clock.now()
    log, recent = _sends_within_limit(profile, now)
    _count_send(tx, profile, log, recent, now)


# Follow-ups (R14, R44) -------------------------------------------------------------------------


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
    first = _first_job(token)  # the email whose link a follow-up sends again
    wanted = (
        first is not None
        and tokens.status_of(token, now) == "live"
        and profile is not None
        and profile.status == "active"  # R14: never after archive
        and profile.activated_at is None  # nor after acceptance
        and profile.identity_id == token.identity_id
    )
    days = (was_at - token.created_at).days
    left = wanted and _schedule_next_follow_up(token, after_days=days)
    tx = Tx()
    tx.update(
        token,
        [Token.follow_up_hour.set(token.follow_up_hour), Token.follow_up_at.set(token.follow_up_at)]
        if left
        else [Token.follow_up_hour.remove(), Token.follow_up_at.remove()],
        condition=Token.follow_up_at == was_at,
        on_conflict=_AlreadyFollowedUp,
    )
    jobs: list[EmailJob] = []
    if wanted:
        assert profile is not None
        assert first is not None
        jobs.append(_queue_follow_up(tx, profile, first))
    try:
        tx.commit()
    except _AlreadyFollowedUp:
        return 0
    outbox.dispatch(jobs)
    if jobs:
        logs.event("invite.followed_up", org_id=token.org_id, client_id=token.client_id)
    return len(jobs)


def _queue_follow_up(tx: Tx, profile: ClientProfile, first: EmailJob) -> EmailJob:
    """The same link again: the secret is stored nowhere but in the first email, so the
    follow-up takes it from that email's job."""
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
        context={**first.context, "follow_up": True},
    )


def _first_job(token: Token) -> EmailJob | None:
    job_id = token.data.get("job_id")
    return db.get(EmailJob, job_id) if job_id else None


# The landing page (R15, B2) --------------------------------------------------------------------


@dataclass(frozen=True)
class Landing:
    """What an invite link leads to. `state` is unknown (404), dead (410, `reason` says why:
    used, superseded, expired, revoked), set_password, or enter_password (the login already
    has a password: the client signs in to add this practice, R15)."""

    state: str
    org: Organization | None = None
    token: Token | None = None
    profile: ClientProfile | None = None
    identity: Identity | None = None
    reason: str | None = None


def landing(secret: str) -> Landing:
    token = tokens.find(secret, "invite")
    if token is None or not token.org_id or not token.client_id:
        return Landing("unknown")
    org = db.get(Organization, token.org_id, "org")
    if org is None:
        return Landing("unknown")
    state = tokens.status_of(token)
    if state != "live":
        return Landing("dead", org, token, reason=state)
    profile = db.get(ClientProfile, token.org_id, token.client_id)
    if (
        profile is None
        or profile.status != "active"
        or profile.identity_id != token.identity_id  # R19: the email moved; the invite with it
    ):
        return Landing("dead", org, token, reason="revoked")
    identity = identities.get(profile.identity_id) if profile.identity_id else None
    if identity is None:
        return Landing("dead", org, token, reason="revoked")
    state = "enter_password" if identity.password_hash else "set_password"
    return Landing(state, org, token, profile, identity)


@dataclass(frozen=True)
class Accepted:
    """The outcome of the invite form: the landing it was for, field errors to show again
    (with their status), or the new session's token."""

    landing: Landing
    errors: dict[str, str] = field(default_factory=dict)
    status: int = 400
    session_token: str | None = None


def accept(secret: str, password: str, confirm: str, source: str) -> Accepted:
    """R15: set a password (or prove the one the login has) and enter the practice's account.

    One transaction consumes the token under its condition, sets the password (ending the
    login's other sessions, R46), activates the profile (the welcome message on the first
    activation, R21), writes the audit events (R47) and starts the session."""
    found = landing(secret)
    if found.state in {"unknown", "dead"}:
        return Accepted(found)
    token, profile, identity, org = found.token, found.profile, found.identity, found.org
    assert token is not None
    assert profile is not None
    assert identity is not None
    assert org is not None
    new_hash: str | None = None
    if found.state == "set_password":
        errors = new_password_errors(password, confirm)
        if errors:
            return Accepted(found, errors)
        new_hash = passwords.hash_password(password)
    else:
        try:
            throttle.check(identity.email, source)  # R45: this is a sign-in
        except Throttled:
            return Accepted(
                found, {"password": "Too many attempts. Wait a few minutes, then try again."}, 429
            )
        if not passwords.verify(identity.password_hash, password):
            throttle.record_failure(identity.email, source)
            return Accepted(
                found,
                {
                    "password": "That is not the password of your Portico login. Try again, or "
                    "ask for a password reset."
                },
            )
    now = clock.now()
    tx = Tx()
    tokens.consume(tx, token, on_conflict=_link_used)
    actor = client_ref(profile.client_id)
    entering = accounts.entering(identity, org.org_id)
    if new_hash:
        identities.set_password(tx, identity, new_hash, also=entering)
        audit.record(
            tx, org_id=org.org_id, action="password.set", actor=actor, client_id=profile.client_id
        )
    elif entering:
        tx.update(identity, entering)
    if profile.activated_at is None:
        profile.activated_at = now
        tx.update(
            profile,
            [ClientProfile.activated_at.set(now)],
            condition=ClientProfile.activated_at.does_not_exist(),
            on_conflict=_link_used,
        )
        chat.welcome(tx, org, profile)  # R21: on the first activation only
    audit.record(
        tx, org_id=org.org_id, action="invite.accepted", actor=actor, client_id=profile.client_id
    )
    account = accounts.client_account(profile)
    opened = client_account_open(profile, identity.id, accounts.settings_of(profile))
    session_token = sessions.start(tx, identity, account if opened else None)
    try:
        tx.commit()
    except Conflict as exc:
        if exc.code != "token_not_live":
            raise
        return Accepted(landing(secret))  # another tab won: the link now says why it is dead
    logs.event("invite.accepted", org_id=org.org_id, client_id=profile.client_id)
    return Accepted(found, session_token=session_token)


def _link_used() -> Conflict:
    return Conflict("This link has just been used.", code="token_not_live")


def renewal(secret: str) -> Landing:
    """B2: a visitor of a dead link asks for a fresh invite. The practice's primary provider of
    the client is told by email and decides; one request per link, so the form cannot be used
    to flood the practice. Answers the landing (state "requested" once told)."""
    found = landing(secret)
    if found.state != "dead" or found.reason == "used" or found.token is None:
        return found
    token = found.token
    profile = db.get(ClientProfile, token.org_id, token.client_id)
    provider = (
        db.get(Provider, token.org_id, Provider.sk_for(profile.primary_provider_id))
        if profile
        else None
    )
    if profile is None or provider is None:
        return Landing("requested", found.org, token, reason=found.reason)
    tx = Tx()
    tx.update(
        token,
        [Token.renewal_requested_at.set(clock.now())],
        condition=Token.renewal_requested_at.does_not_exist(),
        on_conflict=_already_requested,
    )
    job = outbox.queue(
        tx,
        org_id=token.org_id,
        kind="invite_requested",
        identity_id=provider.identity_id,
        context={
            "provider": {"first_name": provider.first_name},
            "client": {"first_name": profile.first_name, "last_name": profile.last_name},
            "reason": _REASON_WORDS.get(found.reason or "", "it no longer works"),
            "client_id": profile.client_id,
        },
    )
    audit.record(
        tx,
        org_id=token.org_id,
        action="invite.renewal_requested",
        actor=SYSTEM,
        client_id=profile.client_id,
    )
    try:
        tx.commit()
    except _AlreadyRequested:
        return Landing("requested", found.org, token, reason=found.reason)
    outbox.dispatch([job])
    logs.event("invite.renewal_requested", org_id=token.org_id, client_id=profile.client_id)
    return Landing("requested", found.org, token, reason=found.reason)


_REASON_WORDS = {
    "expired": "it expired",
    "revoked": "it was withdrawn",
    "superseded": "a newer invitation replaced it",
}


class _AlreadyRequested(Conflict):
    def __init__(self) -> None:
        super().__init__("A new invitation was already asked for with this link.")


def _already_requested() -> Conflict:
    return _AlreadyRequested()
