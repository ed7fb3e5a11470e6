"""Emails a public form asked for about an address (R20, R22, R51): the worker's half.

`POST /v1/auth/password-reset` and `POST /v1/auth/otp` do the same for every address: they
count the attempt, make the link or code for the address and queue its job (outbox.queue_asked,
in no organization's log), and answer 202. Only here, where no one outside can see or time it,
is the address looked up: a job whose address has a login that may receive it is filed under
that login and its organization (R9, R43) and sent as any other; else it is suppressed, and
its link or code ends unused. The worker reads, and writes only the job (its role's rule).
"""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.db import Tx
from chalicelib.models.emails import EmailJob
from chalicelib.models.identities import Identity
from chalicelib.services.identity import identities
from chalicelib.services.invites import passcodes, resets

# Per kind: the organization the email of a login is filed under, or None: nothing to send.
ORG_OF: dict[str, Callable[[Identity], str | None]] = {
    "password_reset": resets.asked_org,
    "otp_code": passcodes.asked_org,
}


def is_asked(job: EmailJob) -> bool:
    return job.identity_id is None and bool(job.context.get("asked"))


def address(job: EmailJob, claim: str) -> bool:
    """File the job under the login of its address and that login's organization, under this
    worker's claim; False when there is nothing to send (no login, or none that may use it)."""
    identity = identities.find_by_email(job.to) if job.to else None
    org_id = ORG_OF[job.kind](identity) if identity is not None else None
    if identity is None or org_id is None:
        return False
    tx = Tx()
    tx.update(
        job,
        [EmailJob.org_id.set(org_id), EmailJob.identity_id.set(identity.id)],
        condition=EmailJob.claim == claim,
    )
    tx.commit()
    job.org_id, job.identity_id = org_id, identity.id
    return True
