"""The organization's audit log as its staff read it (R47, B6): newest first, one Query."""

from __future__ import annotations

from chalicelib import paging
from chalicelib.models.audit import AuditEvent
from chalicelib.rules.actors import Actor
from chalicelib.schemas.audit import AuditQuery
from chalicelib.services import access


def audit_events(actor: Actor, org_id: str, q: AuditQuery) -> tuple[list[AuditEvent], str | None]:
    """R47: the organization's audit log for its staff, newest first; one client's with
    `client_id`. One Query on the table or its index."""
    access.may(actor, org_id)
    if q.client_id:
        subject = AuditEvent.subject_for(org_id, q.client_id)
        start = paging.decode(q.cursor, {"subject", "sk"}, {"subject": subject})
        return paging.page(
            lambda key: AuditEvent.query(
                subject, scan_index_forward=False, limit=q.limit, last_evaluated_key=key
            ),
            start,
        )
    start = paging.decode(q.cursor, {"subject", "sk", "org_id"}, {"org_id": org_id})
    return paging.page(
        lambda key: AuditEvent.by_org.query(
            org_id, scan_index_forward=False, limit=q.limit, last_evaluated_key=key
        ),
        start,
    )
