"""Accepting a caregiver invite (R30): the page's single-use link, the caregiver's password or
new login, and the grant turned active.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib import clock, db, logs
from chalicelib.db import Tx
from chalicelib.errors import Conflict, field_error
from chalicelib.models.identities import Identity
from chalicelib.models.links import GrantStatus, Link, owner_for
from chalicelib.models.orgs import Organization
from chalicelib.models.profiles import ClientProfile, ProfileStatus
from chalicelib.models.tokens import Token, TokenStatus
from chalicelib.rules.actors import client_ref
from chalicelib.rules.passwords import new_password_errors
from chalicelib.services import audit, throttle, tokens
from chalicelib.services.families.caregiver_grants import both_profiles
from chalicelib.services.identity import identities, passwords, sessions


@dataclass(frozen=True)
class CaregiverInvite:
    """What the accept page shows: the state of the link and, while live, whom it is for."""

    state: str  # live | used | superseded | revoked | expired
    org: Organization | None = None
    token: Token | None = None
    link: Link | None = None
    receiver: ClientProfile | None = None
    caregiver: ClientProfile | None = None
    identity: Identity | None = None

    @property
    def has_password(self) -> bool:
        """Whether the page asks for the login's password: a proven one (R50). A login with
        none, or an unproven one (perhaps a stranger's, R8), chooses a new password here."""
        return bool(
            self.identity and self.identity.password_hash and self.identity.password_org_id is None
        )


def caregiver_invite(secret: str) -> CaregiverInvite | None:
    """The invite behind a link, or None for an unknown one (404 without any branding)."""
    token = tokens.find(secret, "caregiver_invite")
    if token is None or token.org_id is None:
        return None
    org = db.get(Organization, token.org_id, "org")
    state = tokens.status_of(token)
    if state != TokenStatus.LIVE:
        return CaregiverInvite(state, org, token)
    link_id = str(token.data.get("link_id", ""))
    receiver_id = str(token.data.get("receiver_client_id", ""))
    link = db.get(Link, owner_for(token.org_id, receiver_id), Link.sk_for(link_id))
    if link is None or not link.portal_access:
        return CaregiverInvite(TokenStatus.REVOKED, org, token)
    receiver, caregiver = both_profiles(link)
    identity = identities.get(caregiver.identity_id) if caregiver.identity_id else None
    if (
        identity is None
        or not tokens.addressed_to(token, caregiver.identity_id)  # R53: the email changed
        or receiver.status != ProfileStatus.ACTIVE
        or caregiver.status != ProfileStatus.ACTIVE
    ):
        return CaregiverInvite(TokenStatus.REVOKED, org, token)
    return CaregiverInvite(TokenStatus.LIVE, org, token, link, receiver, caregiver, identity)


def accept_caregiver_invite(
    invite: CaregiverInvite, password: str, confirm: str | None, source: str
) -> str:
    """R30: the caregiver accepts: with their login's password if it has one (throttled like a
    sign-in, R45), else by setting one. The token is consumed under its condition, so two tabs
    accept once; from then on the care receiver's account is in the caregiver's list (R2).

    Answers the token of a session the same transaction starts, before any account is entered:
    the page hands it over (B9) and the caregiver chooses the care receiver's account or their
    own (R2), each entry audited (R47, B6)."""
    assert invite.state == TokenStatus.LIVE
    assert invite.identity is not None
    assert invite.link is not None
    assert invite.token is not None
    identity, link = invite.identity, invite.link
    tx = Tx()
    new_hash: str | None = None
    if invite.has_password:
        # R45: a sign-in, counted before the password is checked (R52), given back on success.
        counted = throttle.attempt(identity.email, source, throttle.SIGN_IN)
        if not passwords.verify(identity.password_hash, password):
            raise field_error("password", "That password does not match your login.")
        counted.succeeded(tx)
    else:
        for field, problem in new_password_errors(password, confirm).items():
            raise field_error(field, problem)  # the first problem, as the page shows one
        new_hash = passwords.hash_password(password)
    identities.prove_mailbox(tx, identity, password_hash=new_hash)  # R50: the link proves it
    moment = clock.now()
    tokens.consume(tx, invite.token)
    grant = {
        **(link.portal_access or {}),
        "status": GrantStatus.ACTIVE,
        "accepted_at": clock.iso(moment),
    }
    tx.update(
        link,
        [Link.portal_access.set(grant), Link.grant_identity.set(identity.id)],
        # The grant must still be there: removed meanwhile, the link is dead (R31).
        condition=Link.portal_access.exists() & Link.linked_client_id.exists(),
        on_conflict=lambda: Conflict("This access was removed.", code="grant_removed"),
    )
    assert invite.caregiver is not None
    tx.check(
        ClientProfile,
        link.org_id,
        invite.caregiver.client_id,
        # R53: the caregiver's email must not have changed since the page was read.
        condition=ClientProfile.identity_id == invite.token.identity_id,
        on_conflict=lambda: Conflict("This invitation has ended.", code="token_not_live"),
    )
    audit.record(
        tx,
        org_id=link.org_id,
        action="grant.accepted",
        actor=client_ref(link.linked_client_id),
        client_id=link.client_id,
        # R47: a password set here is a password change of the login, audited with it.
        details={
            "link_id": link.link_id,
            "identity_id": identity.id,
            "password_set": not invite.has_password,
        },
    )
    session_token = sessions.start(tx, identity, None)
    tx.commit()
    logs.event("grant.accepted", org_id=link.org_id, link_id=link.link_id)
    return session_token
