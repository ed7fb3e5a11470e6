"""Identities: one login per email (R1), found or created inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from chalicelib import clock, db, ids
from chalicelib.db import Tx
from chalicelib.errors import Conflict, PorticoError
from chalicelib.models.identities import EmailClaim, Identity
from chalicelib.services import tokens
from chalicelib.services.identity import passwords

T = TypeVar("T")


class EmailClaimedMeanwhile(Conflict):
    """Another request created the identity of this email between our read and our write."""

    code = "concurrent_change"

    def __init__(self) -> None:
        super().__init__("Another request used this email at the same time; try again.")


def find_by_email(email: str) -> Identity | None:
    """The identity of a normalized email, if any: two reads, whatever the data size."""
    claim = claim_of(email)
    return db.get(Identity, claim.identity_id) if claim else None


def claim_of(email: str) -> EmailClaim | None:
    """Which identity a normalized email belongs to (R1), if any: one read."""
    return db.get(EmailClaim, EmailClaim.key_for(email))


def get(identity_id: str) -> Identity | None:
    return db.get(Identity, identity_id)


def find_or_add(tx: Tx, email: str, *, first_org_id: str | None) -> tuple[Identity, bool]:
    """The identity of `email`, or a new one written by `tx` with its email claim (R1).

    A new identity's last organization is the one whose profile or membership created it (R3).
    Two requests racing on one new email both reach the claim's condition; the loser's
    transaction fails whole with EmailClaimedMeanwhile, and `db.run(retry_on=...)` runs it again,
    now finding the winner's identity.
    """
    existing = find_by_email(email)
    if existing is not None:
        return existing, False
    return add(tx, email, first_org_id=first_org_id), True


def claim_or_add(tx: Tx, email: str, *, first_org_id: str) -> tuple[str, Identity | None]:
    """The id of `email`'s identity, and the new identity when `tx` creates it (R1): for a
    profile that needs the login's id only (a client added or given an email).

    R4: an address with a login elsewhere costs what a new one does, so staff cannot time it:
    one GetItem (the email claim) and two items in the caller's transaction, here the new
    login and its claim, or the claim checked as read (the caller checks the login's staff
    claim, the second item).
    """
    key = EmailClaim.key_for(email)
    claim = db.get(EmailClaim, key)
    if claim is None:
        identity = add(tx, email, first_org_id=first_org_id)
        return identity.id, identity
    tx.check(
        EmailClaim,
        key,
        None,
        condition=EmailClaim.identity_id == claim.identity_id,
        on_conflict=EmailClaimedMeanwhile,
    )
    return claim.identity_id, None


def add(tx: Tx, email: str, *, first_org_id: str | None) -> Identity:
    """A new identity of `email`, written by `tx` with its email claim (R1); for callers that
    looked the email up already (a CSV import reads every row's claim in one batch)."""
    moment = clock.now()
    identity = Identity(
        ids.new_id("id"),
        email=email,
        last_org_id=first_org_id,
        created_at=moment,
        updated_at=moment,
    )
    tx.save(identity, condition=Identity.id.does_not_exist())
    tx.save(
        EmailClaim(EmailClaim.key_for(email), identity_id=identity.id),
        condition=EmailClaim.key.does_not_exist(),  # R1: an email belongs to one identity
        on_conflict=EmailClaimedMeanwhile,
    )
    return identity


# Passwords and the mailbox (R8, R13, R20, R46, R50) -----------------------------------------


def reset_subject(email: str) -> str:
    """The subject of an address's reset links (R20): a newer one kills the older (R13). By
    the address, not the login: a link asked for on a public form is made before anyone looks
    up whose the address is, the same for every address (R51); an address is one login (R1)."""
    return f"reset#{email}"


def passcode_subject(email: str) -> str:
    """The subject of an address's one-time passcodes (R22), by the address as resets are."""
    return f"otp#{email}"


def password_link_subjects(identity: Identity) -> list[str]:
    """The subjects of the links a password set ends (R13, R20, R22): its resets, passcodes."""
    return [reset_subject(identity.email), passcode_subject(identity.email)]


def password_orgs(identity: Identity) -> set[str] | None:
    """R50: the organizations whose accounts the login's password opens: only the one where an
    unproven password was set or chosen; None (all of them) once the mailbox is proven."""
    return {identity.password_org_id} if identity.password_org_id else None


def asks_current_password(identity: Identity) -> bool:
    """R15, R49, R50: whether a link's page asks for the login's current password (a proven
    one) rather than letting the owner choose one (none yet, or an unproven one, set by staff
    or chosen at a sign-up, perhaps by a stranger: the link proves the mailbox)."""
    return bool(identity.password_hash) and identity.password_org_id is None


def password_matches(identity: Identity | None, password: str, *, in_org: str | None) -> bool:
    """Whether `password` is the login's and opens `in_org`'s accounts (R45, R50); `in_org`
    None asks about the password alone (a sign-in, whose session `password_orgs` bounds).
    Always one Argon2 verification, login or none (R45, R51)."""
    verified = passwords.verify(identity.password_hash if identity else None, password)
    if not verified or identity is None:
        return False
    opens = password_orgs(identity)
    return in_org is None or opens is None or in_org in opens


def choose_password(
    new_identity: Identity, password_hash: str, *, org_id: str, mailbox_proven: bool = False
) -> None:
    """A password chosen at a sign-up with the login it creates (a practice sign-up, a group
    link): nothing proves the mailbox yet, so it opens only `org_id`'s accounts (R50), unless
    the sign-up is finished by a link sent to the address (`mailbox_proven`: a group sign-up's
    confirmation, R16, R51), which proves it. The identity is one `add` put in the caller's
    transaction, written at its commit."""
    new_identity.password_hash = password_hash
    new_identity.password_org_id = None if mailbox_proven else org_id


def set_unproven_password(
    tx: Tx,
    identity: Identity,
    password_hash: str,
    *,
    org_id: str,
    condition: Condition | None = None,
    on_conflict: Callable[[], PorticoError] | None = None,
) -> None:
    """R8: staff of `org_id` set the login's password: it opens only that organization's
    accounts until the owner proves the mailbox (R50)."""
    _set_password(
        tx,
        identity,
        password_hash,
        unproven_in=org_id,
        condition=condition,
        on_conflict=on_conflict,
    )


def prove_mailbox(
    tx: Tx,
    identity: Identity,
    *,
    password_hash: str | None,
    keep_token: str | None = None,
    also: list[Action] | None = None,
) -> None:
    """R50: the login's owner used a link sent to its address (an invite, a staff invite, a
    reset, a caregiver invite, a group sign-up's confirmation). Every such redemption calls
    this, in the transaction that consumes the link.

    With `password_hash`, the password the owner chose on the link's page becomes the login's,
    proven. Without, the page verified the current password (a proven one: pages ask for a new
    password when it is unproven): proving makes it the owner's. `keep_token` is the link's own
    token, consumed by the same change; `also` adds other changes of the identity.

    A one-time passcode (R22) proves the mailbox for the session it opens only, and does not
    call this: its holder never showed the current password, which may be a stranger's (R8).
    """
    if password_hash is not None:
        _set_password(
            tx, identity, password_hash, unproven_in=None, keep_token=keep_token, also=also
        )
        return
    changes = list(also or [])
    if identity.password_org_id is not None:
        identity.password_org_id = None
        changes.append(Identity.password_org_id.remove())
    if changes:
        tx.update(identity, changes)


def _set_password(
    tx: Tx,
    identity: Identity,
    password_hash: str,
    *,
    unproven_in: str | None,
    keep_token: str | None = None,
    condition: Condition | None = None,
    on_conflict: Callable[[], PorticoError] | None = None,
    also: list[Action] | None = None,
) -> None:
    """The one way a login's password changes, in `tx`:
    - its epoch moves, so every older session ends (R46); the identity's local epoch moves
      too, so a session started in the same `tx` survives;
    - its outstanding reset links and passcodes die (R13, R20, R22): a password set another
      way (R8, an invite) must not leave an older way in open. `keep_token` is a token the
      same change consumes (the reset link being used);
    - `unproven_in` names the organization an unproven password opens (R50), None when a link
      to the mailbox proved it.
    `also` adds other changes of the identity (one transaction may write an item once).
    """
    tokens.supersede(tx, password_link_subjects(identity), keep=keep_token)
    identity.session_epoch += 1
    identity.password_hash = password_hash
    identity.password_org_id = unproven_in
    identity.updated_at = clock.now()
    tx.update(
        identity,
        [
            Identity.password_hash.set(password_hash),
            Identity.password_org_id.set(unproven_in)
            if unproven_in
            else Identity.password_org_id.remove(),
            Identity.session_epoch.set(identity.session_epoch),
            Identity.updated_at.set(identity.updated_at),
            *(also or []),
        ],
        condition=condition,
        on_conflict=on_conflict,
    )
