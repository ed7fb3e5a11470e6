"""One-time passcodes (R22): a 6-digit code by email, 10 minutes, 5 tries, single use.

A code is a token of kind "otp" whose subject is the identity, so a newer code kills the older
(R13), stored only as an HMAC keyed by the page secret and salted with the subject
(`ids.code_hash`, R53). Codes are sent only to logins with an account in an organization that
allows them (setting `otp_login`), and a code signs in to those accounts only: the answer is a
login's (R2) over that list. The email is identity-level, in the branding of the last
organization (R9). Asking and verifying are throttled like sign-ins (R45), and the answers never
tell whether an email has a login.

A code proves the mailbox for the session it opens only (R50): it leaves an unproven password
as it was, since its holder never showed that password, which a stranger may have set (R8).
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta

from chalicelib import clock, ids, logs, sealing
from chalicelib.db import Tx
from chalicelib.errors import Conflict, Unauthenticated
from chalicelib.models.identities import Identity
from chalicelib.models.orgs import Organization
from chalicelib.models.sessions import SessionKind
from chalicelib.models.tokens import Token, TokenStatus
from chalicelib.rules.actors import Account
from chalicelib.rules.settings import org_settings
from chalicelib.services import outbox, throttle, tokens
from chalicelib.services.identity import accounts, identities, sessions
from chalicelib.services.identity.auth import SignedIn

TTL = timedelta(minutes=10)
TRIES = 5


def subject_for(email: str) -> str:
    return identities.passcode_subject(email)


def _allowed(identity: Identity) -> tuple[list[Account], dict[str, Organization]]:
    """The identity's client accounts in organizations that allow passcodes (R22): 3 round
    trips."""
    found = accounts.list_for(identity)
    by_id = accounts.organizations({account.org_id for account in found})
    # Client accounts only: R22 is about clients, and a staff login keeps its password.
    allowed = [
        a
        for a in found
        if a.kind == SessionKind.CLIENT and org_settings(by_id[a.org_id])["otp_login"]
    ]
    return allowed, {a.org_id: by_id[a.org_id] for a in allowed}


def request(email: str, source: str) -> None:
    """R22: ask for a code. R51: the same for every address, and never a look-up of whose it
    is: the attempt counted first (R45, R52), then a code made for the address (a newer one
    kills the older, R13) and its email job queued for the worker, which sends it only to a
    login with an account that may use one (`asked_org`). The answer is 202 either way; a
    code never sent ends unused after its 10 minutes."""
    throttle.attempt(email, source, throttle.PASSCODE_REQUEST)
    code = f"{secrets.randbelow(10**6):06d}"
    tx = Tx()
    issued = tokens.issue(tx, "otp", subject_for(email), ttl=TTL, secret=code)
    job = outbox.queue_asked(
        tx,
        "otp_code",
        email,
        {"minutes": int(TTL.total_seconds() // 60)},
        sealing.seal(code, issued.token.token_hash),  # R53: sealed for the worker
    )
    try:
        tx.commit(attempts=1)
    except Conflict as raced:
        if raced.code != "concurrent_change":
            raise
        return  # another request's code is on its way to the same mailbox
    logs.event("otp.requested", job_id=job.job_id)


def asked_org(identity: Identity) -> str | None:
    """For the worker (R22, R51): the organization a code asked for on the public form is
    filed under, the one whose account it enters (the last if it allows codes, else the first
    that does; its branding is still the last organization's, R9); None when no account of
    the login may use codes, and nothing is sent."""
    allowed, by_org = _allowed(identity)
    if not allowed:
        return None
    return identity.last_org_id if identity.last_org_id in by_org else allowed[0].org_id


class _Dead(Conflict):
    def __init__(self) -> None:
        super().__init__("This code has ended.")


def _wrong() -> Unauthenticated:
    return Unauthenticated(
        "That code is wrong or has expired. Ask for a new code, or sign in with your password.",
        code="invalid_code",
    )


def verify(email: str, code: str, source: str) -> SignedIn:
    """R22: a right code, within its 10 minutes and 5 tries, signs in like a password (R2).

    The try is counted first against the sign-in throttle (R45, R52), then on the address's
    code, under the condition that fewer than 5 were made, so parallel guesses cannot exceed
    5; the fifth wrong one leaves the code dead. A wrong code costs the same whether or not
    the address has a login (codes are made for any address that asks, R51): the login is
    looked up only once the code is right."""
    counted = throttle.attempt(email, source, throttle.SIGN_IN)
    token = tokens.live(subject_for(email))
    if token is None or not _count_try(token):
        raise _wrong()
    given = ids.code_hash(subject_for(email), code)
    if not hmac.compare_digest(given, token.token_hash):
        raise _wrong()
    identity = identities.find_by_email(email)
    if identity is None or token.created_at < identity.created_at:
        raise _wrong()  # no login, or none when the code was made: it was never sent (R51)
    allowed, by_org = _allowed(identity)
    if not allowed:
        # R22: the client was archived or the practice turned codes off since the code was
        # sent: the code enters nothing (an unbounded session would enter any account).
        raise _wrong()
    entered = allowed[0] if len(allowed) == 1 else None
    tx = Tx()
    counted.succeeded(tx)
    tokens.consume(tx, token, on_conflict=_Dead)
    if entered and (last_org := accounts.entering(identity, entered.org_id)):
        tx.update(identity, last_org)
    session_token = sessions.start(tx, identity, entered, set(by_org), by_passcode=True)
    try:
        tx.commit()
    except _Dead:
        raise _wrong() from None
    logs.event("identity.signed_in", identity_id=identity.id, accounts=len(allowed), via="otp")
    return SignedIn(session_token, identity, entered, allowed, by_org)


def _count_try(token: Token) -> bool:
    tx = Tx()
    tx.update(
        token,
        [Token.attempts.add(1)],
        condition=(Token.status == TokenStatus.LIVE)
        & (Token.attempts < TRIES)
        & (Token.expires_at > clock.now()),
        on_conflict=_Dead,
    )
    try:
        tx.commit()
    except _Dead:
        return False
    return True
