"""The hand-over from a hosted page to the portal (B9): a one-time code in place of a session.

A page that signs someone in never puts a session's token in a URL. It asks `issue` for a code
(256 random bits, stored only as its hash, alive 60 seconds) and sends the browser to
`PORTAL_URL#code=…`; the portal trades it through `POST /v1/auth/exchange` (`exchange`):

- The code is claimed by one conditional write before anything else is checked (R52): of two
  exchanges at once exactly one wins, and a claimed code never works again, even if the
  verifier it came with was wrong.
- The portal does not get the session's first token, which passed through the page's process:
  the exchange moves the session to a new token in one transaction, the old key deleted.
- A code issued with a PKCE challenge (a native app's sign-in; OAuth 2.1, RFC 7636, S256) is
  traded only with the verifier whose SHA-256 it is; a code issued without one refuses a
  verifier, so a stolen code cannot be downgraded either way.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
from datetime import timedelta

from pynamodb.exceptions import UpdateError

from chalicelib import clock, db, ids, logs
from chalicelib.db import Tx
from chalicelib.errors import Unauthenticated
from chalicelib.models.sessions import Session
from chalicelib.models.tokens import HandOver
from chalicelib.schemas.identity import Exchange
from chalicelib.services.identity import auth, sessions
from chalicelib.services.identity.auth import SignedIn

TTL = timedelta(seconds=60)
# A claimed or expired code is kept a day (dead) before DynamoDB's TTL removes it.
KEEP = timedelta(days=1)


def issue(session_token: str, challenge: str | None = None) -> str:
    """A new one-time code for the session behind `session_token`, bound to a PKCE S256
    `challenge` when the app sent one. The code is shown once; only its hash is stored."""
    tx = Tx()
    code = add(tx, session_token, challenge)
    tx.commit()
    return code


def add(tx: Tx, session_token: str, challenge: str | None = None) -> str:
    """`issue`'s code written by `tx`, the change that starts the session (one round trip less
    for a page that signs in, issue #17)."""
    code = ids.new_token()
    moment = clock.now()
    tx.save(
        HandOver(
            HandOver.key_for(code),
            session_hash=ids.token_hash(session_token),
            challenge=challenge,
            created_at=moment,
            expires_at=moment + TTL,
            purge_at=moment + TTL + KEEP,
        ),
        condition=HandOver.key.does_not_exist(),
    )
    return code


def invalid_code() -> Unauthenticated:
    """The one answer for a code that is unknown, used, expired or given the wrong verifier."""
    return Unauthenticated(
        "This sign-in code is not valid: it was used already, it expired, or it belongs to "
        "another sign-in. Sign in again.",
        code="invalid_code",
    )


def exchange(req: Exchange) -> SignedIn:
    """B9: the session behind a one-time code, on a new token, answered as a sign-in is (R2):
    the token, the account it is in (null while the person must choose) and their accounts."""
    found = _claim(req.code)
    if found is None or not _verifier_fits(found.challenge, req.code_verifier):
        raise invalid_code()
    session = db.get(Session, found.session_hash)
    if session is None or session.expires_at <= clock.now():
        raise invalid_code()
    token = ids.new_token()
    kept = {name: value for name, value in session.attribute_values.items() if name != "token_hash"}
    moved = Session(ids.token_hash(token), **kept)
    tx = Tx()
    tx.delete(session, condition=Session.token_hash.exists(), on_conflict=invalid_code)
    tx.save(moved, condition=Session.token_hash.does_not_exist())
    tx.commit()
    # What it stands on is read afresh like any request's, the account Queries beside it
    # (issue #17): an account archived or shut since the page ends it (R37).
    result = auth.me(sessions.standing(moved, auth.me_reads))
    logs.event("identity.handed_over", identity_id=result.identity.id)
    return dataclasses.replace(result, token=token)


def _claim(code: str) -> HandOver | None:
    """The code's record, claimed by this request, or None when it is unknown, claimed before
    or expired: one UpdateItem whose condition lets exactly one request through (R52)."""
    moment = clock.now()
    found = HandOver(HandOver.key_for(code))
    try:
        found.update(  # answers the item as claimed: its session and challenge
            [HandOver.claimed_at.set(moment)],
            condition=HandOver.key.exists()
            & HandOver.claimed_at.does_not_exist()
            & (HandOver.expires_at > moment),
        )
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise
    return found


def challenge_of(verifier: str) -> str:
    """RFC 7636 S256: BASE64URL(SHA256(verifier)), without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _verifier_fits(challenge: str | None, verifier: str | None) -> bool:
    if challenge is None:
        return verifier is None
    return verifier is not None and hmac.compare_digest(challenge_of(verifier), challenge)
