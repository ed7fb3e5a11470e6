"""A group's shareable invite link (R16, B3, R23): a new client signs up into the group, or an
email that has a login already signs in and adds this practice's account.

The link works while its code is the group's live one (rotating it kills the old, R16), before
its expiry, and below its maximum number of sign-ups (B3). The sign-up count moves in the
sign-up's own transaction under that same condition, so concurrent sign-ups cannot pass it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from chalicelib import clock, db
from chalicelib.db import Tx
from chalicelib.errors import Conflict, NotFound, PorticoError, Unauthenticated
from chalicelib.models.identities import Identity
from chalicelib.models.orgs import Group, JoinCode, Organization, StaffClaim
from chalicelib.models.profiles import ClientProfile
from chalicelib.services import records, throttle
from chalicelib.services.clients import arrivals, email_claims
from chalicelib.services.clients.arrivals import Arrival
from chalicelib.services.identity import accounts, auth, identities, passwords, sessions
from chalicelib.services.identity.accounts import client_account
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
    """A sign-up the page explains instead (R23): `reason` is staff, client or pending_login."""

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
) -> Joined:
    """R16: a new client and login, in the group, active at once and signed in. An email with
    a login already raises Explained("login") or ("pending_login"): the page asks for that
    login's password instead (R23)."""
    existing = identities.find_by_email(email)
    if existing is not None:
        raise Explained("login" if existing.password_hash else "pending_login")
    throttle.attempt(email, source, throttle.JOIN)
    try:
        return _join(
            link,
            first_name=first_name,
            last_name=last_name,
            email=email,
            identity=None,
            password_hash=passwords.hash_password(password),
        )
    except Conflict as conflict:
        if conflict.code == "email_has_login":  # made by another request meanwhile
            raise Explained("login") from None
        raise


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
    identity = checked.identity
    if db.get(StaffClaim, link.org.org_id, StaffClaim.sk_for(identity.id)) is not None:
        raise Explained("staff")
    try:
        return _join(
            link,
            first_name=first_name,
            last_name=last_name,
            email=email,
            identity=identity,
            password_hash=None,
            extra=checked.attempt.succeeded,
        )
    except Conflict as conflict:
        if conflict.code == "email_in_use":
            raise Explained("client") from None
        if conflict.code == "email_is_staff":
            raise Explained("staff") from None
        raise


def _join(
    link: JoinLink,
    *,
    first_name: str,
    last_name: str,
    email: str,
    identity: Identity | None,
    password_hash: str | None,
    extra: Callable[[Tx], None] | None = None,
) -> Joined:
    """The sign-up's one transaction (R16, B3): the client, the group's count under the link's
    own condition, the last organization, the session, and what `extra` adds (the throttle's
    refund)."""
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
        first_name=first_name,
        last_name=last_name,
        source=SOURCE,
        primary_provider_id=primary_provider_id(link),
        email=email,
        group_id=group.group_id,
        activate=True,
        password_hash=password_hash,
        identity=identity if identity is not None else email_claims.LOOK_UP,
        details={"group_id": group.group_id},
    )
    admitted = arrivals.admit(org, arrival, actor=arrivals.SELF, also=also)
    return Joined(admitted.profile, admitted.extra)
