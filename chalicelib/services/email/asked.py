"""Emails a public form asked for about an address (R20, R22, R51): the worker's half.

`POST /v1/auth/password-reset` and `POST /v1/auth/otp` do the same for every address: they
count the attempt and queue a job naming the address (outbox.queue_asked), and answer 202.
Only here, where no one outside can see or time it, is the address looked up: a login gets its
new link or code, made now and put only into the email it goes out in (the job keeps the
token's hash, R53), and the job is filed under the login's organization (R9, R43); an address
with nothing to send is suppressed, in no organization's log.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.db import Tx
from chalicelib.models.emails import EmailJob
from chalicelib.models.identities import Identity
from chalicelib.services.identity import identities
from chalicelib.services.invites import passcodes, resets

Prepare = Callable[[Tx, Identity], tuple[str, dict[str, object]] | None]
PREPARE: dict[str, Prepare] = {
    "password_reset": resets.prepare_asked,
    "otp_code": passcodes.prepare_asked,
}
# What the worker may keep of a prepared context: never the link or the code themselves.
KEPT = ("hours", "minutes", "token_hash")


def is_asked(job: EmailJob) -> bool:
    return bool(job.context.get("asked"))


def prepare(job: EmailJob, claim: str) -> dict[str, Any] | None:
    """Find the login of the job's address and make what its email carries, in one
    transaction that also files the job under the login's organization (under this worker's
    claim); the context to render. None when there is nothing to send. Every delivery of the
    job makes a new link or code (the older dies, R13), so none is ever stored."""
    identity = identities.find_by_email(job.to) if job.to else None
    tx = Tx()
    made = PREPARE[job.kind](tx, identity) if identity is not None else None
    if identity is None or made is None:
        return None
    org_id, context = made
    kept = {"asked": True, **{k: v for k, v in context.items() if k in KEPT}}
    tx.update(
        job,
        [
            EmailJob.org_id.set(org_id),
            EmailJob.identity_id.set(identity.id),
            EmailJob.context.set(kept),
        ],
        condition=EmailJob.claim == claim,
    )
    tx.commit()
    job.org_id, job.identity_id, job.context = org_id, identity.id, kept
    return {**context, "asked": True}
