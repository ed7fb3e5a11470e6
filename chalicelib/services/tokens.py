"""Secret links and codes (R13, R20, R22, R30): issue, read, consume, revoke.

A token is random (256 bits), shown once and stored only as its SHA-256. Its subject's
`LiveToken` pointer names the one live token: issuing writes the new token, moves the pointer
and ends the old token in one transaction, so the older link dies the moment the newer one
exists. Consuming ends the token under the condition that it is still live, in the caller's
transaction, so two tabs redeeming one link end with exactly one success.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pynamodb.expressions.update import Action

from chalicelib import clock, db, ids
from chalicelib.db import Tx
from chalicelib.errors import Conflict
from chalicelib.models.tokens import LiveToken, Token, TokenStatus

# Ended tokens are kept this long after they expire, so an old link still says why it is dead.
KEEP_AFTER_EXPIRY = timedelta(days=90)


@dataclass(frozen=True)
class Issued:
    secret: str  # goes into the link or email once; never stored, never logged (R48)
    token: Token


def status_of(token: Token, now: datetime | None = None) -> str:
    """live, used, superseded, revoked, or expired (a live token past its time, B1)."""
    if token.status == TokenStatus.LIVE and token.expires_at <= (now or clock.now()):
        return TokenStatus.EXPIRED
    return token.status


def live(subject: str) -> Token | None:
    """The subject's live token, if one is live and unexpired."""
    pointer = db.get(LiveToken, LiveToken.key_for(subject))
    if pointer is None:
        return None
    token = db.get(Token, pointer.live_hash)
    return token if token is not None and status_of(token) == TokenStatus.LIVE else None


def addressed_to(token: Token, identity_id: str | None) -> bool:
    """R53: a link works only for the login it was sent to. When the email behind it changes
    (the profile or the caregiver moves to another identity, R5, R19), the link dies: it never
    sets a password nor binds a grant for the address that replaced it. A login's own email
    never changes, so the identity is the address the link went to."""
    return token.identity_id is not None and token.identity_id == identity_id


def newest(subject: str) -> Token | None:
    """The subject's newest token, whatever became of it (B1: its status is the subject's)."""
    pointer = db.get(LiveToken, LiveToken.key_for(subject))
    return db.get(Token, pointer.live_hash) if pointer is not None else None


def find(secret: str, kind: str) -> Token | None:
    """The token behind a secret from a link, of this kind, whatever its status; else None."""
    if not secret or len(secret) > 200:
        return None
    token = db.get(Token, ids.token_hash(secret))
    return token if token is not None and token.kind == kind else None


def issue(
    tx: Tx,
    kind: str,
    subject: str,
    *,
    ttl: timedelta,
    org_id: str | None = None,
    client_id: str | None = None,
    identity_id: str | None = None,
    data: dict[str, object] | None = None,
    secret: str | None = None,
    ending: Sequence[Action] = (),
    new_subject: bool = False,
) -> Issued:
    """Add a new live token for `subject` to `tx`; the subject's live one dies with it (R13).

    `secret` lets a caller choose the secret's form (a 6-digit code, R22); it is then hashed
    keyed and with the subject (`ids.code_hash`), so equal codes of different subjects never
    collide and a table copy cannot be searched for them. `ending` adds other
    changes to the dying token's own write. `new_subject`: the subject is created in `tx` (a
    client just added), so it has no live token to read: its pointer must not exist yet."""
    moment = clock.now()
    secret = secret or ids.new_token()
    key = ids.code_hash(subject, secret) if kind == "otp" else ids.token_hash(secret)
    token = Token(
        key,
        kind=kind,
        subject=subject,
        org_id=org_id,
        client_id=client_id,
        identity_id=identity_id,
        data=data or {},
        created_at=moment,
        expires_at=moment + ttl,
        purge_at=moment + ttl + KEEP_AFTER_EXPIRY,
    )
    tx.save(token, condition=Token.token_hash.does_not_exist())
    pointer = None if new_subject else db.get(LiveToken, LiveToken.key_for(subject))
    old = db.get(Token, pointer.live_hash) if pointer is not None else None
    if old is not None and status_of(old, moment) == TokenStatus.LIVE:
        # The old link dies in this transaction; if it is used meanwhile, the issue fails whole.
        _end(tx, old.token_hash, TokenStatus.SUPERSEDED, moment, on_conflict=_raced, also=ending)
    tx.save(
        LiveToken(LiveToken.key_for(subject), live_hash=key, issued_at=moment),
        # Two issues racing: the second sees the pointer moved and fails whole.
        condition=(
            LiveToken.live_hash == pointer.live_hash
            if pointer is not None
            else LiveToken.key.does_not_exist()
        ),
        on_conflict=_raced,
    )
    return Issued(secret, token)


def consume(
    tx: Tx,
    token: Token,
    on_conflict: Callable[[], Conflict] | None = None,
    *,
    also: Sequence[Action] = (),
) -> None:
    """End a live token as used, in the caller's transaction: it succeeds once (R13). `also`
    changes the token in the same write (what it kept until it was used, dropped)."""
    _end(tx, token.token_hash, TokenStatus.USED, clock.now(), on_conflict=on_conflict, also=also)


def revoke(tx: Tx, subject: str) -> Token | None:
    """End the subject's live token (B1), if it has one; returns it."""
    token = live(subject)
    if token is not None:
        _end(tx, token.token_hash, TokenStatus.REVOKED, clock.now())
    return token


def pointer_keys(subjects: list[str]) -> list[db.Key]:
    """The keys of the subjects' live pointers, to read with other records at once."""
    return [(LiveToken, LiveToken.key_for(subject), None) for subject in subjects]


def supersede(tx: Tx, subjects: list[str], *, keep: str | None = None) -> None:
    """End the subjects' live tokens as superseded in `tx`, but `keep` (a token the same
    change consumes): a password set another way kills the login's outstanding reset links
    and passcodes (R13, R20, R22). Two BatchGetItems at most, the second only if a pointer
    exists; a token used meanwhile fails the change whole."""
    found = db.get_together(pointer_keys(subjects))
    pointers = [found.of(*key) for key in pointer_keys(subjects)]
    hashes = {pointer.live_hash for pointer in pointers if isinstance(pointer, LiveToken)} - {keep}
    if not hashes:
        return
    moment = clock.now()
    for token in Token.batch_get(sorted(hashes), consistent_read=True):
        if status_of(token, moment) == TokenStatus.LIVE:
            _end(tx, token.token_hash, TokenStatus.SUPERSEDED, moment, on_conflict=_used_meanwhile)


def history(subject: str, since: datetime | None = None) -> list[Token]:
    """The subject's tokens, oldest first (B1); `since` bounds it to a recent window (R20)."""
    condition = Token.created_at >= since if since else None
    return list(Token.by_subject.query(subject, range_key_condition=condition))


def _end(
    tx: Tx,
    token_hash: str,
    status: TokenStatus,
    moment: datetime,
    on_conflict: Callable[[], Conflict] | None = None,
    also: Sequence[Action] = (),
) -> None:
    tx.update(
        Token(token_hash),
        [Token.status.set(status), Token.ended_at.set(moment), *also],
        condition=(Token.status == TokenStatus.LIVE) & (Token.expires_at > moment),
        on_conflict=on_conflict or _gone,
    )


def _raced() -> Conflict:
    return Conflict(
        "Another link was sent at the same moment; the newest one is the one that works.",
        code="concurrent_change",
    )


def _used_meanwhile() -> Conflict:
    return Conflict(
        "A link or code of this login was used at the same moment; try again.",
        code="concurrent_change",
    )


def just_used() -> Conflict:
    """A link redeemed by another tab or request between our read and our write (R13)."""
    return Conflict("This link has just been used.", code="token_not_live")


def _gone() -> Conflict:
    return Conflict("This link has already been used or has ended.", code="token_not_live")


# B2: a dead invite link asks its practice for a new one -----------------------------------------

# Why a link died, in the words of the email that tells the practice.
_DEAD_REASONS: dict[str, str] = {
    TokenStatus.EXPIRED: "it expired",
    TokenStatus.REVOKED: "it was withdrawn",
    TokenStatus.SUPERSEDED: "a newer invitation replaced it",
}


def dead_reason(reason: str | None) -> str:
    return _DEAD_REASONS.get(reason or "", "it no longer works")


class RenewalAsked(Conflict):
    """The link already asked for a new invite: nobody is told twice."""

    def __init__(self) -> None:
        super().__init__("A new invitation was already asked for with this link.")


def ask_renewal(tx: Tx, token: Token) -> None:
    """B2: the one request for a new invite that a dead link may make, in the transaction that
    tells the practice (its commit raises RenewalAsked for a second one)."""
    tx.update(
        token,
        [Token.renewal_requested_at.set(clock.now())],
        condition=Token.renewal_requested_at.does_not_exist(),
        on_conflict=RenewalAsked,
    )
