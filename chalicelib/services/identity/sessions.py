"""Sessions (R46): opaque random tokens stored as hashes, expiring, revocable.

`authenticate` runs on every request and re-reads what a session stands on (its identity's
epoch, its account's profile or membership), so a password change, an archive or a shut login
ends it at once (R37, R38, R46), with no list of sessions to chase.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from chalicelib import clock, config, db, ids
from chalicelib.db import ReadAhead, Tx
from chalicelib.errors import Forbidden, Unauthenticated
from chalicelib.models.identities import Identity
from chalicelib.models.orgs import Provider
from chalicelib.models.profiles import ClientProfile
from chalicelib.models.sessions import Session, SessionKind
from chalicelib.rules.accounts import client_account_open, staff_account_open
from chalicelib.rules.actors import Account, Actor
from chalicelib.rules.settings import effective_for_client
from chalicelib.services import records
from chalicelib.services.identity import accounts, identities
from chalicelib.services.identity.accounts import caregiver_account, client_account, staff_account


def _dead() -> Unauthenticated:
    return Unauthenticated("Your session has ended. Sign in again.", code="session_expired")


def start(
    tx: Tx,
    identity: Identity,
    account: Account | None,
    only_org_ids: set[str] | None = None,
    *,
    by_passcode: bool = False,
) -> str:
    """Add a new session to `tx` and return its token (shown once, stored only hashed).
    `only_org_ids` bounds the organizations it may enter: with `by_passcode`, a passcode's
    (R22: client accounts of those organizations only, none when it is empty); by default the
    bound of the login's password (R50: an unproven one opens its organization only, so a
    session opened at a sign-up cannot switch into an account added to the login later)."""
    if only_org_ids is None and not by_passcode:
        only_org_ids = identities.password_orgs(identity)
    token = ids.new_token()
    moment = clock.now()
    tx.save(
        Session(
            ids.token_hash(token),
            identity_id=identity.id,
            epoch=identity.session_epoch,
            kind=account.kind if account else SessionKind.NONE,
            org_id=account.org_id if account else None,
            client_id=account.client_id if account else None,
            provider_id=account.provider_id if account else None,
            link_id=account.link_id if account else None,
            group_id=account.group_id if account else None,
            by_passcode=by_passcode,
            only_org_ids=only_org_ids or None,
            created_at=moment,
            expires_at=moment + timedelta(hours=config.SESSION_TTL_HOURS),
        ),
        condition=Session.token_hash.does_not_exist(),
    )
    return token


# What a request reads next, planned from its session (issue #17): read with what the session
# stands on, in the same round trip.
Ahead = Callable[[Session], ReadAhead]


def authenticate(token: str | None, ahead: Ahead | None = None) -> Actor:
    """The actor behind a bearer token, or 401 if the session is missing, expired or revoked.
    `ahead`: what the request reads next, read with what the session stands on."""
    if not token:
        raise Unauthenticated("Sign in to continue.", code="unauthenticated")
    session = db.get(Session, ids.token_hash(token))
    # TTL deletion is lazy (up to days), so expiry is checked here too.
    if session is None or session.expires_at <= clock.now():
        raise _dead()
    return standing(session, ahead)


def standing(session: Session, ahead: Ahead | None = None) -> Actor:
    """The actor of a live session read (or just written) by the caller: what it stands on is
    read afresh, so an archive or a shut login since ends it (R37, R38, R46)."""
    # What the session stands on, in one round trip after the session's own (issue #17).
    found = db.read_with(
        [(Identity, session.identity_id, None), *_stands_on(session)],
        ahead(session) if ahead else db.NOTHING_AHEAD,
    )
    identity = found.of(Identity, session.identity_id)
    if identity is None or identity.session_epoch != session.epoch:
        raise _dead()
    if session.kind == SessionKind.CLIENT:
        assert session.org_id is not None
        assert session.client_id is not None
        profile = found.of(ClientProfile, session.org_id, session.client_id)
        if profile is None:
            raise _dead()
        group_ids = {profile.group_id} if profile.group_id else set()
        if profile.group_id != session.group_id:  # moved since: its group is read now
            found = db.get_together(records.level_keys(profile.org_id, group_ids))
        org, groups = records.levels_in(found, profile.org_id, group_ids)
        settings = effective_for_client(profile, org, groups)
        if not client_account_open(profile, identity.id, settings):
            raise _dead()
        account = client_account(profile)
        return Actor(session, identity, account, profile=profile, org=org, settings=settings)
    if session.kind == SessionKind.CAREGIVER:
        # R31: the grant is read afresh on every request, so removing the link or the grant,
        # an end date passing or an age tier closing ends the session at once.
        grant = accounts.open_grant(
            identity.id, session.org_id, session.client_id, session.link_id or ""
        )
        if not grant.open or grant.link is None:
            raise _dead()
        return Actor(
            session,
            identity,
            caregiver_account(grant.link),
            profile=grant.receiver,
            org=grant.org,
            settings=grant.settings,
            link=grant.link,
            caregiver=grant.caregiver,
        )
    if session.kind == SessionKind.STAFF:
        # R49: read afresh, so a deactivation or a role change acts at the next request; a
        # session opened before a deactivation stays ended after a reactivation.
        assert session.org_id is not None
        assert session.provider_id is not None
        provider = found.of(Provider, session.org_id, Provider.sk_for(session.provider_id))
        if not staff_account_open(provider, identity.id) or (
            provider.deactivated_at is not None and session.created_at <= provider.deactivated_at
        ):
            raise _dead()
        return Actor(session, identity, staff_account(provider), provider=provider)
    return Actor(session, identity, None)


def _stands_on(session: Session) -> list[db.Key]:
    """The account record behind a session, and for a client the levels of its settings."""
    if session.kind == SessionKind.CLIENT and session.org_id and session.client_id:
        group_ids = {session.group_id} if session.group_id else set()
        return [
            (ClientProfile, session.org_id, session.client_id),
            *records.level_keys(session.org_id, group_ids),
        ]
    if session.kind == SessionKind.STAFF and session.org_id and session.provider_id:
        return [(Provider, session.org_id, Provider.sk_for(session.provider_id))]
    return []


def end(tx: Tx, actor: Actor) -> None:
    tx.delete(actor.session)


def require_account(actor: Actor) -> Account:
    if actor.account is None:
        raise Forbidden(
            "Choose one of your accounts first (POST /v1/auth/switch).", code="account_not_selected"
        )
    return actor.account


def may_enter(session: Session, account: Account) -> bool:
    """R22, R50: whether this session may enter `account`. A passcode session enters only
    client accounts of the organizations that allowed its code (none when none did); an
    unproven password's, only accounts of its organization; a proven one's, any."""
    if session.by_passcode:
        return account.kind == SessionKind.CLIENT and account.org_id in (session.only_org_ids or ())
    return not session.only_org_ids or account.org_id in session.only_org_ids


def in_org(org_id: str, plan: Callable[[], ReadAhead | list[db.Key]]) -> Ahead:
    """Read `plan` ahead only for a session in `org_id`, the organization of the path: a
    session elsewhere gets the path's 404 without reading another practice's records (R4)."""

    def ahead(session: Session) -> ReadAhead:
        if session.org_id != org_id:
            return db.NOTHING_AHEAD
        planned = plan()
        return planned if isinstance(planned, ReadAhead) else ReadAhead(planned)

    return ahead
