"""Staff of a practice (R49): adding a provider sends a staff invite; admins resend and revoke
it, change a provider's names and role, and deactivate or reactivate a provider.

A staff invite is a token of kind "staff_invite" whose subject is the membership
(`staff_invite#org#provider`), issued as the client invite is (R13: a newer one kills the older
in the same transaction, its email queued in that transaction carrying the token's hash so a
dead link is never sent). Until it is accepted the membership is `invited`, and only an
`active` membership is listed, entered or acts (rules/accounts.py). Sessions read the
membership on every request (sessions.authenticate), so a deactivation or a role change acts
on sessions already open at their next request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from pynamodb.expressions.update import Action

from chalicelib import clock, config, db, logs, sealing
from chalicelib.db import Tx
from chalicelib.errors import (
    Conflict,
    NotFound,
    PorticoError,
    Throttled,
    Unauthenticated,
    field_error,
)
from chalicelib.models.identities import EmailClaim, Identity
from chalicelib.models.orgs import Organization, Provider, ProviderStatus, Role
from chalicelib.models.profiles import ClientProfile, OrgEmailClaim, ProfileStatus
from chalicelib.models.tokens import SendLog, Token, TokenStatus
from chalicelib.rules.actors import SYSTEM, Actor, provider_ref
from chalicelib.rules.passwords import new_password_errors
from chalicelib.rules.settings import org_settings
from chalicelib.schemas.practices import AddProvider, Deactivate, UpdateProvider
from chalicelib.services import access, audit, outbox, records, sends, tokens
from chalicelib.services.identity import accounts, auth, handover, identities, passwords, sessions
from chalicelib.services.practices import orgs

KIND = "staff_invite"
# R49: clients move to the successor in batches that fit one transaction (each client's move
# with its audit event), every client moved whole, so none is ever without a primary provider.
MOVE_BATCH = 40


def subject_for(org_id: str, provider_id: str) -> str:
    return f"staff_invite#{org_id}#{provider_id}"


def provider_missing() -> NotFound:
    return NotFound("No such provider in this practice.", code="provider_not_found")


def _provider(org_id: str, provider_id: str) -> Provider:
    found = (
        db.get(Provider, org_id, Provider.sk_for(provider_id))
        if records.names_an_id(provider_id, "pr")
        else None
    )
    if found is None:
        raise provider_missing()
    return found


@dataclass(frozen=True)
class StaffInvite:
    """A provider's newest staff invite as staff see it (B1's statuses)."""

    status: str
    expires_at: str | None = None


# Adding and inviting (R49, R13, R20) ----------------------------------------------------------


def add_reads(org_id: str, req: Callable[[], AddProvider]) -> sessions.Ahead:
    """What `add` reads before its write, read ahead with an admin session of the path's
    organization (issue #17): the organization and the address's claim (R1)."""
    return sessions.in_org(
        org_id,
        lambda: [
            (Organization, org_id, "org"),
            (EmailClaim, EmailClaim.key_for(req().email), None),
        ],
    )


def resend_reads(org_id: str, provider_id: str) -> sessions.Ahead:
    """What `resend` reads before its write, read ahead (issue #17): the organization, the
    membership, its send log (R20) and its invite's live pointer (R13)."""
    if not records.names_an_id(provider_id, "pr"):
        return sessions.in_org(org_id, lambda: [])
    return sessions.in_org(
        org_id,
        lambda: [
            (Organization, org_id, "org"),
            (Provider, org_id, Provider.sk_for(provider_id)),
            (SendLog, SendLog.key_for(org_id, provider_id), None),
            *tokens.pointer_keys([subject_for(org_id, provider_id)]),
        ],
    )


def add(actor: Actor, org_id: str, req: AddProvider) -> Provider:
    """Admins add a provider: the membership starts `invited` and its staff invite goes out in
    the same change (R49). An address used by a client of this practice is refused (R12)."""
    admin = access.staff_of(actor, org_id, access.ADMIN)
    org = records.org(org_id)

    def attempt(tx: Tx) -> Provider:
        identity, _ = identities.find_or_add(tx, req.email, first_org_id=org_id)
        tx.check(
            OrgEmailClaim,
            org_id,
            OrgEmailClaim.key_for(req.email),
            condition=OrgEmailClaim.client_ids.does_not_exist(),
            on_conflict=lambda: Conflict(
                "This address belongs to a client of this practice; staff need their own.",
                code="email_is_client",
            ),
        )
        provider = orgs.membership(
            tx,
            org_id,
            identity,
            req.first_name,
            req.last_name,
            req.role,
            status=ProviderStatus.INVITED,
        )
        audit.record(
            tx,
            org_id=org_id,
            action="provider.added",
            actor=provider_ref(admin.provider_id),
            details={
                "provider_id": provider.provider_id,
                "identity_id": identity.id,
                "role": provider.role,
            },
        )
        _issue(
            tx,
            org,
            provider,
            actor=provider_ref(admin.provider_id),
            action="staff_invite.issued",
            new_provider=True,
        )
        key = SendLog.key_for(org_id, provider.provider_id)
        sends.count(tx, sends.Sends(key, None, []), clock.now())  # R20: the first of five
        return provider

    provider = db.run(attempt, retry_on=identities.EmailClaimedMeanwhile)
    logs.event("provider.added", org_id=org_id, provider_id=provider.provider_id)
    return provider


def _issue(
    tx: Tx,
    org: Organization,
    provider: Provider,
    *,
    actor: str,
    action: str,
    new_provider: bool = False,
) -> Token:
    """A new staff invite, its branded email and its audit event, added to `tx` (R13, R49).
    `new_provider`: the membership is added in `tx`, so it has no invite to read."""
    issued = tokens.issue(
        tx,
        KIND,
        subject_for(provider.org_id, provider.provider_id),
        ttl=timedelta(days=org_settings(org)["invite_ttl_days"]),
        org_id=provider.org_id,
        identity_id=provider.identity_id,
        data={"provider_id": provider.provider_id},
        new_subject=new_provider,
    )
    token = issued.token
    outbox.queue(
        tx,
        org_id=provider.org_id,
        kind=KIND,
        identity_id=provider.identity_id,
        to=provider.email,
        context={
            "provider": {"first_name": provider.first_name},
            "role": provider.role,
            "expires_at": token.expires_at.isoformat(),
        },
        # R53: sealed for the worker; R43: not sent once the link died.
        secret=sealing.seal(f"{config.PUBLIC_URL}/staff-invite/{issued.secret}", token.token_hash),
    )
    audit.record(
        tx,
        org_id=provider.org_id,
        action=action,
        actor=actor,
        details={"provider_id": provider.provider_id, "expires_at": clock.iso(token.expires_at)},
    )
    return token


def invite_of(provider: Provider) -> StaffInvite:
    """B1: the status of the provider's newest staff invite."""
    token = tokens.newest(subject_for(provider.org_id, provider.provider_id))
    if token is None:
        return StaffInvite("not_sent")
    shown: dict[str, str] = {
        TokenStatus.LIVE: "pending",
        TokenStatus.USED: "accepted",
        TokenStatus.EXPIRED: "expired",
        TokenStatus.SUPERSEDED: "superseded",
        TokenStatus.REVOKED: "revoked",
    }
    return StaffInvite(shown[tokens.status_of(token)], clock.iso(token.expires_at))


def resend(actor: Actor, org_id: str, provider_id: str) -> StaffInvite:
    """Admins send a new staff invite; the older link dies at that moment (R13, R49), within
    R20's five a day."""
    admin = access.staff_of(actor, org_id, access.ADMIN)
    org = records.org(org_id)
    provider = _provider(org_id, provider_id)
    if provider.status != ProviderStatus.INVITED:
        raise Conflict(
            "This provider has already joined (or was deactivated): there is no invite to "
            "send. Reactivate a deactivated provider first.",
            code="not_invited",
        )
    now = clock.now()
    within = sends.within_limit(
        SendLog.key_for(org_id, provider_id),
        now,
        "This provider was sent 5 invites in the last 24 hours; try again later.",
    )
    tx = Tx()
    token = _issue(
        tx, org, provider, actor=provider_ref(admin.provider_id), action="staff_invite.resent"
    )
    sends.count(tx, within, now)
    tx.check(
        Provider,
        org_id,
        provider.sk,
        condition=Provider.status == ProviderStatus.INVITED,
        on_conflict=_changed_meanwhile,
    )
    tx.commit()
    logs.event("staff_invite.sent", org_id=org_id, provider_id=provider_id)
    return StaffInvite("pending", clock.iso(token.expires_at))


def revoke(actor: Actor, org_id: str, provider_id: str) -> None:
    """Admins withdraw the pending staff invite; its link answers "revoked" from then on."""
    admin = access.staff_of(actor, org_id, access.ADMIN)
    provider = _provider(org_id, provider_id)
    tx = Tx()
    if tokens.revoke(tx, subject_for(org_id, provider.provider_id)) is None:
        raise Conflict("This provider has no pending invite to revoke.", code="no_pending_invite")
    audit.record(
        tx,
        org_id=org_id,
        action="staff_invite.revoked",
        actor=provider_ref(admin.provider_id),
        details={"provider_id": provider_id},
    )
    tx.commit()
    logs.event("staff_invite.revoked", org_id=org_id, provider_id=provider_id)


# The staff invite's page (R49, R50, R13, B2) ----------------------------------------------------


class StaffInviteState(StrEnum):
    """Where a staff invite link leads."""

    UNKNOWN = "unknown"  # 404
    DEAD = "dead"  # 410; `reason` says why (a TokenStatus)
    SET_PASSWORD = "set_password"  # noqa: S105 (a page's state, not a password)
    # The login has a proven password: the provider enters it to join the practice.
    ENTER_PASSWORD = "enter_password"  # noqa: S105 (a page's state, not a password)
    REQUESTED = "requested"  # B2: a dead link's visitor asked the practice for a new one


@dataclass(frozen=True)
class StaffLanding:
    state: StaffInviteState
    org: Organization | None = None
    token: Token | None = None
    provider: Provider | None = None
    identity: Identity | None = None
    reason: str | None = None


def landing(secret: str) -> StaffLanding:
    token = tokens.find(secret, KIND)
    if token is None or not token.org_id:
        return StaffLanding(StaffInviteState.UNKNOWN)
    provider_key = Provider.sk_for(str(token.data.get("provider_id")))
    # The organization, the membership and the login the invite was sent to, at once (#17).
    found = db.get_together(
        [
            (Organization, token.org_id, "org"),
            (Provider, token.org_id, provider_key),
            *([(Identity, token.identity_id, None)] if token.identity_id else []),
        ]
    )
    org = found.of(Organization, token.org_id, "org")
    if org is None:
        return StaffLanding(StaffInviteState.UNKNOWN)
    state = tokens.status_of(token)
    if state != TokenStatus.LIVE:
        return StaffLanding(StaffInviteState.DEAD, org, token, reason=state)
    provider = found.of(Provider, token.org_id, provider_key)
    identity = found.of(Identity, token.identity_id) if token.identity_id else None
    if (
        provider is None
        or provider.status != ProviderStatus.INVITED
        or not tokens.addressed_to(token, provider.identity_id)  # R53: sent to this login
        or identity is None
    ):
        return StaffLanding(StaffInviteState.DEAD, org, token, reason=TokenStatus.REVOKED)
    # R49, R50: a proven password is asked for; otherwise the link proves the mailbox and the
    # owner chooses a new password (an unproven one may be a stranger's).
    asks = identities.asks_current_password(identity)
    page = StaffInviteState.ENTER_PASSWORD if asks else StaffInviteState.SET_PASSWORD
    return StaffLanding(page, org, token, provider, identity)


# B2: the admins told when a dead staff invite asks for a new one, earliest first (one
# transaction holds their emails).
RENEWAL_ADMINS = 10


def renewal(secret: str) -> StaffLanding:
    """B2 for staff invites (R49): the visitor of a dead link asks for a new one. The
    practice's active admins are told by email and decide (a resend from the staff settings);
    one request per link, so the form cannot flood them. Answers "requested" whatever became of
    the membership, so the page tells no more than the dead link did."""
    found = landing(secret)
    if (
        found.state != StaffInviteState.DEAD
        or found.reason == TokenStatus.USED
        or found.token is None
    ):
        return found
    token = found.token
    requested = StaffLanding(StaffInviteState.REQUESTED, found.org, token, reason=found.reason)
    providers = orgs.providers_of(token.org_id)
    provider_id = str(token.data.get("provider_id"))
    provider = next((p for p in providers if p.provider_id == provider_id), None)
    if provider is None or provider.status != ProviderStatus.INVITED:
        return requested  # joined or deactivated meanwhile: there is nothing to resend
    admins = sorted(
        (p for p in providers if p.role == Role.ADMIN and p.status == ProviderStatus.ACTIVE),
        key=lambda p: p.created_at,
    )[:RENEWAL_ADMINS]
    tx = Tx()
    tokens.ask_renewal(tx, token)
    for admin in admins:
        outbox.queue(
            tx,
            org_id=token.org_id,
            kind="staff_invite_requested",
            identity_id=admin.identity_id,
            context={
                "admin": {"first_name": admin.first_name},
                "provider": {"first_name": provider.first_name, "last_name": provider.last_name},
                "reason": tokens.dead_reason(found.reason),
            },
        )
    audit.record(
        tx,
        org_id=token.org_id,
        action="staff_invite.renewal_requested",
        actor=SYSTEM,
        details={"provider_id": provider_id},
    )
    try:
        tx.commit()
    except tokens.RenewalAsked:
        return requested
    logs.event("staff_invite.renewal_requested", org_id=token.org_id, provider_id=provider_id)
    return requested


@dataclass(frozen=True)
class StaffAccepted:
    """The staff invite form's outcome: field errors to show again (with their status), or
    the new session's token, already in the staff account."""

    landing: StaffLanding
    errors: dict[str, str] = field(default_factory=dict)
    status: int = 400
    session_token: str | None = None
    # B9: the one-time code for the portal, written with the session
    handover_code: str | None = None


def accept(secret: str, password: str, confirm: str, source: str) -> StaffAccepted:
    """R49: the provider sets a password (or proves the login's own, throttled as a sign-in,
    R45) and the membership turns `active`, signed in to it. One transaction consumes the
    token under its condition, proves the mailbox (R50; a new password ends the login's other
    sessions, R46), activates the membership, writes the audit events (R47) and starts the
    session."""
    found = landing(secret)
    if found.state in {StaffInviteState.UNKNOWN, StaffInviteState.DEAD}:
        return StaffAccepted(found)
    token, provider, identity, org = found.token, found.provider, found.identity, found.org
    assert token is not None
    assert provider is not None
    assert identity is not None
    assert org is not None
    new_hash: str | None = None
    if found.state == StaffInviteState.SET_PASSWORD:
        errors = new_password_errors(password, confirm)
        if errors:
            return StaffAccepted(found, errors)
        new_hash = passwords.hash_password(password)
    else:
        try:
            auth.check_password(identity.email, password, source, in_org=org.org_id)
        except Throttled:
            return StaffAccepted(
                found, {"password": "Too many attempts. Wait a few minutes, then try again."}, 429
            )
        except Unauthenticated:
            return StaffAccepted(
                found,
                {
                    "password": "That is not the password of your Portico login. Try again, or "
                    "ask for a password reset."
                },
            )
    now = clock.now()
    actor = provider_ref(provider.provider_id)
    tx = Tx()
    tokens.consume(tx, token, on_conflict=tokens.just_used)
    identities.prove_mailbox(
        tx, identity, password_hash=new_hash, also=accounts.entering(identity, org.org_id)
    )
    if new_hash:
        audit.record(
            tx,
            org_id=org.org_id,
            action="password.set",
            actor=actor,
            details={"provider_id": provider.provider_id},
        )
    tx.update(
        provider,
        [Provider.status.set(ProviderStatus.ACTIVE), Provider.accepted_at.set(now)],
        condition=Provider.status == ProviderStatus.INVITED,
        on_conflict=tokens.just_used,
    )
    provider.status, provider.accepted_at = ProviderStatus.ACTIVE, now
    audit.record(
        tx,
        org_id=org.org_id,
        action="staff_invite.accepted",
        actor=actor,
        details={"provider_id": provider.provider_id},
    )
    session_token = sessions.start(tx, identity, accounts.staff_account(provider))
    code = handover.add(tx, session_token)
    try:
        tx.commit()
    except Conflict as exc:
        if exc.code != "token_not_live":
            raise
        return StaffAccepted(landing(secret))  # another tab won: the page now says why
    logs.event("staff_invite.accepted", org_id=org.org_id, provider_id=provider.provider_id)
    return StaffAccepted(found, session_token=session_token, handover_code=code)


# Administration (R49, R10, R47) -------------------------------------------------------------


def _changed_meanwhile() -> Conflict:
    return Conflict(
        "This provider was changed at the same moment; reload and try again.",
        code="concurrent_change",
    )


def _last_admin() -> Conflict:
    return Conflict(
        "This is the practice's last active admin: make another member an admin first.",
        code="last_admin",
    )


def _keep_an_admin(tx: Tx, org_id: str, leaving: Provider, prefer: str | None = None) -> str:
    """R49: the last active admin can be neither demoted nor deactivated. Another active admin
    (`prefer` when it is one) is checked in the same transaction, so two admins demoting each
    other at once cannot both succeed: the transactions touch both items, and the second sees
    the first's write. Answers the admin checked."""
    others = {
        p.provider_id: p
        for p in orgs.providers_of(org_id)
        if p.role == Role.ADMIN
        and p.status == ProviderStatus.ACTIVE
        and p.provider_id != leaving.provider_id
    }
    if not others:
        raise _last_admin()
    keeper = others.get(prefer or "") or next(iter(others.values()))
    tx.check(
        Provider,
        org_id,
        keeper.sk,
        condition=(Provider.status == ProviderStatus.ACTIVE) & (Provider.role == Role.ADMIN),
        on_conflict=_last_admin,
    )
    return keeper.provider_id


def _active_clients(org_id: str, provider_id: str, limit: int | None = None) -> list[ClientProfile]:
    """The active clients whose primary provider this is (R10), by the provider's index."""
    return list(
        ClientProfile.by_provider_status.query(
            f"{org_id}#{provider_id}#{ProfileStatus.ACTIVE}", limit=limit
        )
    )


def _has_clients(count: int) -> Conflict:
    return Conflict(
        f"This provider is the primary provider of {count} active client(s): name a successor "
        "(successor_id) who takes them.",
        code="provider_has_clients",
        count=count,
    )


def update(actor: Actor, org_id: str, provider_id: str, req: UpdateProvider) -> Provider:
    """Admins change a provider's names and role (R49). The last active admin keeps the admin
    role; the `staff` role cannot hold clients (R10), so a primary provider of active clients
    keeps a clinical role. Open sessions take the new role on their next request."""
    admin = access.staff_of(actor, org_id, access.ADMIN)
    provider = _provider(org_id, provider_id)
    changes = req.model_dump(exclude_unset=True, exclude_none=True)
    tx = Tx()
    actions: list[Action] = []
    role_from = provider.role
    if "role" in changes and changes["role"] != provider.role:
        if provider.role == Role.ADMIN and provider.status == ProviderStatus.ACTIVE:
            _keep_an_admin(tx, org_id, provider)
        if changes["role"] not in access.CLINICAL:
            held = _active_clients(org_id, provider_id)
            if held:
                raise _has_clients(len(held))
        provider.role = changes["role"]
        actions.append(Provider.role.set(provider.role))
    for name in ("first_name", "last_name"):
        if name in changes:
            setattr(provider, name, changes[name])
            actions.append(getattr(Provider, name).set(changes[name]))
    if not actions:
        return provider
    tx.update(
        provider,
        actions,
        # What the checks above read must still hold when this writes.
        condition=(Provider.role == role_from) & (Provider.status == provider.status),
        on_conflict=_changed_meanwhile,
    )
    audit.record(
        tx,
        org_id=org_id,
        action="provider.updated",
        actor=provider_ref(admin.provider_id),
        details={
            "provider_id": provider_id,
            "fields": sorted(changes),
            "role_from": role_from,
            "role_to": provider.role,
        },
    )
    tx.commit()
    logs.event("provider.updated", org_id=org_id, provider_id=provider_id)
    return provider


def deactivate(actor: Actor, org_id: str, provider_id: str, req: Deactivate) -> Provider:
    """R49: a provider leaves the practice. Its staff account leaves the login's list and its
    sessions end on their next request (sessions.authenticate reads the membership); a pending
    staff invite dies. A primary provider of active clients needs a successor, a clinical
    provider of the practice, who takes every one of them: in the deactivation's own change
    when they fit, else in batches before it, each client moved whole (never without a primary
    provider). The last active admin cannot leave. Care teams and records that name the
    provider keep it; it is no longer a choice for them (R10)."""
    admin = access.staff_of(actor, org_id, access.ADMIN)
    provider = _provider(org_id, provider_id)
    if provider.status == ProviderStatus.DEACTIVATED:
        raise Conflict("This provider is already deactivated.", code="provider_deactivated")
    successor: Provider | None = None
    if req.successor_id:
        if req.successor_id == provider_id:
            raise _successor_error("A provider cannot be their own successor.")
        successor = orgs.clinical_provider(org_id, req.successor_id, "successor_id")
    by = provider_ref(admin.provider_id)
    moved = 0
    while True:
        batch = _active_clients(org_id, provider_id, limit=MOVE_BATCH)
        if batch and successor is None:
            raise _has_clients(len(_active_clients(org_id, provider_id)))
        tx = Tx()
        for profile in batch:
            assert successor is not None
            _move(tx, profile, provider_id, successor.provider_id, by)
        last = len(batch) < MOVE_BATCH  # the last batch goes with the deactivation itself
        checked = _end_membership(tx, provider, by, successor, moved + len(batch)) if last else None
        if successor is not None and batch and checked != successor.provider_id:
            _successor_still_clinical(tx, successor)  # (an admin checked already is clinical)
        tx.commit()
        moved += len(batch)
        if last:
            break
    logs.event("provider.deactivated", org_id=org_id, provider_id=provider_id, moved=moved)
    return provider


def _successor_error(message: str) -> PorticoError:
    return field_error("successor_id", message)


def _move(tx: Tx, profile: ClientProfile, from_id: str, to_id: str, by: str) -> None:
    """One client to the successor, whole, under the condition that it is still the leaving
    provider's: the successor leaves the care team, being primary now (R10)."""
    profile.primary_provider_id = to_id
    profile.care_team = [pid for pid in profile.care_team if pid != to_id]
    profile.updated_at = clock.now()
    tx.save(profile, condition=ClientProfile.primary_provider_id == from_id)
    audit.record(
        tx,
        org_id=profile.org_id,
        action="client.primary_provider_changed",
        actor=by,
        client_id=profile.client_id,
        details={"from": from_id, "to": to_id, "reason": "provider_deactivated"},
    )


def _successor_still_clinical(tx: Tx, successor: Provider) -> None:
    tx.check(
        Provider,
        successor.org_id,
        successor.sk,
        condition=(Provider.status == ProviderStatus.ACTIVE)
        & Provider.role.is_in(*access.CLINICAL),
        on_conflict=lambda: _successor_error("The successor was changed meanwhile; choose again."),
    )


def _end_membership(
    tx: Tx, provider: Provider, by: str, successor: Provider | None, moved: int
) -> str | None:
    """The deactivation itself, added to `tx`; answers the admin `_keep_an_admin` checked."""
    kept = None
    if provider.role == Role.ADMIN and provider.status == ProviderStatus.ACTIVE:
        kept = _keep_an_admin(
            tx, provider.org_id, provider, successor.provider_id if successor else None
        )
    was = provider.status
    now = clock.now()
    tx.update(
        provider,
        [Provider.status.set(ProviderStatus.DEACTIVATED), Provider.deactivated_at.set(now)],
        condition=(Provider.status == was) & (Provider.role == provider.role),
        on_conflict=_changed_meanwhile,
    )
    provider.status, provider.deactivated_at = ProviderStatus.DEACTIVATED, now
    tokens.revoke(tx, subject_for(provider.org_id, provider.provider_id))
    audit.record(
        tx,
        org_id=provider.org_id,
        action="provider.deactivated",
        actor=by,
        details={
            "provider_id": provider.provider_id,
            "successor_id": successor.provider_id if successor else None,
            "clients_moved": moved,
        },
    )
    return kept


def reactivate(actor: Actor, org_id: str, provider_id: str) -> Provider:
    """R49: a deactivated provider comes back: `active` if they had joined, else `invited`
    (an admin then sends a new staff invite). Sessions opened before the deactivation stay
    ended, even one not used meanwhile."""
    admin = access.staff_of(actor, org_id, access.ADMIN)
    provider = _provider(org_id, provider_id)
    if provider.status != ProviderStatus.DEACTIVATED:
        raise Conflict("This provider is not deactivated.", code="provider_not_deactivated")
    status = ProviderStatus.ACTIVE if provider.accepted_at else ProviderStatus.INVITED
    tx = Tx()
    tx.update(
        provider,
        # `deactivated_at` stays: sessions opened before it stay ended (sessions.authenticate).
        [Provider.status.set(status)],
        condition=Provider.status == ProviderStatus.DEACTIVATED,
        on_conflict=_changed_meanwhile,
    )
    audit.record(
        tx,
        org_id=org_id,
        action="provider.reactivated",
        actor=provider_ref(admin.provider_id),
        details={"provider_id": provider_id, "status": status},
    )
    tx.commit()
    provider.status = status
    logs.event("provider.reactivated", org_id=org_id, provider_id=provider_id)
    return provider


def list_providers(actor: Actor, org_id: str) -> list[Provider]:
    access.staff_of(actor, org_id)
    return orgs.providers_of(org_id)
