"""Addresses no email goes to (R54): SES reported a permanent bounce or a complaint.

A suppression is one item keyed by the normalized address, so the worker reads it by key;
it stops every organization's emails to that address (a bounce is the mailbox's, not the
practice's) until the staff of a practice that may see it clear it. A practice sees an
address its own emails went to (the record names it) or one of its clients' addresses, and
no other (R4): an address's history at other practices is not theirs to learn.
"""

from __future__ import annotations

import re

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from chalicelib import clock, db, logs
from chalicelib.db import Tx
from chalicelib.errors import NotFound
from chalicelib.models.emails import SuppressedAddress
from chalicelib.models.profiles import OrgEmailClaim
from chalicelib.rules.actors import Actor, provider_ref
from chalicelib.schemas.common import normalize_email
from chalicelib.services import access, audit

BOUNCED = "bounced"
COMPLAINED = "complained"


def key_of(address: str) -> str:
    """The one form an address is suppressed under: as stored everywhere (R1's normal form);
    an address SES reports that no validator accepts is still lower-cased and stripped."""
    try:
        return SuppressedAddress.key_for(normalize_email(address))
    except ValueError:
        return SuppressedAddress.key_for(address.strip().lower())


_PLAIN = re.compile(r"^[a-z0-9.+_-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$")


def key_of_stored(address: str) -> str:
    """`key_of` for an address Portico stored (a job's, a profile's): in R1's normal form
    already when it is plain lower-case ASCII, which skips the validator (issue #17: the worker
    reads the suppression of every email it sends); any other form is normalized."""
    if _PLAIN.match(address):
        return SuppressedAddress.key_for(address)
    return key_of(address)


def reason_for(address: str) -> str | None:
    """Why the worker must not send to `address` (`bounced`, `complained`), or None."""
    found = db.get(SuppressedAddress, key_of(address))
    return found.reason if found else None


def mark(address: str, reason: str, org_id: str | None, job_id: str | None) -> None:
    """Suppress `address` (SES's feedback, R54): one UpdateItem that makes or refreshes the
    suppression, adding the practice whose email it was to those that see it."""
    key = key_of(address)
    actions: list[Action] = [
        SuppressedAddress.address.set(key.partition("#")[2]),
        SuppressedAddress.reason.set(reason),
        SuppressedAddress.at.set(clock.now()),
    ]
    if job_id:
        actions.append(SuppressedAddress.reported_job_id.set(job_id))
    if org_id:
        actions.append(SuppressedAddress.org_ids.add({org_id}))
    SuppressedAddress(key).update(actions=actions)
    logs.event("email.address_suppressed", reason=reason, org_id=org_id, job_id=job_id)


def stopped(address: str, org_id: str) -> None:
    """A practice's email was stopped by the suppression: its staff may see and clear it. If
    staff cleared it meanwhile there is nothing to add to (the email stays suppressed: it was
    decided under the suppression)."""
    try:
        SuppressedAddress(key_of(address)).update(
            actions=[SuppressedAddress.org_ids.add({org_id})],
            condition=SuppressedAddress.key.exists(),
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise


def _visible(actor: Actor, org_id: str, email: str) -> SuppressedAddress:
    access.staff_of(actor, org_id)
    found = db.get(SuppressedAddress, key_of(email))
    if found is None:
        raise _not_suppressed()
    if org_id not in (found.org_ids or set()) and not _a_client_address(org_id, found.address):
        raise _not_suppressed()  # R4: what only other practices' emails learned is not shown
    return found


def _a_client_address(org_id: str, address: str) -> bool:
    claim = db.get(OrgEmailClaim, org_id, OrgEmailClaim.key_for(address))
    return claim is not None and bool(claim.client_ids)


def _not_suppressed() -> NotFound:
    return NotFound("This address is not suppressed.", code="address_not_suppressed")


def get(actor: Actor, org_id: str, email: str) -> SuppressedAddress:
    return _visible(actor, org_id, email)


def clear(actor: Actor, org_id: str, email: str) -> None:
    """Staff clear a suppression: every practice's emails go to the address again (R54)."""
    provider = access.staff_of(actor, org_id)
    found = _visible(actor, org_id, email)
    tx = Tx()
    tx.delete(found, condition=SuppressedAddress.key.exists())
    audit.record(
        tx,
        org_id=org_id,
        action="suppressed_address.cleared",
        actor=provider_ref(provider.provider_id),
        details={"reason": found.reason},
    )
    tx.commit()
    logs.event("email.address_cleared", org_id=org_id)
