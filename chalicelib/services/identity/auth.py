"""Signing in, choosing and switching accounts, signing out (R2, R3, R45, R46)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pynamodb.expressions.update import Action

from chalicelib import db, logs, metrics
from chalicelib.db import Tx
from chalicelib.errors import NotFound, Unauthenticated
from chalicelib.models.identities import Identity
from chalicelib.models.orgs import Organization
from chalicelib.models.sessions import Session, SessionKind
from chalicelib.rules.actors import Account, Actor
from chalicelib.schemas.identity import Login, Switch
from chalicelib.services import audit, throttle
from chalicelib.services.identity import accounts, identities, sessions


@dataclass(frozen=True)
class SignedIn:
    token: str | None
    identity: Identity
    account: Account | None
    accounts: list[Account]
    orgs: dict[str, Organization]


def invalid_credentials() -> Unauthenticated:
    """The one answer of a failed sign-in, whatever failed (R45, R51)."""
    return Unauthenticated(
        "That email and password do not match. Try again or reset your password.",
        code="invalid_credentials",
    )


@dataclass(frozen=True)
class Checked:
    """A password that proved its login: the login, and the attempt to give back in the
    success's own transaction (`attempt.succeeded(tx)`, R45)."""

    identity: Identity
    attempt: throttle.Attempt


def check_password(
    email: str,
    password: str,
    source: str,
    *,
    in_org: str | None,
    limits: tuple[throttle.Limit, ...] = (throttle.SIGN_IN,),
    lists_accounts: bool = False,
) -> Checked:
    """The login whose password this is, or the failed sign-in's 401: counted per email and
    source before the lookup (R45, R51, R52: parallel guesses get no more checks than the
    limit), one answer and one Argon2 verification for an unknown email, no password yet or a
    wrong one. `in_org`: the password must open that organization's accounts (R50: an unproven
    password opens only its own); None for a sign-in, which bounds its session. `limits`: the
    throttles the attempt counts against (a form that also sends email adds its own).
    `lists_accounts`: the caller lists the login's accounts next, so their Queries go out with
    the login's read (issue #17).

    The email's claim is read while the attempt is counted (issue #17): a lookup tells nothing,
    and the password is checked only once the count stands."""
    counted, claim = db.together(
        lambda: throttle.attempt(email, source, *limits), lambda: identities.claim_of(email)
    )
    identity = None
    if claim is not None:
        ahead = accounts.holdings_reads(claim.identity_id) if lists_accounts else db.NOTHING_AHEAD
        found = db.read_with([(Identity, claim.identity_id, None)], ahead)
        identity = found.of(Identity, claim.identity_id)
    if identity is None or not identities.password_matches(identity, password, in_org=in_org):
        metrics.count("SignInFailures")
        raise invalid_credentials()
    return Checked(identity, counted)


def sign_in(req: Login, source: str) -> SignedIn:
    """R2/R45: email and password to the list of accounts, entering the only one if one.

    R50: an unproven password (set by staff, or chosen at a sign-up) lists and enters only the
    accounts of its organization; the session keeps that bound for `me` and `switch`.
    """
    checked = check_password(req.email, req.password, source, in_org=None, lists_accounts=True)
    identity = checked.identity
    only = identities.password_orgs(identity)
    listed = accounts.listing(identity)
    found = [a for a in listed.accounts if only is None or a.org_id in only]
    entered = found[0] if len(found) == 1 else None
    tx = Tx()
    checked.attempt.succeeded(tx)
    if entered:
        _record_entry(tx, identity, entered)
    token = sessions.start(tx, identity, entered, only)
    tx.commit()
    logs.event("identity.signed_in", identity_id=identity.id, accounts=len(found))
    return SignedIn(token, identity, entered, found, _orgs(listed, found))


def switch_reads(req: Switch) -> db.ReadAhead:
    """What `switch` reads, read ahead with the session (issue #17): the account the id names
    and its organization."""
    return db.ReadAhead(accounts.resolve_reads(req.account_id))


def switch(actor: Actor, req: Switch) -> SignedIn:
    """R3: enter another account of the identity's list without the password. The old session
    ends and a new one, bound to the chosen account, takes its place."""
    named = accounts.org_id_in(req.account_id)
    # The account and its organization were read ahead with the session (`switch_reads`); a
    # target that does not resolve answers the same whatever that read found (R4).
    target = accounts.resolve(actor.identity, req.account_id)
    orgs = accounts.organizations({named} if named else set())
    if target is None or not sessions.may_enter(actor.session, target):
        raise NotFound(
            "You have no account with this id. Sign in again to see your accounts.",
            code="account_not_found",
        )
    tx = Tx()
    sessions.end(tx, actor)
    _record_entry(tx, actor.identity, target)
    token = sessions.start(
        tx,
        actor.identity,
        target,
        actor.session.only_org_ids,
        by_passcode=bool(actor.session.by_passcode),
    )
    tx.commit()
    logs.event("identity.switched", identity_id=actor.identity.id, org_id=target.org_id)
    return SignedIn(token, actor.identity, target, [], orgs)


def me_reads(session: Session) -> db.ReadAhead:
    """`me`'s Queries of the login's accounts, issued beside the session's read (issue #17)."""
    return accounts.holdings_reads(session.identity_id)


def me(actor: Actor) -> SignedIn:
    listed = accounts.listing(actor.identity)
    found = [
        account
        for account in listed.accounts
        if sessions.may_enter(actor.session, account)  # R22
    ]
    return SignedIn(None, actor.identity, actor.account, found, _orgs(listed, found, actor.account))


def sign_out(actor: Actor) -> None:
    tx = Tx()
    sessions.end(tx, actor)
    tx.commit()


def _record_entry(tx: Tx, identity: Identity, account: Account) -> None:
    if changes := entry(tx, identity, account):
        tx.update(identity, changes)


def entry(tx: Tx, identity: Identity, account: Account) -> list[Action]:
    """R3 (and R8, R9 after it): the organization last entered. R47: the entry is audited; a
    caregiver's as done by their own profile on behalf of the care receiver (R30, B6).

    The audit event goes into `tx`; the identity's change is returned for the caller's one
    write of the identity (a transaction writes an item once: a page that also changes the
    password writes both together)."""
    client_id = None if account.kind == SessionKind.STAFF else account.client_id
    audit.record(
        tx,
        org_id=account.org_id,
        action="account.entered",
        actor=account.actor,
        client_id=client_id,
        on_behalf_of=account.on_behalf_of,
        details={"identity_id": identity.id, "link_id": account.link_id}
        if account.link_id
        else {"identity_id": identity.id},
    )
    return accounts.entering(identity, account.org_id)


def _orgs(
    listed: accounts.Listing, found: Sequence[Account], also: Account | None = None
) -> dict[str, Organization]:
    """The organizations of the accounts shown: those the listing read, the rest read now."""
    wanted = {account.org_id for account in [*found, also] if account}
    known = {org_id: listed.orgs[org_id] for org_id in wanted if org_id in listed.orgs}
    return known | accounts.organizations(wanted - known.keys())
