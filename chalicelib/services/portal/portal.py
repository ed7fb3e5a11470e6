"""The Client Portal (API.md "Client Portal"): what a session in a client or caregiver account
reads and writes. Every function asks `access.portal` first (R30, R33, R36, B4), and every
record read or written is the account's own profile's (R6, R32)."""

from __future__ import annotations

from chalicelib import clock, ids, logs
from chalicelib.db import Tx
from chalicelib.errors import Forbidden
from chalicelib.models.appointments import Appointment
from chalicelib.models.audit import AuditEvent
from chalicelib.models.profiles import ClientProfile
from chalicelib.models.records import PortalRecord
from chalicelib.rules.actors import Actor
from chalicelib.rules.settings import Effective
from chalicelib.schemas.portal import JournalEntry
from chalicelib.services import access, appointments, audit, chat

# R33: what the `profile` scope covers; a caregiver without it sees whose account it is
# (names and client type, which every scope needs) and not these.
PROFILE_DETAILS = ("dob", "email", "phone")


def profile(actor: Actor) -> tuple[ClientProfile, tuple[str, ...]]:
    """The account's profile and the details hidden from this session (R33)."""
    permit = access.portal(actor)
    assert permit.profile is not None
    try:
        access.portal(actor, "profile")
    except Forbidden:
        return permit.profile, PROFILE_DETAILS
    return permit.profile, ()


def settings(actor: Actor) -> Effective:
    access.portal(actor)
    assert actor.settings is not None
    return actor.settings


def journal(actor: Actor) -> list[PortalRecord]:
    permit = access.portal(actor, "journal")
    owner = PortalRecord.owner_for(permit.org_id, str(permit.client_id))
    return list(PortalRecord.query(owner, PortalRecord.sk.startswith("journal#"), limit=100))


def write_journal(actor: Actor, req: JournalEntry) -> PortalRecord:
    """R6: the entry belongs to the account's one profile; a caregiver writes it as themselves
    on the care receiver's behalf, and that is audited (R30, R47)."""
    permit = access.portal(actor, "journal")
    moment = clock.now()
    record_id = ids.new_id("jr")
    entry = PortalRecord(
        PortalRecord.owner_for(permit.org_id, str(permit.client_id)),
        PortalRecord.sk_for("journal", clock.iso(moment), record_id),
        record_id=record_id,
        kind="journal",
        org_id=permit.org_id,
        client_id=permit.client_id,
        author=permit.actor,
        on_behalf_of=permit.on_behalf_of,
        text=req.text,
        created_at=moment,
    )
    tx = Tx()
    tx.save(entry, condition=PortalRecord.sk.does_not_exist())
    if permit.on_behalf_of:
        audit.record(
            tx,
            org_id=permit.org_id,
            action="journal.written",
            actor=permit.actor,
            client_id=permit.client_id,
            on_behalf_of=permit.on_behalf_of,
            details={"record_id": record_id},
        )
    tx.commit()
    logs.event("journal.written", org_id=permit.org_id, client_id=permit.client_id)
    return entry


def appointments_of(actor: Actor) -> list[Appointment]:
    permit = access.portal(actor, "appointments")
    return appointments.of_client(permit.org_id, str(permit.client_id))


def chat_messages(actor: Actor) -> list[PortalRecord]:
    permit = access.portal(actor, "chat")
    assert permit.profile is not None
    return chat.messages(permit.profile)


def access_log(actor: Actor, limit: int = 100) -> list[AuditEvent]:
    """B6: who entered this account on its behalf, and what they did there, newest first.
    Only the account's own client sees it."""
    permit = access.portal(actor, holder_only=True)
    subject = AuditEvent.subject_for(permit.org_id, permit.client_id)
    return list(AuditEvent.on_behalf.query(subject, scan_index_forward=False, limit=limit))
