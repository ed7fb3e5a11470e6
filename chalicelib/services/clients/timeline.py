"""A client's timeline (B10): every invite with its status, every email with its outcome and
every audit event about the client, newest first, in pages.

Three sources, each already in time order in its own partition (the invite tokens of the
client's invite subject, the client's emails, the client's audit events): a page is one Query
of each, merged, and the cursor keeps each source's place (paging.merged), so nothing is
skipped or shown twice however the three interleave, and a page costs the same whatever the
client's history or the practice's size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chalicelib import clock, paging
from chalicelib.models.audit import AuditEvent
from chalicelib.models.emails import EmailJob
from chalicelib.models.tokens import Token
from chalicelib.rules.actors import Actor
from chalicelib.schemas.common import PageQuery
from chalicelib.services import access, records
from chalicelib.services.invites import invites
from chalicelib.services.invites.invites import InviteOutcome

Record = Token | EmailJob | AuditEvent


@dataclass(frozen=True)
class Event:
    """One line of the timeline: an invite (with what became of it), an email or an audit event."""

    type: str  # "invite" | "email" | "audit"
    at: datetime
    record: Record
    invite: InviteOutcome | None = None


def timeline(
    actor: Actor, org_id: str, client_id: str, q: PageQuery
) -> tuple[list[Event], str | None]:
    """B10: the client's invites, emails and audit events, newest first. Another practice's
    client answers as a missing one (R4)."""
    access.staff_of(actor, org_id)
    profile = records.client(org_id, client_id)
    invite_subject = invites.subject_for(org_id, client_id)
    org_client = f"{org_id}#{client_id}"
    audit_subject = AuditEvent.subject_for(org_id, client_id)
    sources: list[paging.Source[Record]] = [
        paging.Source(
            name="invites",
            read=lambda key, size: Token.by_subject.query(
                invite_subject, scan_index_forward=False, limit=size, last_evaluated_key=key
            ),
            key_names=frozenset({"subject", "created_at", "token_hash"}),
            partition={"subject": invite_subject},
        ),
        paging.Source(
            name="emails",
            read=lambda key, size: EmailJob.by_client.query(
                org_client, scan_index_forward=False, limit=size, last_evaluated_key=key
            ),
            key_names=frozenset({"org_client", "created_at", "job_id"}),
            partition={"org_client": org_client},
        ),
        paging.Source(
            name="audit",
            read=lambda key, size: AuditEvent.query(
                audit_subject,
                scan_index_forward=False,
                consistent_read=True,
                limit=size,
                last_evaluated_key=key,
            ),
            key_names=frozenset({"subject", "sk"}),
            partition={"subject": audit_subject},
        ),
    ]
    found, cursor = paging.merged(sources, q.cursor, q.limit, order=_moment, descending=True)
    events = []
    for record in found:
        if isinstance(record, Token):
            events.append(
                Event("invite", record.created_at, record, invites.outcome_of(profile, record))
            )
        elif isinstance(record, EmailJob):
            events.append(Event("email", record.created_at, record))
        else:
            events.append(Event("audit", record.at, record))
    return events, cursor


def _moment(record: Record) -> str:
    """The order of the merge: each source's own order, to the second (an audit event's key
    orders events within one second by id, not by time; the contract's times are seconds)."""
    return clock.iso(record.at if isinstance(record, AuditEvent) else record.created_at)
