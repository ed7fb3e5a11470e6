"""The invite's landing page (R15, B2): what a link shows, accepting it with a new password,
and asking for a fresh link when it has died.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from chalicelib import clock, db, logs
from chalicelib.db import Tx
from chalicelib.errors import Conflict, Throttled
from chalicelib.models.identities import Identity
from chalicelib.models.orgs import Organization, Provider
from chalicelib.models.profiles import ClientProfile, ProfileStatus
from chalicelib.models.tokens import Token, TokenStatus
from chalicelib.rules.accounts import client_account_open
from chalicelib.rules.actors import SYSTEM, client_ref
from chalicelib.rules.passwords import new_password_errors
from chalicelib.services import audit, chat, outbox, records, throttle, tokens
from chalicelib.services.identity import accounts, handover, identities, passwords, sessions


class LandingState(StrEnum):
    """Where an invite link leads (R15, B2)."""

    UNKNOWN = "unknown"  # 404
    DEAD = "dead"  # 410, the landing's `reason` says why (a TokenStatus)
    SET_PASSWORD = "set_password"  # noqa: S105 (a page's state, not a password)
    # The login has a password already: the client signs in with it to add the practice.
    ENTER_PASSWORD = "enter_password"  # noqa: S105 (a page's state, not a password)
    REQUESTED = "requested"  # B2: a fresh link was asked for


@dataclass(frozen=True)
class Landing:
    """What an invite link leads to. `state` is unknown (404), dead (410, `reason` says why:
    used, superseded, expired, revoked), set_password, or enter_password (the login already
    has a password: the client signs in to add this practice, R15)."""

    state: LandingState
    org: Organization | None = None
    token: Token | None = None
    profile: ClientProfile | None = None
    identity: Identity | None = None
    reason: str | None = None


def landing(secret: str) -> Landing:
    token = tokens.find(secret, "invite")
    if token is None or not token.org_id or not token.client_id:
        return Landing(LandingState.UNKNOWN)
    # The organization, the profile and the login the invite was sent to, at once (issue #17).
    found = db.get_together(
        [
            (Organization, token.org_id, "org"),
            (ClientProfile, token.org_id, token.client_id),
            *([(Identity, token.identity_id, None)] if token.identity_id else []),
        ]
    )
    org = found.of(Organization, token.org_id, "org")
    if org is None:
        return Landing(LandingState.UNKNOWN)
    state = tokens.status_of(token)
    if state != TokenStatus.LIVE:
        return Landing(LandingState.DEAD, org, token, reason=state)
    profile = found.of(ClientProfile, token.org_id, token.client_id)
    if (
        profile is None
        or profile.status != ProfileStatus.ACTIVE
        or not tokens.addressed_to(token, profile.identity_id)  # R53: the email changed
    ):
        return Landing(LandingState.DEAD, org, token, reason=TokenStatus.REVOKED)
    # addressed_to: the profile's login is the one the invite was sent to, read above
    identity = found.of(Identity, profile.identity_id) if profile.identity_id else None
    if identity is None:
        return Landing(LandingState.DEAD, org, token, reason=TokenStatus.REVOKED)
    # R15, R50: a proven password is asked for; a login without one, or with an unproven one
    # (set by staff or chosen at a sign-up, perhaps by a stranger), chooses a new password:
    # the link proves the mailbox.
    asks = identities.asks_current_password(identity)
    page = LandingState.ENTER_PASSWORD if asks else LandingState.SET_PASSWORD
    return Landing(page, org, token, profile, identity)


@dataclass(frozen=True)
class Accepted:
    """The outcome of the invite form: the landing it was for, field errors to show again
    (with their status), or the new session's token."""

    landing: Landing
    errors: dict[str, str] = field(default_factory=dict)
    status: int = 400
    session_token: str | None = None
    # B9: the one-time code for the portal, written with the session
    handover_code: str | None = None


def accept(secret: str, password: str, confirm: str, source: str) -> Accepted:
    """R15: set a password (or prove the one the login has) and enter the practice's account.

    One transaction consumes the token under its condition, proves the mailbox and sets the
    password (R50; ending the login's other sessions, R46), activates the profile (the welcome
    message on the first activation, R21), writes the audit events (R47) and starts the
    session."""
    found = landing(secret)
    if found.state in {LandingState.UNKNOWN, LandingState.DEAD}:
        return Accepted(found)
    token, profile, identity, org = found.token, found.profile, found.identity, found.org
    assert token is not None
    assert profile is not None
    assert identity is not None
    assert org is not None
    new_hash: str | None = None
    counted: throttle.Attempt | None = None
    if found.state == LandingState.SET_PASSWORD:
        errors = new_password_errors(password, confirm)
        if errors:
            return Accepted(found, errors)
        new_hash = passwords.hash_password(password)
    else:
        try:  # R45: this is a sign-in, counted before the password is checked (R52)
            counted = throttle.attempt(identity.email, source, throttle.SIGN_IN)
        except Throttled:
            return Accepted(
                found, {"password": "Too many attempts. Wait a few minutes, then try again."}, 429
            )
        if not passwords.verify(identity.password_hash, password):
            return Accepted(
                found,
                {
                    "password": "That is not the password of your Portico login. Try again, or "
                    "ask for a password reset."
                },
            )
    # What the change reads next, at once (issue #17): the levels of the profile's settings
    # (R37) and the login's reset and passcode pointers, which a password set ends (R13).
    group_ids = {profile.group_id} if profile.group_id else set()
    db.read_with(
        [], db.ReadAhead([*records.level_keys(org.org_id, group_ids), *_pointer_keys(identity)])
    )
    now = clock.now()
    tx = Tx()
    if counted is not None:
        counted.succeeded(tx)
    tokens.consume(tx, token, on_conflict=tokens.just_used)
    actor = client_ref(profile.client_id)
    entering = accounts.entering(identity, org.org_id)
    identities.prove_mailbox(tx, identity, password_hash=new_hash, also=entering)  # R50
    if new_hash:
        audit.record(
            tx, org_id=org.org_id, action="password.set", actor=actor, client_id=profile.client_id
        )
    # R53: the email must not have changed since the page was read.
    addressed = ClientProfile.identity_id == token.identity_id
    if profile.activated_at is None:
        profile.activated_at = now
        tx.update(
            profile,
            [ClientProfile.activated_at.set(now)],
            condition=ClientProfile.activated_at.does_not_exist() & addressed,
            on_conflict=tokens.just_used,
        )
        chat.welcome(tx, org, profile)  # R21: on the first activation only
    else:
        tx.check(
            ClientProfile,
            profile.org_id,
            profile.client_id,
            condition=addressed,
            on_conflict=tokens.just_used,
        )
    audit.record(
        tx, org_id=org.org_id, action="invite.accepted", actor=actor, client_id=profile.client_id
    )
    account = accounts.client_account(profile)
    opened = client_account_open(profile, identity.id, accounts.settings_of(profile))
    session_token = sessions.start(tx, identity, account if opened else None)
    code = handover.add(tx, session_token)
    try:
        tx.commit()
    except Conflict as exc:
        if exc.code != "token_not_live":
            raise
        return Accepted(landing(secret))  # another tab won: the link now says why it is dead
    logs.event("invite.accepted", org_id=org.org_id, client_id=profile.client_id)
    return Accepted(found, session_token=session_token, handover_code=code)


def _pointer_keys(identity: Identity) -> list[db.Key]:
    return tokens.pointer_keys(identities.password_link_subjects(identity))


def renewal(secret: str) -> Landing:
    """B2: a visitor of a dead link asks for a fresh invite. The practice's primary provider of
    the client is told by email and decides; one request per link, so the form cannot be used
    to flood the practice. Answers the landing (state "requested" once told)."""
    found = landing(secret)
    if found.state != LandingState.DEAD or found.reason == TokenStatus.USED or found.token is None:
        return found
    token = found.token
    profile = db.get(ClientProfile, token.org_id, token.client_id)
    provider = (
        db.get(Provider, token.org_id, Provider.sk_for(profile.primary_provider_id))
        if profile
        else None
    )
    if profile is None or provider is None:
        return Landing(LandingState.REQUESTED, found.org, token, reason=found.reason)
    tx = Tx()
    tokens.ask_renewal(tx, token)
    outbox.queue(
        tx,
        org_id=token.org_id,
        kind="invite_requested",
        identity_id=provider.identity_id,
        context={
            "provider": {"first_name": provider.first_name},
            "client": {"first_name": profile.first_name, "last_name": profile.last_name},
            "reason": tokens.dead_reason(found.reason),
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
    except tokens.RenewalAsked:
        return Landing(LandingState.REQUESTED, found.org, token, reason=found.reason)
    logs.event("invite.renewal_requested", org_id=token.org_id, client_id=profile.client_id)
    return Landing(LandingState.REQUESTED, found.org, token, reason=found.reason)
