"""Sessions (R46): opaque random tokens stored as hashes, expiring, revocable.

`authenticate` runs on every request and re-reads what a session stands on (its identity's
epoch, its account's profile or membership), so a password change, an archive or a shut login
ends it at once (R37, R38, R46), with no list of sessions to chase.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from chalicelib import clock, config, db, ids
from chalicelib.db import Tx
from chalicelib.errors import Forbidden, Unauthenticated
from chalicelib.models.identities import Identity
from chalicelib.models.orgs import Provider
from chalicelib.models.profiles import ClientProfile
from chalicelib.models.sessions import Session
from chalicelib.services.accounts import (
    Account,
    client_account,
    client_account_open,
    staff_account,
    staff_account_open,
)


@dataclass(frozen=True)
class Actor:
    """Who is calling: a live session, its identity and the account it acts in, if any."""

    session: Session
    identity: Identity
    account: Account | None
    provider: Provider | None = None
    profile: ClientProfile | None = None


def _dead() -> Unauthenticated:
    return Unauthenticated("Your session has ended. Sign in again.", code="session_expired")


def start(
    tx: Tx, identity: Identity, account: Account | None, only_org_ids: set[str] | None = None
) -> str:
    """Add a new session to `tx` and return its token (shown once, stored only hashed).
    `only_org_ids` bounds the organizations it may enter (a passcode sign-in, R22)."""
    token = ids.new_token()
    moment = clock.now()
    tx.save(
        Session(
            ids.token_hash(token),
            identity_id=identity.id,
            epoch=identity.session_epoch,
            kind=account.kind if account else "none",
            org_id=account.org_id if account else None,
            client_id=account.client_id if account else None,
            provider_id=account.provider_id if account else None,
            only_org_ids=only_org_ids or None,
            created_at=moment,
            expires_at=moment + timedelta(hours=config.SESSION_TTL_HOURS),
        ),
        condition=Session.token_hash.does_not_exist(),
    )
    return token


def authenticate(token: str | None) -> Actor:
    """The actor behind a bearer token, or 401 if the session is missing, expired or revoked."""
    if not token:
        raise Unauthenticated("Sign in to continue.", code="unauthenticated")
    session = db.get(Session, ids.token_hash(token))
    # TTL deletion is lazy (up to days), so expiry is checked here too.
    if session is None or session.expires_at <= clock.now():
        raise _dead()
    identity = db.get(Identity, session.identity_id)
    if identity is None or identity.session_epoch != session.epoch:
        raise _dead()
    if session.kind == "client":
        profile = db.get(ClientProfile, session.org_id, session.client_id)
        if not client_account_open(profile, identity.id):
            raise _dead()
        return Actor(session, identity, client_account(profile), profile=profile)
    if session.kind == "staff":
        provider = db.get(Provider, session.org_id, Provider.sk_for(session.provider_id))
        if not staff_account_open(provider, identity.id):
            raise _dead()
        return Actor(session, identity, staff_account(provider), provider=provider)
    return Actor(session, identity, None)


def end(tx: Tx, actor: Actor) -> None:
    tx.delete(actor.session)


def require_account(actor: Actor) -> Account:
    if actor.account is None:
        raise Forbidden(
            "Choose one of your accounts first (POST /v1/auth/switch).", code="account_not_selected"
        )
    return actor.account


def may_enter(session: Session, org_id: str) -> bool:
    """R22: whether this session may enter an account of `org_id`."""
    return not session.only_org_ids or org_id in session.only_org_ids
