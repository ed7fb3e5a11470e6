"""Copies of a client's emails for its copy holders (R29, R34, R36).

When the worker has decided that a client's email is sent (not suppressed), it adds one child
job per copy holder: contacts with `notify` and linked clients whose link (made on this client)
has `notify`, as the client's profile summarises them (services/families/holders.py). Each
child's id is derived from the parent's and the holder's, written under a `does_not_exist`
condition in one transaction, so a parent delivered twice adds nothing twice
(R41). A child is claimed and sent once like any job; it re-checks the client (a notification
suppressed for the client is suppressed for its copies) and the holder (removed, or no longer
wanting copies) when it is delivered.
"""

from __future__ import annotations

import contextlib
from typing import Any

from chalicelib import db, logs
from chalicelib.db import Tx
from chalicelib.errors import Conflict
from chalicelib.models.emails import OPEN, EmailJob
from chalicelib.models.links import Contact, Link, owner_for
from chalicelib.models.profiles import ClientProfile, ProfileStatus
from chalicelib.rules.accounts import ClosedReason
from chalicelib.services import outbox
from chalicelib.services.families import holders


class _AlreadyCopied(Conflict):
    def __init__(self) -> None:
        super().__init__("The copies of this email exist already.")


def _holders(org_id: str, client: ClientProfile) -> list[tuple[str, str, str]]:
    """(holder ref, address, first name) of each copy holder: from the client's summary
    (services/families/holders.py), with one BatchGetItem for linked clients' addresses when
    any is a holder. A client stored before the summary existed: two Queries on its partition."""
    contacts: list[tuple[str, str, str]] = []
    linked: list[tuple[str, str]] = []  # (holder ref, linked client id)
    if client.copy_holders is None:
        for item in _partition(owner_for(org_id, client.client_id)):
            if (entry := holders.entry_of(item)) is not None:
                if isinstance(item, Contact):
                    contacts.append((holders.ref_of(item), entry["email"], entry["first_name"]))
                else:
                    linked.append((holders.ref_of(item), entry["client_id"]))
    else:
        for ref, entry in sorted(client.copy_holders.items()):
            if ref.startswith("contact:"):
                contacts.append((ref, entry["email"], entry["first_name"]))
            else:
                linked.append((ref, entry["client_id"]))
    if linked:
        found = db.get_together([(ClientProfile, org_id, client_id) for _, client_id in linked])
        for ref, client_id in linked:
            profile = found.of(ClientProfile, org_id, client_id)
            if profile is not None and profile.status == ProfileStatus.ACTIVE and profile.email:
                contacts.append((ref, profile.email, profile.first_name))
    return contacts


def _partition(owner: str) -> list[Contact | Link]:
    """Contacts and links of one profile: two Queries on its partition."""
    contacts = Contact.query(owner, Contact.sk.startswith("contact#"), consistent_read=True)
    links = Link.query(owner, Link.sk.startswith("link#"), consistent_read=True)
    return [*contacts, *links]


def queue_for(parent: EmailJob, client: ClientProfile | None) -> int:
    """Add and dispatch the copies of a client's email that is being sent (R29); `client` is
    the profile the worker read with the job."""
    if parent.client_id is None or client is None:
        return 0
    found = _holders(parent.org_id, client)
    if not found:
        return 0
    client_name = (parent.context.get("client") or {}).get("first_name")
    jobs = []
    tx = Tx()
    for holder, address, first_name in found:
        context: dict[str, Any] = {
            **parent.context,
            "copy_of": {"holder_first_name": first_name, "client_first_name": client_name},
        }
        job = outbox.new_job(
            tx,
            org_id=parent.org_id,
            kind=parent.kind,
            client_id=parent.client_id,
            job_id=f"{parent.job_id}.{holder.partition(':')[2]}",
            on_conflict=_AlreadyCopied,
            to=address,
            context=context,
            copy_of=parent.job_id,
            copy_holder=holder,
            open_shard=OPEN,
        )
        jobs.append(job)
    # A redelivery finds the copies written: sending them again is harmless (claimed once).
    with contextlib.suppress(_AlreadyCopied):
        tx.commit()
    outbox.dispatch(jobs)
    logs.event("email.copies", job_id=parent.job_id, org_id=parent.org_id, copies=len(jobs))
    return len(jobs)


def holder_key(job: EmailJob) -> db.Key | None:
    """The key of a copy's holder (its contact or link), for the worker's one read."""
    kind, _, holder_id = (job.copy_holder or "").partition(":")
    owner = owner_for(job.org_id, job.client_id or "")
    if kind == "contact":
        return (Contact, owner, Contact.sk_for(holder_id))
    if kind == "link":
        return (Link, owner, Link.sk_for(holder_id))
    return None


def holder_address(job: EmailJob, holder: Contact | Link | None) -> tuple[str | None, str | None]:
    """Where a copy goes now, or why it is suppressed: its holder (read with the job, at
    `holder_key`) removed or not wanting copies any more, or a linked client archived or
    without email."""
    if isinstance(holder, Contact):
        if not holder.notify or not holder.email:
            return job.to, "copy_holder_removed"
        return holder.email, None
    if holder is None or not holder.notify:
        return job.to, "copy_holder_removed"
    profile = db.get(ClientProfile, job.org_id, holder.linked_client_id)
    if profile is None or profile.status != ProfileStatus.ACTIVE:
        return job.to, ClosedReason.ARCHIVED
    if not profile.email:
        return None, "no_email"
    return profile.email, None
