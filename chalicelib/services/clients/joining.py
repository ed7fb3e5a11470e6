"""A group's shareable invite link (R16, B3, R23, R51): a new client signs up into the group,
confirming the address by email first, or an email that has a login already signs in with that
login's password and adds this practice's account.

The link works while its code is the group's live one (rotating it kills the old, R16), before
its expiry, and below its maximum number of sign-ups (B3). The sign-up count moves in the
sign-up's own transaction under that same condition, so concurrent sign-ups cannot pass it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from enum import StrEnum

from chalicelib import clock, config, db, ids, sealing
from chalicelib.db import Tx
from chalicelib.errors import Conflict, NotFound, PorticoError, Unauthenticated
from chalicelib.models.identities import Identity
from chalicelib.models.orgs import Group, JoinCode, Organization, StaffClaim
from chalicelib.models.profiles import ClientProfile
from chalicelib.models.tokens import Token, TokenStatus
from chalicelib.services import outbox, records, throttle, tokens
from chalicelib.services.clients import arrivals, email_claims
from chalicelib.services.clients.arrivals import Arrival
from chalicelib.services.identity import accounts, auth, identities, passwords, sessions
from chalicelib.services.identity.accounts import client_account
from chalicelib.services.invites import resets
from chalicelib.services.practices import orgs

_CODE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
SOURCE = "group_link"


@dataclass(frozen=True)
class JoinLink:
    org: Organization
    group: Group
    code: str


class LinkClosed(PorticoError):
    """The link cannot take sign-ups: `reason` is replaced, expired or full (API.md: 410)."""

    status = 410
    code = "link_closed"

    def __init__(self, org: Organization, reason: str) -> None:
        super().__init__("This invite link no longer works.", code=f"link_{reason}")
        self.org = org
        self.reason = reason


class Explained(Conflict):
    """A sign-up the page explains instead (R23), told only to whoever proved the login's
    password: `reason` is staff or client."""

    def __init__(self, reason: str) -> None:
        super().__init__("This email cannot sign up here.", code=f"join_{reason}")
        self.reason = reason


class WrongPassword(PorticoError):
    code = "invalid_credentials"

    def __init__(self) -> None:
        super().__init__("That password does not match this login. Try again or reset it.")


@dataclass(frozen=True)
class Joined:
    profile: ClientProfile
    token: str  # the new session, shown once to the browser, never logged (R46, R48)
    code: str  # the group link's code: the page after it lists the group's intake forms


def link_missing() -> NotFound:
    return NotFound("This invite link does not exist. Ask the practice for its link.")


def _find(code: str) -> tuple[JoinCode, Organization, Group]:
    join = db.get(JoinCode, JoinCode.key_for(code), "join") if _CODE.match(code) else None
    group = orgs.group_of(join.owner_org_id, join.group_id) if join else None
    if join is None or group is None:
        raise link_missing()
    return join, records.org(join.owner_org_id), group


def open_link(code: str) -> JoinLink:
    """R16, B3: the group behind a live code, or why the link does not take sign-ups."""
    join, org, group = _find(code)
    if not join.live or group.link_code != code:
        raise LinkClosed(org, "replaced")
    if group.link_expires_at and group.link_expires_at <= clock.now():
        raise LinkClosed(org, "expired")
    if group.link_max_signups is not None and group.signups >= group.link_max_signups:
        raise LinkClosed(org, "full")
    return JoinLink(org, group, code)


def group_of_code(code: str) -> tuple[Organization, Group]:
    """The group of any code it ever had, live or not: the page after a sign-up lists its
    intake forms even if the link was rotated or filled meanwhile."""
    _, org, group = _find(code)
    return org, group


def primary_provider_id(link: JoinLink) -> str:
    """R10: the group's default provider, else the practice's, else its only one; else its
    earliest admin, so that nobody who signs up is turned away for a missing setting."""
    providers = orgs.providers_of(link.org.org_id)
    chosen = arrivals.primary_for_arrival(link.org, link.group, providers)
    return (chosen or arrivals.founding_admin(providers)).provider_id


def sign_up(
    link: JoinLink, *, first_name: str, last_name: str, email: str, password: str, source: str
) -> Joined | None:
    """R16, R23, R51: the sign-up form. The page answers alike for every address, so it tells
    nobody whether the address has a login: what the address's owner must know goes by email.

    Counted first (a sign-in for the password it may prove, and a public action for the email
    it sends: R45, R52), then one Argon2 computation whatever the address. A new address gets
    a link that finishes the sign-up (R50: the mailbox is proven by using it); an address with
    a login gets an email that says what to do. Joined only when the password typed is the
    existing login's, and opens this practice (R50: an unproven one opens only its own): the
    visitor proved it here, and is told and joined as on the sign-in step.
    """
    counted = throttle.attempt(email, source, throttle.SIGN_IN, throttle.JOIN)
    identity = identities.find_by_email(email)
    details = {"first_name": first_name, "last_name": last_name, "email": email}
    if identity is None:
        _send_confirmation(link, details, passwords.hash_password(password))
        return None
    if identities.password_matches(identity, password, in_org=link.org.org_id):
        return _proven(link, identity, counted, details)
    _explain_by_email(link, identity)
    return None


def sign_in(
    link: JoinLink, *, first_name: str, last_name: str, email: str, password: str, source: str
) -> Joined:
    """R16, R23: an existing login adds this practice's account, after its own password (a
    sign-in, counted first like one, R45, R52; proven, or unproven in this practice, R50). A
    staff address or an active client of the practice is explained, not joined; both are told
    only after the password proved the login's owner."""
    try:
        # R50: an unproven password opens only its own practice, so it cannot add this one.
        checked = auth.check_password(email, password, source, in_org=link.org.org_id)
    except Unauthenticated:
        raise WrongPassword() from None
    details = {"first_name": first_name, "last_name": last_name, "email": email}
    return _proven(link, checked.identity, checked.attempt, details)


def _proven(
    link: JoinLink, identity: Identity, counted: throttle.Attempt, details: dict[str, str]
) -> Joined:
    """The visitor proved the login's password on the page: join it, or explain why not."""
    if db.get(StaffClaim, link.org.org_id, StaffClaim.sk_for(identity.id)) is not None:
        raise Explained("staff")
    try:
        return _join(link, details, identity=identity, password_hash=None, extra=counted.succeeded)
    except Conflict as conflict:
        if conflict.code == "email_in_use":
            raise Explained("client") from None
        if conflict.code == "email_is_staff":
            raise Explained("staff") from None
        raise


# The confirmation by email (R16, R51) -----------------------------------------------------

CONFIRM_TTL = timedelta(hours=24)
CONFIRM_KIND = "join"


def _confirm_subject(org_id: str, group_id: str, email: str) -> str:
    """One live confirmation per address and group: a second sign-up kills the first link."""
    return f"join#{org_id}#{group_id}#{ids.keyed_fingerprint(email)}"


def _send_confirmation(link: JoinLink, details: dict[str, str], password_hash: str) -> None:
    """A new address: the sign-up waits in a token whose link, sent to the address, finishes
    it. It keeps what the form gave (the password only as its Argon2 hash) until then."""
    org, group = link.org, link.group
    tx = Tx()
    issued = tokens.issue(
        tx,
        CONFIRM_KIND,
        _confirm_subject(org.org_id, group.group_id, details["email"]),
        ttl=CONFIRM_TTL,
        org_id=org.org_id,
        data={
            "group_id": group.group_id,
            "code": link.code,
            **details,
            "password_hash": password_hash,
        },
    )
    outbox.queue(
        tx,
        org_id=org.org_id,
        kind="join_confirmation",
        to=details["email"],
        context={
            "client": {"first_name": details["first_name"]},
            "group": {"name": group.name},
            "login": False,
            "hours": int(CONFIRM_TTL.total_seconds() // 3600),
        },
        # R53: sealed for the worker; R43: not sent once the link died.
        secret=sealing.seal(
            f"{config.PUBLIC_URL}/join-confirm/{issued.secret}", issued.token.token_hash
        ),
    )
    _commit_once(tx)


def _explain_by_email(link: JoinLink, identity: Identity) -> None:
    """R23: an address with a login is told by email what to do: sign in on the page with that
    login's password, or set a new one with the reset link it carries; or that it is a staff
    address of this practice. The same writes as a new address's confirmation (R51)."""
    staff = db.get(StaffClaim, link.org.org_id, StaffClaim.sk_for(identity.id)) is not None
    tx = Tx()
    reset, secret = resets.link(tx, identity.email, identity.id)
    outbox.queue(
        tx,
        org_id=link.org.org_id,
        kind="join_confirmation",  # the same kind and recipient field as a new address's (R4)
        identity_id=identity.id,
        to=identity.email,
        context={
            "group": {"name": link.group.name},
            "login": True,
            "staff": staff,
            "join_url": f"{config.PUBLIC_URL}/join/{link.code}",
            **reset,
        },
        secret=secret,
    )
    _commit_once(tx)


def _commit_once(tx: Tx) -> None:
    """Two sign-ups of one address at the same moment: one email goes, the other request
    stops at once with the same answer (the newest link is the one that works)."""
    try:
        tx.commit(attempts=1)
    except Conflict as raced:
        if raced.code != "concurrent_change":
            raise


class ConfirmationState(StrEnum):
    """Where a sign-up's confirmation link leads."""

    UNKNOWN = "unknown"  # 404
    DEAD = "dead"  # 410, `reason` says why (a TokenStatus)
    OPEN = "open"
    LOGIN_MADE = "login_made"  # 409: the address got a login since; sign in with it instead


@dataclass(frozen=True)
class Confirmation:
    """A confirmation link's state, its token and the group it finishes a sign-up into."""

    state: ConfirmationState
    token: Token | None = None
    org: Organization | None = None
    group_name: str = ""
    reason: str | None = None


def confirmation(secret: str) -> Confirmation:
    token = tokens.find(secret, CONFIRM_KIND)
    if token is None or not token.org_id:
        return Confirmation(ConfirmationState.UNKNOWN)
    org = records.org(token.org_id)
    group = orgs.group_of(token.org_id, str(token.data.get("group_id", "")))
    name = group.name if group else ""
    status = tokens.status_of(token)
    if status != TokenStatus.LIVE:
        return Confirmation(ConfirmationState.DEAD, token, org, name, reason=status)
    return Confirmation(ConfirmationState.OPEN, token, org, name)


def confirm(secret: str) -> Joined:
    """R16, R50, R51: the link sent to a new address finishes its sign-up: the client and the
    login are made, active and signed in, in one transaction that consumes the link (once).
    The link proves the mailbox, so the password chosen on the page is the owner's.

    Raises LinkClosed when the group's link stopped taking sign-ups meanwhile (B3), and
    ConfirmationDead when the link is not open, or the address got a login meanwhile (its
    `found` says which)."""
    found = confirmation(secret)
    if found.state != ConfirmationState.OPEN or found.token is None:
        raise ConfirmationDead(found)
    token = found.token
    link = open_link(str(token.data["code"]))
    data = {k: str(token.data[k]) for k in ("first_name", "last_name", "email")}

    def consume(tx: Tx) -> None:
        # The sign-up's details leave the token with it: only the group stays, for its page.
        tokens.consume(
            tx,
            token,
            on_conflict=tokens.just_used,
            also=[Token.data.set({"group_id": token.data["group_id"], "code": link.code})],
        )

    try:
        return _join(
            link,
            data,
            identity=None,
            password_hash=str(token.data["password_hash"]),
            mailbox_proven=True,  # R50: the link sent to the address proves the mailbox
            extra=consume,
        )
    except Conflict as conflict:
        if conflict.code == "email_has_login":
            raise ConfirmationDead(replace(found, state=ConfirmationState.LOGIN_MADE)) from None
        if conflict.code == "token_not_live":
            raise ConfirmationDead(confirmation(secret)) from None
        raise


class ConfirmationDead(PorticoError):
    """A confirmation link that does not finish a sign-up: `found` says why."""

    status = 410
    code = "link_closed"

    def __init__(self, found: Confirmation) -> None:
        super().__init__("This link no longer works.")
        self.found = found


def _join(
    link: JoinLink,
    details: dict[str, str],
    *,
    identity: Identity | None,
    password_hash: str | None,
    extra: Callable[[Tx], None] | None = None,
    mailbox_proven: bool = False,
) -> Joined:
    """The sign-up's one transaction (R16, B3): the client (`details`: first_name, last_name,
    email), the group's count under the link's own condition, the last organization, the
    session, and what `extra` adds (the throttle's refund, the confirmation link consumed)."""
    org, group = link.org, link.group
    now = clock.now()

    def closed() -> PorticoError:
        try:
            open_link(link.code)
        except LinkClosed as dead:
            return dead
        return Conflict("Another sign-up changed this link meanwhile; try again.")

    def also(tx: Tx, profile: ClientProfile, who: Identity | None) -> str:
        assert who is not None
        # B3: the count moves only while the link is live, unexpired and below its maximum.
        still_open = Group.link_code == link.code
        if group.link_max_signups is not None:
            still_open &= Group.signups < Group.link_max_signups
        if group.link_expires_at is not None:
            still_open &= Group.link_expires_at > now
        # The group's version moves with the count (a stale PATCH cannot write it back), but
        # does not guard it: sign-ups that read the group together all land while it is open.
        tx.update(
            group,
            [Group.signups.add(1)],
            condition=still_open,
            on_conflict=closed,
            add_version_condition=False,
        )
        if entered := accounts.entering(who, org.org_id):
            tx.update(who, entered)
        if extra is not None:
            extra(tx)
        return sessions.start(tx, who, client_account(profile))

    arrival = Arrival(
        first_name=details["first_name"],
        last_name=details["last_name"],
        source=SOURCE,
        primary_provider_id=primary_provider_id(link),
        email=details["email"],
        group_id=group.group_id,
        activate=True,
        password_hash=password_hash,
        mailbox_proven=mailbox_proven,
        identity=identity if identity is not None else email_claims.LOOK_UP,
        details={"group_id": group.group_id},
    )
    admitted = arrivals.admit(org, arrival, actor=arrivals.SELF, also=also)
    return Joined(admitted.profile, admitted.extra, link.code)
